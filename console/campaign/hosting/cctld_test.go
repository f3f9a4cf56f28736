package hosting

import "testing"

func TestDomainCountry(t *testing.T) {
	for _, tc := range []struct{ domain, want string }{
		{"example.mc", "MC"},
		{"shop.com.au", "AU"},
		{"x.co.uk", "GB"},
		{"uk", "GB"},
		{"boutique.fr", "FR"},
		{"taobao.cn", "CN"},
		{"example.de", "DE"},
		{"example.io", "IO"},
		{"example.tv", "TV"},
		{"example.com", ""},
		{"example.org", ""},
		{"example.info", ""},
		{"example.eu", ""},
		{"example.su", ""},
		{"example.yu", ""},
		{"example.tp", ""},
		{"example.ac", ""},
		{"example.zz", ""},
		{"example.xx", ""},
		{"example.aa", ""},
		{"example.c1", ""},
		{"example.1", ""},
		{"example.", ""},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"fr", "FR"},
		{"example.mc.", "MC"},
		{"WWW.EXAMPLE.CO.UK", "GB"},
		{"Example.Mc.", "MC"},
		{"example.xn--p1ai", ""},
		{"example.é", ""},
		{"example.ée", ""},
	} {
		if got := DomainCountry(tc.domain); got != tc.want {
			t.Errorf("DomainCountry(%q) = %q, want %q", tc.domain, got, tc.want)
		}
	}
}
