package hosting

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// regionNames tells current regions from deprecated ones: CLDR names no region that was split
// (SU, YU, CS, AN).
var regionNames = display.English.Regions()

// DomainCountry returns the ISO 3166-1 alpha-2 country whose country-code top-level domain
// ends domain ("example.mc" -> "MC", "shop.com.au" -> "AU", "x.co.uk" -> "GB"), or "" when the
// TLD is generic (.com, .org, .info, .eu ...) or unknown.
//
// The country codes are CLDR's, through golang.org/x/text: a two-letter TLD is a country when
// CLDR has it as a current country or territory with a UN M.49 number. That leaves out, besides
// unassigned codes, .eu, the retired .su, .yu, .an and .tp, and .ac, whose Ascension Island has
// no code of its own in ISO 3166-1. .uk is GB. Internationalized ccTLDs (xn--...) give "".
func DomainCountry(domain string) string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	tld := domain[strings.LastIndexByte(domain, '.')+1:]
	if len(tld) != 2 || !isLetter(tld[0]) || !isLetter(tld[1]) {
		return ""
	}
	if tld == "uk" {
		return "GB"
	}
	r, err := language.ParseRegion(tld)
	if err != nil || !r.IsCountry() || r.Canonicalize() != r || r.M49() == 0 || regionNames.Name(r) == "" {
		return ""
	}
	return strings.ToUpper(tld)
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z'
}
