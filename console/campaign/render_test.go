package campaign

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"
)

// Issue 18, finding 15: subjects and domains are the spammers' own words; in the CSV a text cell
// a spreadsheet would run as a formula starts with a single quote, and numbers stay numbers.
func TestCSVNeutralisesFormulas(t *testing.T) {
	day := time.Date(2005, 5, 2, 0, 0, 0, 0, time.UTC)
	l := Listing{Period: "2005-05-01..2005-05-31", Campaigns: []Summary{{
		ID: "-c1", Messages: 7, DaysActive: 1, FirstDay: day, LastDay: day, UniqueSources: 2, ASNs: 1,
		RelayCountries: []CountryShare{{Country: "US", Messages: 7}}, Domains: []string{"@evil.example"},
		SubjectTemplates: []string{`=HYPERLINK("http://evil.example","Win")`, "+1"},
	}}}
	var b bytes.Buffer
	if err := Write(&b, l, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2005-05-01..2005-05-31", "'-c1", "7", "1", "2005-05-02", "2005-05-02", "2", "1", "US:7", "", "",
		"'@evil.example", `'=HYPERLINK("http://evil.example","Win") | +1`}
	if len(rows) != 2 || len(rows[1]) != len(want) {
		t.Fatalf("rows %q", rows)
	}
	for i, cell := range rows[1] {
		if cell != want[i] {
			t.Errorf("%s = %q, want %q", rows[0][i], cell, want[i])
		}
	}
}
