package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/query"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func period(t *testing.T, from, to string) query.Period {
	t.Helper()
	f, _ := time.Parse(time.DateOnly, from)
	l, _ := time.Parse(time.DateOnly, to)
	p, err := query.Days(f, l)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func cc(country string, n uint64) query.CountryCount {
	return query.CountryCount{Country: country, Messages: n}
}

func TestWriteTextGolden(t *testing.T) {
	cur := query.SharesOf(period(t, "2005-04-01", "2005-09-30"), []query.CountryCount{
		cc("US", 265), cc("CN", 223), cc("KR", 97), cc("FR", 50), cc("JP", 20), cc("PL", 20), cc("ZZ", 5), cc("AT", 3),
	})
	prev := query.SharesOf(period(t, "2004-04-01", "2004-09-30"), []query.CountryCount{
		cc("US", 415), cc("KR", 154), cc("CN", 116), cc("JP", 29), cc("DE", 13), cc("FR", 12),
	})
	for name, table := range map[string]query.Table{
		"compare.txt": query.Compare(cur, &prev, 6),
		"single.txt":  query.Compare(cur, nil, 3),
		"empty.txt":   query.Compare(query.SharesOf(period(t, "2006-01-01", "2006-01-31"), nil), nil, 12),
	} {
		var b bytes.Buffer
		if err := WriteText(&b, table); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs from the golden file (go test ./report -update rewrites it):\n%s", name, b.String())
		}
	}
}

func TestHeadline(t *testing.T) {
	cur := query.SharesOf(period(t, "2005-04-01", "2005-09-30"), []query.CountryCount{cc("US", 265), cc("CN", 223), cc("XX", 512)})
	prev := query.SharesOf(period(t, "2004-04-01", "2004-09-30"), []query.CountryCount{cc("US", 415), cc("KR", 585)})
	want := "Between 1 April 2005 and 30 September 2005 the United States relayed 26.5% of the spam caught by our traps, down from 41.5% a year earlier; China was second with 22.3%."
	if got := Headline(query.Compare(cur, &prev, 2)); got != want {
		t.Errorf("Headline =\n%q\nwant\n%q", got, want)
	}
	other := query.SharesOf(period(t, "2005-01-01", "2005-03-31"), []query.CountryCount{cc("US", 100)})
	if got := Headline(query.Compare(cur, &other, 2)); !bytes.Contains([]byte(got), []byte("down from 100% in 2005-01-01..2005-03-31")) {
		t.Errorf("Headline against an arbitrary period = %q", got)
	}
}
