package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// buildName names an mmdb build: its database type and build date.
func buildName(md maxminddb.Metadata) string {
	return fmt.Sprintf("%s@%s", md.DatabaseType, time.Unix(int64(md.BuildEpoch), 0).UTC().Format("2006-01-02"))
}

// openChecked opens an mmdb file and walks its whole search tree, decoding every distinct
// record once, so a truncated or corrupt file is refused before it answers a lookup. It
// returns the top-level keys of the records, which tell the layout.
func openChecked(path string) (*maxminddb.Reader, map[string]bool, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
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

// openMMDBCountry opens a country file. Files in the GeoIP2 layout of a type geoip2-golang
// knows are read through it; any other file whose records carry a country (flat country_code,
// or the GeoIP2 layout under an unfamiliar type name) is read through maxminddb directly.
func openMMDBCountry(path string) (countrySource, error) {
	r, keys, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	if !keys["country"] && !keys["registered_country"] && !keys["country_code"] {
		r.Close()
		return nil, fmt.Errorf("country database %s (%s): records carry no country", path, r.Metadata.DatabaseType)
	}
	if keys["country"] || keys["registered_country"] {
		g, err := geoip2.Open(path)
		var unknownType geoip2.UnknownDatabaseTypeError
		switch {
		case err == nil:
			r.Close()
			return geoip2Country{g}, nil
		case !errors.As(err, &unknownType):
			r.Close()
			return nil, fmt.Errorf("open country database %s: %w", path, err)
		}
	}
	return mmdbCountry{r}, nil
}

type geoip2Country struct{ r *geoip2.Reader }

func (g geoip2Country) country(addr netip.Addr) (string, string, error) {
	rec, err := g.r.Country(addr)
	if err != nil {
		return "", "", err
	}
	// Anycast and some hosting networks only carry the registration country.
	cc := rec.Country.ISOCode
	if cc == "" {
		cc = rec.RegisteredCountry.ISOCode
	}
	return cc, rec.Continent.Code, nil
}

func (g geoip2Country) build() string { return buildName(g.r.Metadata()) }
func (g geoip2Country) Close() error  { return g.r.Close() }

type mmdbCountry struct{ r *maxminddb.Reader }

func (m mmdbCountry) country(addr netip.Addr) (string, string, error) {
	var rec anyCountryRecord
	if err := m.r.Lookup(addr).Decode(&rec); err != nil {
		return "", "", err
	}
	return rec.code(), rec.Continent.Code, nil
}

func (m mmdbCountry) build() string { return buildName(m.r.Metadata) }
func (m mmdbCountry) Close() error  { return m.r.Close() }

// openMMDBASN opens an ASN file in the GeoLite2-ASN layout (as also written by DB-IP and
// ip-location-db), decoding records into geoip2-golang's ASN model.
func openMMDBASN(path string) (asnSource, error) {
	r, keys, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	if !keys["autonomous_system_number"] {
		r.Close()
		return nil, fmt.Errorf("ASN database %s (%s): records have no autonomous_system_number field",
			path, r.Metadata.DatabaseType)
	}
	return mmdbASN{r}, nil
}

type mmdbASN struct{ r *maxminddb.Reader }

func (m mmdbASN) asn(addr netip.Addr) (uint32, string, bool, error) {
	res := m.r.Lookup(addr)
	if !res.Found() {
		return 0, "", false, res.Err()
	}
	var rec geoip2.ASN
	if err := res.Decode(&rec); err != nil {
		return 0, "", false, err
	}
	return uint32(rec.AutonomousSystemNumber), rec.AutonomousSystemOrganization, rec.AutonomousSystemNumber != 0, nil
}

func (m mmdbASN) build() string { return buildName(m.r.Metadata) }
func (m mmdbASN) Close() error  { return m.r.Close() }
