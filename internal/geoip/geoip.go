// Package geoip answers "which country, continent and network is this address in" from the
// GeoIP files users hold: MaxMind GeoIP2/GeoLite2 and DB-IP files in the GeoIP2 layout (read
// with geoip2-golang), flat ip-location-db mmdb files ({"country_code": "US"}), and
// ip-location-db ASN range files in CSV. It does not download or update databases.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Configuration says which files to read.
type Configuration struct {
	// CountryDatabase is an .mmdb file answering country (and, in the GeoIP2 layout, continent):
	// GeoIP2/GeoLite2 Country or City, DB-IP Country/City Lite, or an ip-location-db country mmdb.
	CountryDatabase string
	// ASNDatabases are files answering AS number and organisation: GeoLite2-ASN layout .mmdb
	// files, or ip-location-db CSV range files (start,end,asn,organisation). Several files are
	// consulted in order, so IPv4 and IPv6 range files can be given side by side. May be empty.
	ASNDatabases []string
}

// Result is the geography of one address.
type Result struct {
	Country   string // ISO 3166-1 alpha-2, countries.Unknown when the database has no answer
	Continent string // GeoIP continent code, "" when unknown
	ASN       uint32 // 0 when unknown
	ASOrg     string
}

// countrySource and asnSource are the two kinds of file a DB combines.
type countrySource interface {
	country(addr netip.Addr) (country, continent string, err error)
	build() string
	Close() error
}

type asnSource interface {
	asn(addr netip.Addr) (asn uint32, org string, found bool, err error)
	build() string
	Close() error
}

// DB combines one country source with any number of ASN sources. It is safe for concurrent use.
type DB struct {
	countries countrySource
	asns      []asnSource
	buildID   string
}

// Open opens and sanity-checks the configured files, detecting each file's layout.
func Open(cfg Configuration) (*DB, error) {
	if cfg.CountryDatabase == "" {
		return nil, errors.New("no country database configured")
	}
	db := &DB{}
	var err error
	if db.countries, err = openCountry(cfg.CountryDatabase); err != nil {
		return nil, err
	}
	builds := []string{db.countries.build()}
	for _, path := range cfg.ASNDatabases {
		src, err := openASN(path)
		if err != nil {
			db.Close()
			return nil, err
		}
		db.asns = append(db.asns, src)
		builds = append(builds, src.build())
	}
	db.buildID = strings.Join(builds, "; ")
	return db, nil
}

// Build identifies the files answering, for the geoip_build field of enriched events.
func (db *DB) Build() string { return db.buildID }

// Lookup returns the geography of addr. IPv4-mapped IPv6 addresses are looked up as IPv4. An
// address the files do not cover gets countries.Unknown; an error means a file is damaged.
func (db *DB) Lookup(addr netip.Addr) (Result, error) {
	addr = addr.Unmap()
	var r Result
	var err error
	if r.Country, r.Continent, err = db.countries.country(addr); err != nil {
		return Result{}, fmt.Errorf("country lookup of %s: %w", addr, err)
	}
	if r.Country == "" {
		r.Country = countries.Unknown
	}
	if r.Continent == "" {
		r.Continent = countries.Continent(r.Country)
	}
	for _, src := range db.asns {
		asn, org, found, err := src.asn(addr)
		if err != nil {
			return Result{}, fmt.Errorf("ASN lookup of %s: %w", addr, err)
		}
		if found {
			r.ASN, r.ASOrg = asn, org
			break
		}
	}
	return r, nil
}

// Close releases the files.
func (db *DB) Close() error {
	var errs []error
	if db.countries != nil {
		errs = append(errs, db.countries.Close())
	}
	for _, src := range db.asns {
		errs = append(errs, src.Close())
	}
	return errors.Join(errs...)
}

func openCountry(path string) (countrySource, error) {
	if strings.HasSuffix(path, ".csv") {
		return nil, fmt.Errorf("country database %s: CSV country files are not supported; use the mmdb build", path)
	}
	return openMMDBCountry(path)
}

func openASN(path string) (asnSource, error) {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		return openRangeCSV(path)
	}
	return openMMDBASN(path)
}
