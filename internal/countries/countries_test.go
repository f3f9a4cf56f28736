package countries

import "testing"

func TestContinent(t *testing.T) {
	for country, want := range map[string]string{
		"US": "NA", "MX": "NA", "PA": "NA", "BR": "SA", "KR": "AS", "CN": "AS", "TW": "AS",
		"DE": "EU", "RU": "EU", "AT": "EU", "AU": "OC", "ZA": "AF", "AQ": "AN",
		"ZZ": "", "EU": "", "": "", "??": "", "USA": "",
	} {
		if got := Continent(country); got != want {
			t.Errorf("Continent(%q) = %q, want %q", country, got, want)
		}
	}
}

func TestName(t *testing.T) {
	for country, want := range map[string]string{
		"US": "United States", "KR": "South Korea", "GB": "United Kingdom",
		"ZZ": "Unknown", "A1": "A1", "": "",
	} {
		if got := Name(country); got != want {
			t.Errorf("Name(%q) = %q, want %q", country, got, want)
		}
	}
	if got := ContinentName("SA"); got != "South America" {
		t.Errorf("ContinentName(SA) = %q", got)
	}
}
