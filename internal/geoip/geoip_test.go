package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// Every layout answers the same for every network of the test world, for addresses at the
// start, middle and end of each network, in IPv4, IPv6 and IPv4-mapped IPv6 form.
func TestLookupAllLayouts(t *testing.T) {
	dir := t.TempDir()
	world := geoiptest.World()
	paths := map[string]string{}
	for name, write := range map[string]func(string){
		"geoip2.mmdb": func(p string) { geoiptest.WriteCountryDB(t, p, world, geoiptest.GeoIP2) },
		"flat.mmdb":   func(p string) { geoiptest.WriteCountryDB(t, p, world, geoiptest.Flat) },
		"asn.mmdb":    func(p string) { geoiptest.WriteASNDB(t, p, world) },
		"asn.csv":     func(p string) { geoiptest.WriteASNCSV(t, p, world) },
	} {
		paths[name] = filepath.Join(dir, name)
		write(paths[name])
	}
	for _, combo := range []struct{ country, asn string }{
		{"geoip2.mmdb", "asn.mmdb"},
		{"flat.mmdb", "asn.csv"},
		{"geoip2.mmdb", "asn.csv"},
		{"flat.mmdb", "asn.mmdb"},
	} {
		t.Run(combo.country+"+"+combo.asn, func(t *testing.T) {
			db, err := geoip.Open(geoip.Configuration{
				CountryDatabase: paths[combo.country], ASNDatabases: []string{paths[combo.asn]},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, c := range world {
				want := geoip.Result{Class: geoip.Public, Country: c.Code, Continent: c.Continent, ASN: c.ASN, ASOrg: c.Org}
				for _, p := range c.Networks {
					for _, addr := range probeAddrs(p) {
						got, err := db.Lookup(addr, time.Time{})
						if err != nil {
							t.Fatalf("Lookup(%s): %v", addr, err)
						}
						if !strings.Contains(got.Build, "2026-01-02") {
							t.Errorf("Lookup(%s).Build = %q does not name the build", addr, got.Build)
						}
						got.Build = ""
						if got != want {
							t.Errorf("Lookup(%s) = %+v, want %+v", addr, got, want)
						}
					}
				}
			}
			got, err := db.Lookup(netip.MustParseAddr("200.1.2.3"), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got.Build = ""
			if want := (geoip.Result{Class: geoip.Public, Country: "ZZ"}); got != want {
				t.Errorf("public address outside the world = %+v, want %+v", got, want)
			}
			for addr, class := range map[string]geoip.Class{"10.1.2.3": geoip.Private, "::ffff:127.0.0.1": geoip.Loopback, "2001:db8::5": geoip.Documentation} {
				got, err := db.Lookup(netip.MustParseAddr(addr), time.Time{})
				if err != nil || got != (geoip.Result{Class: class, Country: "XR"}) {
					t.Errorf("Lookup(%s) = %+v, %v; want class %s, country XR", addr, got, err, class)
				}
			}
		})
	}
}

func probeAddrs(p netip.Prefix) []netip.Addr {
	first := p.Masked().Addr()
	b := first.AsSlice()
	mid := append([]byte(nil), b...)
	mid[len(mid)-1] = 77
	for bit := p.Bits(); bit < len(b)*8; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	m, _ := netip.AddrFromSlice(mid)
	out := []netip.Addr{first, m, last}
	if first.Is4() {
		out = append(out, netip.AddrFrom16(first.As16()))
	}
	return out
}

// City databases add city, subdivision and coordinates.
func TestCityExtras(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	world := geoiptest.World()
	geoiptest.WriteCountryDB(t, path, world, geoiptest.City)
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Lookup(world[2].Networks[0].Addr().Next(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Country != "CN" || got.City != "Capital of CN" || got.Subdivision != "CN-01" || !got.HasLocation ||
		got.Latitude != 2 || got.Longitude != -2 || got.Build != "GeoIP2-City@2026-01-02" {
		t.Errorf("City lookup = %+v", got)
	}
}

// A directory of dated builds answers each event with the build current at its date, and with
// the nearest one outside their span.
func TestDatedDatabases(t *testing.T) {
	dir := t.TempDir()
	world := geoiptest.World()
	// The 2004 build places the first network in Korea, the 2005 build in the United States.
	moved := func(code string) []geoiptest.Country {
		w := append([]geoiptest.Country(nil), world...)
		for i := range w {
			if w[i].Code == "US" {
				w[i].Code, w[i].Continent = code, "AS"
			}
		}
		return w
	}
	geoiptest.WriteCountryDBBuiltAt(t, filepath.Join(dir, "a.mmdb"), moved("KR"), geoiptest.GeoIP2, time.Date(2004, 1, 1, 0, 0, 0, 0, time.UTC))
	geoiptest.WriteCountryDBBuiltAt(t, filepath.Join(dir, "b.mmdb"), world, geoiptest.GeoIP2, time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC))
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	us := netip.MustParseAddr("30.0.1.2") // the first country of the test world
	for at, want := range map[string]string{
		"2003-06-01": "KR", "2004-01-01": "KR", "2004-12-31": "KR", "2005-01-01": "US", "2026-01-01": "US",
	} {
		when, _ := time.Parse(time.DateOnly, at)
		got, err := db.Lookup(us, when)
		if err != nil {
			t.Fatal(err)
		}
		if got.Country != want || !strings.Contains(got.Build, map[string]string{"KR": "2004-01-01", "US": "2005-01-01"}[want]) {
			t.Errorf("at %s: %s from %q, want %s", at, got.Country, got.Build, want)
		}
	}
	if len(db.Builds()) != 2 {
		t.Errorf("Builds() = %v", db.Builds())
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	country, asn := geoiptest.Files(t)
	good, _ := os.ReadFile(country)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		cfg  geoip.Configuration
		want string
	}{
		{"none", geoip.Configuration{}, "no country database"},
		{"missing", geoip.Configuration{CountryDatabase: filepath.Join(dir, "nope.mmdb")}, "no such file"},
		{"empty directory", geoip.Configuration{CountryDatabase: t.TempDir()}, "holds no .mmdb files"},
		{"empty", geoip.Configuration{CountryDatabase: write("empty.mmdb", nil)}, "empty.mmdb"},
		{"garbage", geoip.Configuration{CountryDatabase: write("garbage.mmdb", []byte("not a database at all"))}, "garbage.mmdb"},
		{"truncated", geoip.Configuration{CountryDatabase: write("trunc.mmdb", good[:len(good)/2])}, "trunc.mmdb"},
		{"asn as country", geoip.Configuration{CountryDatabase: asn}, "country"},
		{"country as asn", geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{country}}, "autonomous_system_number"},
		{"bad csv row", geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{write("bad.csv", []byte("1.0.0.0,1.0.0.255,13335,ok\n1.0.1.0,banana,1,x\n"))}}, "line 2"},
		{"reversed range", geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{write("rev.csv", []byte("1.0.1.0,1.0.0.0,1,x\n"))}}, "not a range"},
		{"empty csv", geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{write("none.csv", nil)}}, "no rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := geoip.Open(tc.cfg)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCountryNetworks(t *testing.T) {
	country, _ := geoiptest.Files(t)
	for _, ipv6 := range []bool{false, true} {
		nets, err := geoip.CountryNetworks(country, ipv6)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range geoiptest.World() {
			got := nets[c.Code]
			want := c.Networks[:1]
			if ipv6 {
				want = c.Networks
			}
			if len(got) != len(want) {
				t.Fatalf("%s (ipv6=%v): %v, want %v", c.Code, ipv6, got, want)
			}
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	world := geoiptest.World()
	for _, layout := range []struct {
		name     string
		country  geoiptest.Layout
		asnFile  string
		writeASN func(testing.TB, string, []geoiptest.Country)
	}{
		{"geoip2+asn.mmdb", geoiptest.GeoIP2, "asn.mmdb", geoiptest.WriteASNDB},
		{"flat+asn.csv", geoiptest.Flat, "asn.csv", geoiptest.WriteASNCSV},
	} {
		b.Run(layout.name, func(b *testing.B) {
			country := filepath.Join(dir, layout.name+".mmdb")
			asn := filepath.Join(dir, layout.name+"-"+layout.asnFile)
			geoiptest.WriteCountryDB(b, country, world, layout.country)
			layout.writeASN(b, asn, world)
			db, err := geoip.Open(geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			addrs := make([]netip.Addr, 0, 1024)
			for i := range 1024 {
				c := world[i%len(world)]
				addrs = append(addrs, probeAddrs(c.Networks[0])[i%3])
			}
			i := 0
			for b.Loop() {
				if _, err := db.Lookup(addrs[i%len(addrs)], time.Time{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkTreeWalk is maxminddb's bare search-tree walk on the real DB-IP country file, the
// floor under every country lookup (run after deploy/geoip.sh fetch).
func BenchmarkTreeWalk(b *testing.B) {
	r, err := maxminddb.Open(testenv.Local(b, "geoip", "dbip-country.mmdb"))
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(1 + i%200), byte(i * 7), byte(i * 13), byte(i)})
	}
	i := 0
	for b.Loop() {
		if res := r.Lookup(addrs[i%len(addrs)]); res.Err() != nil {
			b.Fatal(res.Err())
		}
		i++
	}
}

// A zoned address is looked up as the address without its zone: fe80::1%eth0 is link-local and
// reserved (XR), never a public address the databases do not know (ZZ).
func TestLookupZonedAddress(t *testing.T) {
	country, asn := geoiptest.Files(t)
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for addr, want := range map[string][2]string{
		"fe80::1%eth0": {string(geoip.LinkLocal), countries.Reserved}, "2a00:1::1%eth0": {string(geoip.Public), "US"},
	} {
		got, err := db.Lookup(netip.MustParseAddr(addr), time.Time{})
		if err != nil || string(got.Class) != want[0] || got.Country != want[1] {
			t.Errorf("Lookup(%s) = %s %s, %v; want %s %s", addr, got.Class, got.Country, err, want[0], want[1])
		}
	}
}
