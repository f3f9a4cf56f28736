// Package geoiptest writes small GeoIP files with github.com/maxmind/mmdbwriter for tests, so
// that every expected country, continent and network of a test is known in advance.
package geoiptest

import (
	"encoding/csv"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Country is one country of a test world and what it owns.
type Country struct {
	Code      string
	Continent string
	Networks  []netip.Prefix // an IPv4 /16 and an IPv6 /32 each
	ASN       uint32
	Org       string
}

// worldCodes are the countries of World: every country of the published Sophos tables first,
// then enough others to spread a profile's "rest of the world" share thinly.
var worldCodes = []string{
	"US", "KR", "CN", "BR", "CA", "JP", "DE", "FR", "ES", "GB", "MX", "TW", "AT", "PL",
	"IT", "RU", "IN", "TR", "RO", "NL", "AU", "SE", "NO", "DK", "FI", "BE", "CH", "PT",
	"GR", "CZ", "HU", "IE", "IL", "AR", "CL", "CO", "PE", "VE", "ZA", "EG", "NG", "KE",
	"MA", "TH", "VN", "MY", "ID", "PH", "SG", "NZ", "UA", "SA", "AE", "PK",
}

// BuildEpoch is the build time written into every test database.
var BuildEpoch = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

// World returns the test world: country i owns 30+i.0.0.0/16 and 2a00:i+1::/32, announced by
// AS 64000+i ("Test Net <code>").
func World() []Country {
	out := make([]Country, len(worldCodes))
	for i, cc := range worldCodes {
		out[i] = Country{
			Code:      cc,
			Continent: countries.Continent(cc),
			Networks: []netip.Prefix{
				netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(30 + i), 0, 0, 0}), 16),
				netip.PrefixFrom(netip.AddrFrom16([16]byte{0x2a, 0x00, 0, byte(i + 1)}), 32),
			},
			ASN: uint32(64000 + i),
			Org: "Test Net " + cc,
		}
	}
	return out
}

// Layout selects the record layout of a country file.
type Layout int

const (
	// GeoIP2 is MaxMind's GeoIP2-Country layout: nested country, registered_country, continent.
	GeoIP2 Layout = iota
	// Flat is the ip-location-db layout: {"country_code": "US"}.
	Flat
	// City is MaxMind's GeoIP2-City layout: the GeoIP2 record plus city, subdivisions and
	// location (every country's capital is "Capital of <code>", subdivision "01", at lat/lon i, -i).
	City
)

// WriteCountryDB writes world as a country database at path, built at BuildEpoch.
func WriteCountryDB(t testing.TB, path string, world []Country, layout Layout) {
	t.Helper()
	WriteCountryDBBuiltAt(t, path, world, layout, BuildEpoch)
}

// WriteCountryDBBuiltAt writes world as a country database whose metadata says it was built at
// built, for tests of dated databases.
func WriteCountryDBBuiltAt(t testing.TB, path string, world []Country, layout Layout, built time.Time) {
	t.Helper()
	dbType := map[Layout]string{GeoIP2: "GeoIP2-Country", Flat: "country ipvAll", City: "GeoIP2-City"}[layout]
	w := newWriter(t, dbType, built)
	for i, c := range world {
		var rec mmdbtype.Map
		if layout == Flat {
			rec = mmdbtype.Map{"country_code": mmdbtype.String(c.Code)}
		} else {
			country := mmdbtype.Map{
				"iso_code": mmdbtype.String(c.Code),
				"names":    mmdbtype.Map{"en": mmdbtype.String(countries.Name(c.Code))},
			}
			rec = mmdbtype.Map{
				"continent": mmdbtype.Map{
					"code":  mmdbtype.String(c.Continent),
					"names": mmdbtype.Map{"en": mmdbtype.String(countries.ContinentName(c.Continent))},
				},
				"country":            country,
				"registered_country": country,
			}
			if layout == City {
				rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Capital of " + c.Code)}}
				rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("01")}}
				rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(float64(i)), "longitude": mmdbtype.Float64(-float64(i))}
			}
		}
		insert(t, w, c.Networks, rec)
	}
	writeFile(t, w, path)
}

// WriteASNDB writes world as a GeoLite2-ASN database at path.
func WriteASNDB(t testing.TB, path string, world []Country) {
	t.Helper()
	w := newWriter(t, "GeoLite2-ASN", BuildEpoch)
	for _, c := range world {
		insert(t, w, c.Networks, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(c.ASN),
			"autonomous_system_organization": mmdbtype.String(c.Org),
		})
	}
	writeFile(t, w, path)
}

// WriteASNCSV writes world as an ip-location-db range file (start,end,asn,organisation).
func WriteASNCSV(t testing.TB, path string, world []Country) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cw := csv.NewWriter(f)
	for _, c := range world {
		for _, p := range c.Networks {
			if err := cw.Write([]string{p.Masked().Addr().String(), lastAddr(p).String(),
				fmt.Sprint(c.ASN), c.Org}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Files writes the test world as a GeoIP2-layout country database and an ASN database in a
// temporary directory and returns their paths.
func Files(t testing.TB) (countryDB, asnDB string) {
	t.Helper()
	dir := t.TempDir()
	countryDB = filepath.Join(dir, "Test-Country.mmdb")
	asnDB = filepath.Join(dir, "Test-ASN.mmdb")
	WriteCountryDB(t, countryDB, World(), GeoIP2)
	WriteASNDB(t, asnDB, World())
	return countryDB, asnDB
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for bit := p.Bits(); bit < len(b)*8; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func newWriter(t testing.TB, dbType string, built time.Time) *mmdbwriter.Tree {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		BuildEpoch:   built.Unix(),
		RecordSize:   24,
		Languages:    []string{"en"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func insert(t testing.TB, w *mmdbwriter.Tree, networks []netip.Prefix, rec mmdbtype.Map) {
	t.Helper()
	for _, p := range networks {
		n := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := w.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", p, err)
		}
	}
}

func writeFile(t testing.TB, w *mmdbwriter.Tree, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
