package geoip

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// readMMDB reads an mmdb file into memory and opens it there. maxminddb.Open maps the file
// instead, and a file overwritten in place under a mapping (cp over it, a truncate) kills the
// process with SIGBUS at the next lookup touching a page that went away. A copy read mid-write
// is at worst damaged, and refused by openChecked.
func readMMDB(path string) (*maxminddb.Reader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return r, nil
}

// openChecked reads an mmdb file and walks its whole search tree, decoding every distinct
// record once, so a truncated or corrupt file is refused before it answers a lookup. It
// returns the top-level keys of the records, which tell the layout.
func openChecked(path string) (*maxminddb.Reader, map[string]bool, error) {
	r, err := readMMDB(path)
	if err != nil {
		return nil, nil, err
	}
	keys := map[string]bool{}
	seen := map[uintptr]bool{}
	for n := range r.Networks() {
		if err := n.Err(); err != nil {
			r.Close()
			return nil, nil, fmt.Errorf("%s is damaged: %w", path, err)
		}
		if seen[n.Offset()] {
			continue
		}
		seen[n.Offset()] = true
		var rec map[string]any
		if err := n.Decode(&rec); err != nil {
			r.Close()
			return nil, nil, fmt.Errorf("%s is damaged: record of %s: %w", path, n.Prefix(), err)
		}
		for k := range rec {
			keys[k] = true
		}
	}
	if len(seen) == 0 {
		r.Close()
		return nil, nil, fmt.Errorf("%s holds no networks", path)
	}
	return r, keys, nil
}

func newSource(r *maxminddb.Reader) *source {
	md := r.Metadata
	built := time.Unix(int64(md.BuildEpoch), 0).UTC()
	return &source{
		built:   built,
		buildID: fmt.Sprintf("%s@%s", md.DatabaseType, built.Format("2006-01-02")),
		closer:  r.Close,
	}
}

// recordCache keeps each decoded record by its offset in the data section: a database holds a
// few thousand distinct records for millions of networks, so after warm-up a lookup is a tree
// walk and a map read.
type recordCache[T any] struct{ m sync.Map }

func (c *recordCache[T]) get(res maxminddb.Result, decode func(maxminddb.Result) (T, error)) (T, error) {
	off := res.Offset()
	if v, ok := c.m.Load(off); ok {
		return v.(T), nil
	}
	v, err := decode(res)
	if err != nil {
		return v, err
	}
	c.m.Store(off, v)
	return v, nil
}

// openMMDBCountry opens a country file. Records in the GeoIP2 layout (country, City and DB-IP
// databases) are decoded into geoip2-golang's City model, which also reads Country records;
// flat records into their single country_code.
func openMMDBCountry(path string) (*source, error) {
	r, keys, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	var decode func(maxminddb.Result) (countryAnswer, error)
	switch {
	case keys["country"] || keys["registered_country"]:
		decode = decodeGeoIP2
	case keys["country_code"]:
		decode = decodeFlat
	default:
		r.Close()
		return nil, fmt.Errorf("country database %s (%s): records carry no country", path, r.Metadata.DatabaseType)
	}
	s := newSource(r)
	s.space = countrySpace(r)
	v4, err := newIPv4Table(r, decode)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("country database %s: %w", path, err)
	}
	var cache recordCache[countryAnswer]
	s.country = func(addr netip.Addr) (countryAnswer, error) {
		if addr.Is4() {
			a, _ := v4.lookup(addr)
			return a, nil
		}
		res := r.Lookup(addr)
		if err := res.Err(); err != nil || !res.Found() {
			return countryAnswer{}, err
		}
		return cache.get(res, decode)
	}
	return s, nil
}

func decodeGeoIP2(res maxminddb.Result) (countryAnswer, error) {
	var rec geoip2.City
	if err := res.Decode(&rec); err != nil {
		return countryAnswer{}, err
	}
	// Anycast and some hosting networks only carry the registration country.
	a := countryAnswer{country: rec.Country.ISOCode, continent: rec.Continent.Code, city: rec.City.Names.English}
	if a.country == "" {
		a.country = rec.RegisteredCountry.ISOCode
	}
	if len(rec.Subdivisions) > 0 && rec.Subdivisions[0].ISOCode != "" && a.country != "" {
		a.subdivision = a.country + "-" + rec.Subdivisions[0].ISOCode
	}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		a.lat, a.lon, a.hasLocation = *rec.Location.Latitude, *rec.Location.Longitude, true
	}
	return a, nil
}

func decodeFlat(res maxminddb.Result) (countryAnswer, error) {
	var rec struct {
		CountryCode string `maxminddb:"country_code"`
	}
	err := res.Decode(&rec)
	// Flat records carry no continent: derived here, it is cached with the record.
	return countryAnswer{country: rec.CountryCode, continent: countries.Continent(rec.CountryCode)}, err
}

// openMMDBASN opens an ASN file in the GeoLite2-ASN layout (as also written by DB-IP and
// ip-location-db), decoding records into geoip2-golang's ASN model.
func openMMDBASN(path string) (*source, error) {
	r, keys, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	if !keys["autonomous_system_number"] {
		r.Close()
		return nil, fmt.Errorf("ASN database %s (%s): records have no autonomous_system_number field",
			path, r.Metadata.DatabaseType)
	}
	s := newSource(r)
	s.space = asnSpace(r)
	var cache recordCache[geoip2.ASN]
	s.asn = func(addr netip.Addr) (uint32, string, bool, error) {
		res := r.Lookup(addr)
		if err := res.Err(); err != nil || !res.Found() {
			return 0, "", false, err
		}
		rec, err := cache.get(res, func(res maxminddb.Result) (geoip2.ASN, error) {
			var rec geoip2.ASN
			err := res.Decode(&rec)
			return rec, err
		})
		return uint32(rec.AutonomousSystemNumber), rec.AutonomousSystemOrganization, rec.AutonomousSystemNumber != 0, err
	}
	return s, nil
}
