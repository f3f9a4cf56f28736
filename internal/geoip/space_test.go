package geoip_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
)

// The test world gives each country an IPv4 /16 and an IPv6 /32, announced by one AS: the
// walk finds 65,536 addresses and 2^32 /64 networks for each, in every layout.
func TestAddressSpaceOfTheTestWorld(t *testing.T) {
	dir := t.TempDir()
	world := geoiptest.World()
	country, flat := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "flat.mmdb")
	asnDB, asnCSV := filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "asn.csv")
	geoiptest.WriteCountryDB(t, country, world, geoiptest.GeoIP2)
	geoiptest.WriteCountryDB(t, flat, world, geoiptest.Flat)
	geoiptest.WriteASNDB(t, asnDB, world)
	geoiptest.WriteASNCSV(t, asnCSV, world)
	want := geoip.Space{IPv4: 1 << 16, IPv6: 1 << 32}
	for _, files := range [][2]string{{country, asnDB}, {flat, asnCSV}} {
		db, err := geoip.Open(geoip.Configuration{CountryDatabase: files[0], ASNDatabases: []string{files[1]}})
		if err != nil {
			t.Fatal(err)
		}
		builds, err := db.AddressSpace(nil)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(builds) != 2 || builds[0].Kind != "country" || builds[1].Kind != "asn" {
			t.Fatalf("%v: builds %+v", files, builds)
		}
		for _, c := range world {
			if got := builds[0].Spaces[c.Code]; got != want {
				t.Errorf("%s: country %s has %+v, want %+v", filepath.Base(files[0]), c.Code, got, want)
			}
			if got := builds[1].Spaces[strconv.Itoa(int(c.ASN))]; got != want {
				t.Errorf("%s: AS%d has %+v, want %+v", filepath.Base(files[1]), c.ASN, got, want)
			}
		}
		if len(builds[0].Spaces) != len(world) || len(builds[1].Spaces) != len(world) {
			t.Errorf("%v: %d countries and %d networks, want %d each", files, len(builds[0].Spaces), len(builds[1].Spaces), len(world))
		}
	}
}

// Ranges that are not prefixes count address by address; an IPv6 range counts the /64s it
// touches, up to half the IPv6 space (2^63 /64s) in one row.
func TestAddressSpaceOfRanges(t *testing.T) {
	dir := t.TempDir()
	country := filepath.Join(dir, "country.mmdb")
	geoiptest.WriteCountryDB(t, country, geoiptest.World(), geoiptest.GeoIP2)
	csv := filepath.Join(dir, "ranges.csv")
	rows := "1.0.0.0,1.0.0.9,13335,A\n1.0.1.0,1.0.1.255,13335,A\n" + // 10 + 256
		"2001:db8::,2001:db8:0:2::ffff,13335,A\n" + // three /64s touched
		"8000::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64500,B\n" // half of IPv6
	if err := os.WriteFile(csv, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{csv}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	builds, err := db.AddressSpace(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := builds[1].Spaces["13335"]; got != (geoip.Space{IPv4: 266, IPv6: 3}) {
		t.Errorf("AS13335: %+v", got)
	}
	if got := builds[1].Spaces["64500"]; got != (geoip.Space{IPv6: 1 << 63}) {
		t.Errorf("AS64500 (half of IPv6): %+v", got)
	}
}
