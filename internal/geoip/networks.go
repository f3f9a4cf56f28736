package geoip

import (
	"fmt"
	"net/netip"
)

// anyCountryRecord reads the country of a record in the GeoIP2 layout and in the flat one.
type anyCountryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	CountryCode string `maxminddb:"country_code"`
}

func (r *anyCountryRecord) code() string {
	switch {
	case r.Country.ISOCode != "":
		return r.Country.ISOCode
	case r.RegisteredCountry.ISOCode != "":
		return r.RegisteredCountry.ISOCode
	}
	return r.CountryCode
}

// CountryNetworks lists the networks of a country database by country code, IPv4 only unless
// ipv6 is set; networks without a country are left out. The synthetic generator draws source
// addresses from these, so every address it makes is placed back in its country by the same file.
func CountryNetworks(path string, ipv6 bool) (map[string][]netip.Prefix, error) {
	r, err := readMMDB(path)
	if err != nil {
		return nil, fmt.Errorf("country database: %w", err)
	}
	defer r.Close()
	out := map[string][]netip.Prefix{}
	for n := range r.Networks() {
		if err := n.Err(); err != nil {
			return nil, fmt.Errorf("read networks of %s: %w", path, err)
		}
		p := n.Prefix()
		if !p.Addr().Is4() && !ipv6 {
			continue
		}
		var rec anyCountryRecord
		if err := n.Decode(&rec); err != nil {
			return nil, fmt.Errorf("decode network %s of %s: %w", p, path, err)
		}
		if cc := rec.code(); cc != "" {
			out[cc] = append(out[cc], p)
		}
	}
	return out, nil
}
