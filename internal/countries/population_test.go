package countries

import (
	"strings"
	"testing"
)

// The built-in dataset reads, covers the countries of the published tables, and keeps its
// figures as the file says them.
func TestBuiltinPopulation(t *testing.T) {
	p := BuiltinPopulation()
	if len(p) < 230 {
		t.Fatalf("%d countries", len(p))
	}
	for _, cc := range []string{"US", "CN", "KR", "BR", "CA", "JP", "DE", "FR", "ES", "GB", "MX", "TW", "PL"} {
		if p[cc].People == 0 || p[cc].InternetUsers == 0 || p[cc].InternetYear == 0 {
			t.Errorf("%s: %+v", cc, p[cc])
		}
	}
	if got := p["AD"]; got != (Population{People: 85370, PeopleYear: 2024, InternetUsers: 81102, InternetYear: 2023}) {
		t.Errorf("AD: %+v", got)
	}
}

func TestReadPopulation(t *testing.T) {
	p, err := ReadPopulation(strings.NewReader("# a comment\npopulation,country_code\n1000,xx\n,yy\n"))
	if err != nil || p["XX"].People != 1000 || p["YY"] != (Population{}) {
		t.Errorf("%+v, %v", p, err)
	}
	for _, bad := range []string{"code,population\nUS,1\n", "country_code,population\nUSA,1\n", "country_code,population\nUS,many\n",
		"country_code,population,internet_users\nUS,10,20\n"} {
		if _, err := ReadPopulation(strings.NewReader(bad)); err == nil {
			t.Errorf("%q read without an error", bad)
		}
	}
}
