// Package geoip answers "which country, continent and network is this address in" from the
// GeoIP files users hold: MaxMind GeoIP2/GeoLite2 Country, City and ASN and DB-IP files in the
// GeoIP2 layout (decoded into geoip2-golang's models), flat ip-location-db mmdb files
// ({"country_code": "US"}), and ip-location-db ASN range files in CSV. A file may be replaced by
// a directory of dated builds: each address is then answered by the build current at the
// event's date. Reserved addresses (private, loopback, documentation, ...) are classified, not
// looked up. The package neither downloads nor updates databases; Reloader picks up new files.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Configuration says which files to read.
type Configuration struct {
	// CountryDatabase is an .mmdb file answering country (in the GeoIP2 layout also continent,
	// and for City databases city, subdivision and coordinates), or a directory of such files
	// from different dates: GeoIP2/GeoLite2 Country or City, DB-IP, or ip-location-db's mmdb.
	CountryDatabase string
	// ASNDatabases answer AS number and organisation: GeoLite2-ASN layout .mmdb files (or
	// directories of dated ones), or ip-location-db CSV range files. They are consulted in
	// order, so IPv4 and IPv6 range files can be given side by side. May be empty.
	ASNDatabases []string
}

// Result is the geography of one address.
type Result struct {
	Class   Class
	Country string // ISO 3166-1 alpha-2; countries.Unknown when no database places a public
	// address, countries.Reserved for addresses that are not public
	Continent   string // GeoIP continent code, "" when unknown
	ASN         uint32 // 0 when unknown
	ASOrg       string
	City        string // from City databases only
	Subdivision string // ISO 3166-2 subdivision code, City databases only
	Latitude    float64
	Longitude   float64
	HasLocation bool   // whether Latitude and Longitude are set
	Build       string // the database builds that answered
}

// source is one database file: its build time and identity, and a lookup of its kind.
type source struct {
	built   time.Time
	buildID string
	country countryLookup
	asn     asnLookup
	space   func() (map[string]Space, error) // walks the whole file: see DB.AddressSpace
	closer  func() error
}

type countryLookup func(addr netip.Addr) (countryAnswer, error)
type asnLookup func(addr netip.Addr) (asn uint32, org string, found bool, err error)

// countryAnswer is what a country database says of one record.
type countryAnswer struct {
	country, continent, city, subdivision string
	lat, lon                              float64
	hasLocation                           bool
}

// dated is one configured path: a single source, or the sources of a directory, oldest first.
type dated []*source

// at returns the source current at t: the newest built at or before t, or the oldest when
// every build is newer.
func (d dated) at(t time.Time) (int, *source) {
	if len(d) == 1 { // a single file: the usual case, on every lookup
		return 0, d[0]
	}
	i, _ := slices.BinarySearchFunc(d, t, func(s *source, t time.Time) int {
		if s.built.After(t) {
			return 1
		}
		return -1
	})
	if i > 0 {
		i--
	}
	return i, d[i]
}

// DB combines the country databases with any number of ASN databases. It is safe for
// concurrent use.
type DB struct {
	countries dated
	asns      []dated
	// builds[c][0] names country source c alone; builds[c][asnBase[s]+i+1] names it with the
	// i-th source of ASN set s. Built once, so a lookup never formats or allocates one.
	builds  [][]string
	asnBase []int
}

// loading serialises Open's change of the garbage collector's target.
var loading sync.Mutex

// Open opens and checks every configured file, detecting each one's layout.
func Open(cfg Configuration) (*DB, error) {
	if cfg.CountryDatabase == "" {
		return nil, errors.New("no country database configured")
	}
	// Reading the files makes several times their tables' size of short-lived garbage (CSV
	// fields, growing row slices): collected sooner while they load, the heap stays closer to
	// what is kept, and so does the enricher's peak memory (143-146 MB against 149-155 in
	// BenchmarkResidentMemory, for about 60 ms more per load). Loads take turns, so that the
	// process's setting is restored whatever overlaps.
	loading.Lock()
	defer loading.Unlock()
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	db := &DB{}
	var err error
	if db.countries, err = openDated(cfg.CountryDatabase, openCountry); err != nil {
		return nil, err
	}
	for _, path := range cfg.ASNDatabases {
		set, err := openDated(path, openASN)
		if err != nil {
			db.Close()
			return nil, err
		}
		db.asns = append(db.asns, set)
	}
	n := 0
	for _, set := range db.asns {
		db.asnBase = append(db.asnBase, n)
		n += len(set)
	}
	for _, c := range db.countries {
		names := []string{c.buildID}
		for _, set := range db.asns {
			for _, a := range set {
				names = append(names, c.buildID+"; "+a.buildID)
			}
		}
		db.builds = append(db.builds, names)
	}
	return db, nil
}

// openDated opens a file, or every .mmdb file of a directory, sorted by build time.
func openDated(path string, open func(string) (*source, error)) (dated, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("GeoIP database: %w", err)
	}
	if !info.IsDir() {
		s, err := open(path)
		if err != nil {
			return nil, err
		}
		return dated{s}, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.mmdb"))
	if err != nil {
		return nil, err
	}
	var out dated
	for _, f := range files {
		s, err := open(f)
		if err != nil {
			for _, o := range out {
				o.closer()
			}
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GeoIP directory %s holds no .mmdb files", path)
	}
	slices.SortStableFunc(out, func(a, b *source) int { return a.built.Compare(b.built) })
	return out, nil
}

// Builds lists every database build loaded, for logs.
func (db *DB) Builds() []string {
	var out []string
	for _, s := range db.countries {
		out = append(out, s.buildID)
	}
	for _, set := range db.asns {
		for _, s := range set {
			out = append(out, s.buildID)
		}
	}
	return out
}

// Lookup returns the geography of addr as the databases current at `at` know it (at is the
// event's receive time; it only matters with directories of dated builds). IPv4-mapped IPv6
// addresses are looked up as IPv4, zoned ones without their zone. An error means a database
// file is damaged.
func (db *DB) Lookup(addr netip.Addr, at time.Time) (Result, error) {
	addr = addr.Unmap().WithZone("")
	r := Result{Class: Classify(addr)}
	if r.Class != Public {
		r.Country = countries.Reserved
		return r, nil
	}
	ci, cs := db.countries.at(at)
	c, err := cs.country(addr)
	if err != nil {
		return Result{}, fmt.Errorf("country lookup of %s in %s: %w", addr, cs.buildID, err)
	}
	r.Country, r.Continent = c.country, c.continent
	r.City, r.Subdivision = c.city, c.subdivision
	r.Latitude, r.Longitude, r.HasLocation = c.lat, c.lon, c.hasLocation
	if r.Country == "" {
		r.Country = countries.Unknown
	}
	if r.Continent == "" {
		r.Continent = countries.Continent(r.Country)
	}
	build := 0
	for si, set := range db.asns {
		ai, as := set.at(at)
		asn, org, found, err := as.asn(addr)
		if err != nil {
			return Result{}, fmt.Errorf("ASN lookup of %s in %s: %w", addr, as.buildID, err)
		}
		if found {
			r.ASN, r.ASOrg = asn, org
			build = db.asnBase[si] + ai + 1
			break
		}
	}
	r.Build = db.builds[ci][build]
	return r, nil
}

// Close releases the files.
func (db *DB) Close() error {
	var errs []error
	for _, s := range db.countries {
		errs = append(errs, s.closer())
	}
	for _, set := range db.asns {
		for _, s := range set {
			errs = append(errs, s.closer())
		}
	}
	return errors.Join(errs...)
}

func openCountry(path string) (*source, error) {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		return nil, fmt.Errorf("country database %s: CSV country files are not supported; use the mmdb build", path)
	}
	return openMMDBCountry(path)
}

func openASN(path string) (*source, error) {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		return openRangeCSV(path)
	}
	return openMMDBASN(path)
}
