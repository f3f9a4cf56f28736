package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"testing"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/report"
)

var update = flag.Bool("update", false, "rewrite notebooks/names.csv and the notebooks' committed outputs")

const namesCSV = "../../notebooks/names.csv"

// notebookNames is notebooks/names.csv: report.Namer's name of every two-letter code it knows
// as a country or a continent, and of the groups it names specially (continent "" and AS0),
// so the notebooks name groups exactly as spamgeo report does.
func notebookNames() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	write := func(g query.Grouping, code, name string) { _ = w.Write([]string{string(g), code, name}) }
	write("grouping", "code", "name")
	names := report.Namer{}
	for _, g := range []query.Grouping{query.ByCountry, query.ByContinent} {
		for a := 'A'; a <= 'Z'; a++ {
			for z := 'A'; z <= 'Z'; z++ {
				if code := string([]rune{a, z}); names.Name(g, code, "") != code {
					write(g, code, names.Name(g, code, ""))
				}
			}
		}
	}
	write(query.ByContinent, "", names.Name(query.ByContinent, "", ""))
	write(query.ByASN, "0", names.Name(query.ByASN, "0", ""))
	w.Flush()
	return b.Bytes()
}

// The notebooks' names.csv is what report.Namer says today; -update rewrites it.
func TestNotebookNames(t *testing.T) {
	want := notebookNames()
	if *update {
		if err := os.WriteFile(namesCSV, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(namesCSV)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: `go test ./cmd/spamgeo -run TestNotebookNames -update` rewrites it", namesCSV)
	}
	for _, row := range []string{"country,US,United States\n", "country,KR,South Korea\n", "country,ZZ,Unknown\n",
		"continent,NA,North America\n", "continent,,Unknown or reserved\n", "asn,0,Unknown network\n"} {
		if !bytes.Contains(want, []byte(row)) {
			t.Errorf("names.csv lacks %q", row)
		}
	}
}
