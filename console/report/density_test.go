package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
)

// A country the GeoIP builds give IPv4 space but no IPv6 space has no IPv6 figure: an empty
// cell and a JSON null, not a 0 that would read as "no IPv6 spam there"; one with IPv6 space
// has its figure.
func TestDensityWithoutIPv6SpaceHasNoIPv6Figure(t *testing.T) {
	d := NewDensity(query.Density{Grouping: query.ByCountry, Builds: []string{"b"}, Groups: []query.DensityGroup{
		{Key: "US", Messages: 100, IPv4Sources: 40, IPv4Space: 1 << 16, IPv6Sources: 3, IPv6Space: 0},
		{Key: "DE", Messages: 100, IPv4Sources: 40, IPv4Space: 1 << 17, IPv6Sources: 2, IPv6Space: 1 << 20},
	}}, Namer{}, "US", 10)
	by := map[string]DensityLine{}
	for _, l := range d.Rows {
		by[l.Code] = l
	}
	if by["US"].IPv6PerMillion != nil {
		t.Errorf("US without IPv6 space: IPv6 per million %v, want none", *by["US"].IPv6PerMillion)
	}
	if v := by["DE"].IPv6PerMillion; v == nil || *v != 2.0/(1<<20)*1e6 {
		t.Errorf("DE: IPv6 per million %v, want %v", v, 2.0/(1<<20)*1e6)
	}
	var csvOut, jsonOut bytes.Buffer
	if err := WriteDensity(&csvOut, d, render.CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if last := r[len(r)-1]; (r[1] == "US") != (last == "") {
			t.Errorf("CSV row %v: IPv6 per million %q", r, last)
		}
	}
	if err := WriteDensity(&jsonOut, d, render.JSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(jsonOut.String(), `"ipv6_sources_per_million_nets64": null`) {
		t.Errorf("JSON has no null IPv6 figure:\n%s", jsonOut.String())
	}
}
