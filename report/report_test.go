package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/query"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func period(t *testing.T, s string) query.Period {
	t.Helper()
	p, err := query.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func counts(p query.Period, g query.Grouping, sources uint64, groups ...query.Count) query.Counts {
	c := query.Counts{Period: p, Grouping: g, Groups: groups, Total: query.Count{Sources: sources}}
	for _, gr := range groups {
		c.Total.Messages += gr.Messages
	}
	return c
}

func cc(key string, n, sources uint64) query.Count {
	return query.Count{Key: key, Messages: n, Sources: sources}
}

// spread adds small countries of n messages each until the groups total 10,000.
func spread(groups []query.Count, n uint64) []query.Count {
	var sum uint64
	for _, g := range groups {
		sum += g.Messages
	}
	small := []string{"AT", "BR", "ES", "DE", "IT", "RU", "IN", "TR", "RO", "NL", "AU", "SE", "MX", "GB", "AR", "VN", "TH", "UA", "ZA", "EG", "CA", "TW", "PT", "GR", "CZ"}
	for i := 0; sum < 10_000; i++ {
		m := min(n, 10_000-sum)
		groups = append(groups, cc(small[i], m, m/2))
		sum += m
	}
	return groups
}

func sampleCounts(t *testing.T) query.Counts {
	return counts(period(t, "2005-04-01..2005-09-30"), query.ByCountry, 5000, spread([]query.Count{
		cc("US", 2650, 1400), cc("CN", 2230, 1100), cc("KR", 970, 600), cc("FR", 500, 300), cc("JP", 200, 150),
		cc("PL", 200, 140), cc("ZZ", 40, 30), cc("XR", 10, 8)}, 190)...)
}

// sample is 2005H2-like traffic compared with a year earlier, with a tie, a newcomer, unknown
// and reserved sources.
func sample(t *testing.T) Report {
	prev := counts(period(t, "2004-04-01..2004-09-30"), query.ByCountry, 4000, spread([]query.Count{
		cc("US", 4150, 2000), cc("KR", 1542, 700), cc("CN", 1162, 500), cc("JP", 287, 100), cc("FR", 124, 60)}, 110)...)
	sophos, _ := query.LoadPublisher("sophos")
	return New(query.Compare(sampleCounts(t), &prev, 6), Namer{Publisher: sophos}, nil)
}

// emptyComparison is the sample's period against a comparison period without messages.
func emptyComparison(t *testing.T) Report {
	prev := counts(period(t, "2004-10-01..2005-03-31"), query.ByCountry, 0)
	return New(query.Compare(sampleCounts(t), &prev, 6), Namer{}, nil)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it):\n%s", name, got)
	}
}

func TestGoldenOutputs(t *testing.T) {
	r := sample(t)
	for _, f := range []Format{Text, Markdown, CSV, JSON} {
		var b bytes.Buffer
		if err := Write(&b, r, f); err != nil {
			t.Fatal(err)
		}
		golden(t, "sample."+string(f), b.Bytes())
		b.Reset()
		if err := Write(&b, emptyComparison(t), f); err != nil {
			t.Fatal(err)
		}
		golden(t, "empty-comparison."+string(f), b.Bytes())
	}
	var b bytes.Buffer
	empty := New(query.Compare(counts(period(t, "2006-01"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	if err := Write(&b, empty, Text); err != nil {
		t.Fatal(err)
	}
	golden(t, "empty.text", b.Bytes())
}

// Without a usable comparison (none asked for, or a comparison period without messages) no row
// carries comparison fields, in JSON, CSV or the tables; an empty comparison period is noted.
func TestNoComparison(t *testing.T) {
	none := New(query.Compare(sampleCounts(t), nil, 6), Namer{}, nil)
	for name, r := range map[string]Report{"no comparison": none, "empty comparison period": emptyComparison(t)} {
		var j, c, tx bytes.Buffer
		for f, b := range map[Format]*bytes.Buffer{JSON: &j, CSV: &c, Text: &tx} {
			if err := Write(b, r, f); err != nil {
				t.Fatal(err)
			}
		}
		var doc struct{ Rows []map[string]any }
		if err := json.Unmarshal(j.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, row := range doc.Rows {
			for _, k := range []string{"compare_rank", "compare_share_pct", "change_pp", "rank_change", "movement"} {
				if _, ok := row[k]; ok {
					t.Errorf("%s: JSON row %v has %s", name, row["code"], k)
				}
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(c.String()), "\n")[1:] {
			if !strings.HasSuffix(line, ",,,,,") {
				t.Errorf("%s: CSV row has comparison cells: %s", name, line)
			}
		}
		if strings.Contains(tx.String(), "Before") || strings.Contains(tx.String(), " pp ") {
			t.Errorf("%s: the table has comparison columns:\n%s", name, tx.String())
		}
	}
	if len(none.Notes) != 0 || none.Notes == nil {
		t.Errorf("notes without a comparison: %#v", none.Notes)
	}
	if got := emptyComparison(t).Notes; len(got) != 1 || got[0] != "Our traps caught no spam between October 2004 and March 2005, the comparison period: no changes are shown." {
		t.Errorf("notes with an empty comparison period: %q", got)
	}
	empty := New(query.Compare(counts(period(t, "2003"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	var b bytes.Buffer
	if err := Write(&b, empty, JSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"rows": [],`) {
		t.Errorf("an empty period's rows are not an empty array:\n%s", b.String())
	}
}

// The remainder row is named for the grouping, and absent with its sources when the top rows
// hold every group (continents: approximate unique counts left 0.15% of sources to a row of 0
// messages).
func TestRemainder(t *testing.T) {
	all := counts(period(t, "2005"), query.ByContinent, 1000, cc("AS", 60, 500), cc("NA", 40, 480))
	if r := New(query.Compare(all, nil, 12), Namer{}, nil); len(r.Rows) != 2 {
		t.Errorf("every continent listed: %+v", r.Rows)
	}
	for g, want := range map[query.Grouping]string{query.ByContinent: "All other continents", query.ByASN: "All other networks", query.ByTrap: "All other traps", query.ByCountry: "All other countries"} {
		c := counts(period(t, "2005"), g, 1000, cc("1", 60, 500), cc("2", 40, 480))
		if r := New(query.Compare(c, nil, 1), Namer{}, nil); r.Rows[1].Name != want || r.Rows[1].Sources != 500 {
			t.Errorf("%s: the remainder is %+v, want %s", g, r.Rows[1], want)
		}
	}
}

// The CSV movement column tells a newcomer from an unchanged rank, which rank_change 0 did not.
func TestCSVMovement(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample(t), CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, r := range rows[1:] {
		got[r[3]] = [2]string{r[14], r[15]}
	}
	for code, want := range map[string][2]string{"US": {"0", "same"}, "PL": {"", "new"}, "KR": {"-1", "down 1"}, "CN": {"1", "up 1"}, "": {"", ""}} {
		if got[code] != want {
			t.Errorf("%q: rank_change, movement = %q, want %q", code, got[code], want)
		}
	}
}

func TestSentences(t *testing.T) {
	r := sample(t)
	want := []string{
		"Between April and September 2005 the United States relayed 26.5% of the spam caught by our traps, down from 41.5% a year earlier; China (incl Hong Kong) was second with 22.3%.",
		"The biggest rise among the top 6 was for China (incl Hong Kong), to 22.3% from 11.6% (+10.7 points).",
		"The biggest fall was for South Korea, to 9.7% from 15.4% (−5.7 points).",
		"Japan and Poland tied for fifth place with 2.0% each.",
		"The traps received 10,000 messages from about 5,000 distinct addresses; 28.0% of those addresses were in the United States.",
	}
	if strings.Join(r.Sentences, "\n") != strings.Join(want, "\n") {
		t.Errorf("sentences:\n%s\nwant\n%s", strings.Join(r.Sentences, "\n"), strings.Join(want, "\n"))
	}
	tie := New(query.Compare(counts(period(t, "2005Q2"), query.ByCountry, 0, cc("US", 5, 0), cc("CN", 5, 0)), nil, 12), Namer{}, nil)
	if got := tie.Sentences[0]; got != "In the second quarter of 2005 the United States relayed 50.0% of the spam caught by our traps; China tied with it for first place." {
		t.Errorf("tie at the top: %q", got)
	}
	trap := New(query.Compare(counts(period(t, "2005"), query.ByTrap, 1, cc("trap", 4, 1)), nil, 12), Namer{}, nil)
	if got := trap.Sentences[0]; got != "In 2005 the trap “trap” caught 100.0% of the spam." {
		t.Errorf("trap: %q", got)
	}
	// Rows no GeoIP data placed never lead a sentence: they are named once, as not ranked.
	for _, c := range []struct {
		g     query.Grouping
		rows  []query.Count
		first string
		last  string
	}{
		{query.ByCountry, []query.Count{cc("ZZ", 50, 0), cc("US", 30, 0), cc("XR", 15, 0), cc("CN", 5, 0)},
			"In 2005 the United States relayed 30.0% of the spam caught by our traps; China was fourth with 5.0%.",
			"Not ranked, because they cannot be placed in a country: Unknown (50.0%) and Reserved address (15.0%)."},
		{query.ByASN, []query.Count{{Key: "0", Messages: 60}, {Key: "4134", Name: "Chinanet", Messages: 40}},
			"In 2005 Chinanet relayed 40.0% of the spam caught by our traps.",
			"Not ranked, because they cannot be placed in a network: Unknown network (60.0%)."},
		{query.ByContinent, []query.Count{{Key: "", Messages: 9}, {Key: "EU", Messages: 1}},
			"In 2005 Europe relayed 10.0% of the spam caught by our traps.",
			"Not ranked, because they cannot be placed in a continent: Unknown or reserved (90.0%)."},
		{query.ByCountry, []query.Count{cc("XR", 4, 0)},
			"In 2005 our traps caught spam only from senders that cannot be placed in a country: Reserved address (100.0%).",
			"In 2005 our traps caught spam only from senders that cannot be placed in a country: Reserved address (100.0%)."},
	} {
		r := New(query.Compare(counts(period(t, "2005"), c.g, 0, c.rows...), nil, 12), Namer{}, nil)
		if r.Sentences[0] != c.first || r.Sentences[len(r.Sentences)-1] != c.last {
			t.Errorf("%s: sentences\n%s\nwant first %q and last %q", c.g, strings.Join(r.Sentences, "\n"), c.first, c.last)
		}
	}
	none := New(query.Compare(counts(period(t, "2005"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	if got := none.Sentences[0]; got != "Our traps caught no spam in 2005." {
		t.Errorf("empty period: %q", got)
	}
}

func TestPeriodText(t *testing.T) {
	for in, want := range map[string]string{
		"2005": "in 2005", "2005Q2": "in the second quarter of 2005", "2005-04": "in April 2005",
		"2005-04-01..2005-09-30": "between April and September 2005", "2004-10-01..2005-03-31": "between October 2004 and March 2005",
		"2005-04-01..2005-04-15": "between 1 and 15 April 2005", "2005-04-20..2005-05-03": "between 20 April and 3 May 2005",
		"2005-04-20": "on 20 April 2005",
	} {
		if got := PeriodText(period(t, in)); got != want {
			t.Errorf("PeriodText(%s) = %q, want %q", in, got, want)
		}
	}
	q2 := period(t, "2005Q2")
	if got := CompareText(q2, q2.Previous()); got != "in the previous quarter" {
		t.Errorf("CompareText previous quarter = %q", got)
	}
	if got := CompareText(q2, period(t, "2004")); got != "in 2004" {
		t.Errorf("CompareText other = %q", got)
	}
}
