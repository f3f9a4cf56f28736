// Package countries names countries and continents and places a country on its continent.
// The data is Unicode CLDR's, as maintained in golang.org/x/text, so the project carries no
// hand-typed country list; continents use the seven two-letter codes of GeoIP databases.
package countries

import (
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Unknown is the country code of a public address no database could place ("ZZ", CLDR's
// Unknown Region).
const Unknown = "ZZ"

// Reserved is the code of addresses that are not public (private, loopback, documentation and
// other special-purpose ranges): "XR", from the ISO 3166 user-assigned range, so it can never
// clash with a country.
const Reserved = "XR"

// continents maps the GeoIP continent codes to the UN M.49 area that CLDR uses for them.
// Antarctica comes first: CLDR also lists AQ under Oceania.
var continents = []struct {
	code, name string
	area       language.Region
}{
	{"AN", "Antarctica", language.MustParseRegion("AQ")},
	{"AF", "Africa", language.MustParseRegion("002")},
	{"AS", "Asia", language.MustParseRegion("142")},
	{"EU", "Europe", language.MustParseRegion("150")},
	{"NA", "North America", language.MustParseRegion("003")},
	{"SA", "South America", language.MustParseRegion("005")},
	{"OC", "Oceania", language.MustParseRegion("009")},
}

var regionNames = display.English.Regions()

// Continent returns the GeoIP continent code (AF, AN, AS, EU, NA, OC, SA) of an ISO 3166-1
// alpha-2 country code, or "" when the code is not a country CLDR knows.
func Continent(country string) string {
	r, ok := parse(country)
	if !ok {
		return ""
	}
	for _, c := range continents {
		if c.area == r || c.area.Contains(r) {
			return c.code
		}
	}
	return ""
}

// Name returns the English name of an ISO 3166-1 alpha-2 country code ("United States"),
// or the code itself when CLDR does not know it.
func Name(country string) string {
	switch country {
	case Unknown:
		return "Unknown"
	case Reserved:
		return "Reserved address"
	}
	r, ok := parse(country)
	if !ok {
		return country
	}
	if name := regionNames.Name(r); name != "" {
		return name
	}
	return country
}

// ContinentName returns the English name of a GeoIP continent code, or the code itself.
func ContinentName(code string) string {
	for _, c := range continents {
		if c.code == code {
			return c.name
		}
	}
	return code
}

// parse accepts only two-letter codes: language.ParseRegion also takes alpha-3 and M.49 codes.
func parse(country string) (language.Region, bool) {
	if len(country) != 2 {
		return language.Region{}, false
	}
	r, err := language.ParseRegion(country)
	return r, err == nil && r.IsCountry()
}
