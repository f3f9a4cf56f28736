package geoip

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"strconv"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Space is an amount of address space: IPv4 addresses and IPv6 /64 networks. A network longer
// than /64 counts as one /64; sums saturate at the largest uint64.
type Space struct {
	IPv4 uint64
	IPv6 uint64 // /64 networks
}

func (s *Space) add(p netip.Prefix) {
	if p.Addr().Is4() {
		s.IPv4 = saturatingAdd(s.IPv4, 1<<(32-p.Bits()))
		return
	}
	if p.Bits() <= 0 {
		s.IPv6 = math.MaxUint64
		return
	}
	s.IPv6 = saturatingAdd(s.IPv6, 1<<(64-min(p.Bits(), 64)))
}

func saturatingAdd(a, b uint64) uint64 {
	if sum, carry := bits.Add64(a, b, 0); carry == 0 {
		return sum
	}
	return math.MaxUint64
}

// BuildSpace is the address space one database build places in each country (Kind "country",
// keys ISO codes) or network (Kind "asn", keys AS numbers in decimal). Build is the build as
// events name it: the first part of an event's geoip_build for a country build, the part after
// "; " for an ASN build.
type BuildSpace struct {
	Build  string
	Kind   string
	Spaces map[string]Space
}

// AddressSpace walks every network of the loaded databases whose build want accepts (nil: all)
// and sums, per build, the address space it places in each country and each network. Networks
// without a country or AS number are left out; IPv4 networks reached through IPv6 aliases
// (::ffff:0:0/96, 6to4) are counted once, as IPv4.
func (db *DB) AddressSpace(want func(build string) bool) ([]BuildSpace, error) {
	var out []BuildSpace
	for _, s := range db.countries {
		if want != nil && !want(s.buildID) {
			continue
		}
		spaces, err := s.space()
		if err != nil {
			return nil, fmt.Errorf("address space of %s: %w", s.buildID, err)
		}
		out = append(out, BuildSpace{Build: s.buildID, Kind: "country", Spaces: spaces})
	}
	for _, set := range db.asns {
		for _, s := range set {
			if want != nil && !want(s.buildID) {
				continue
			}
			spaces, err := s.space()
			if err != nil {
				return nil, fmt.Errorf("address space of %s: %w", s.buildID, err)
			}
			out = append(out, BuildSpace{Build: s.buildID, Kind: "asn", Spaces: spaces})
		}
	}
	return out, nil
}

// walkMMDB sums the space of every network of r under the key that key decodes from its
// record ("" leaves the network out).
func walkMMDB[T any](r *maxminddb.Reader, key func(*T) string) (map[string]Space, error) {
	out := map[string]Space{}
	// A file holds a few thousand distinct records for hundreds of thousands of networks: each
	// is decoded once (decoding every network's left the enricher's start a heap of garbage).
	keys := map[uintptr]string{}
	for n := range r.Networks() {
		if err := n.Err(); err != nil {
			return nil, err
		}
		k, ok := keys[n.Offset()]
		if !ok {
			var rec T
			if err := n.Decode(&rec); err != nil {
				return nil, fmt.Errorf("decode network %s: %w", n.Prefix(), err)
			}
			k = key(&rec)
			keys[n.Offset()] = k
		}
		if k != "" {
			s := out[k]
			s.add(n.Prefix())
			out[k] = s
		}
	}
	return out, nil
}

func countrySpace(r *maxminddb.Reader) func() (map[string]Space, error) {
	return func() (map[string]Space, error) { return walkMMDB(r, (*anyCountryRecord).code) }
}

type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
}

func asnSpace(r *maxminddb.Reader) func() (map[string]Space, error) {
	return func() (map[string]Space, error) {
		return walkMMDB(r, func(rec *asnRecord) string {
			if rec.ASN == 0 {
				return ""
			}
			return strconv.FormatUint(uint64(rec.ASN), 10)
		})
	}
}

// space sums the rows of a range table by AS number; an IPv6 row counts the /64 networks it
// touches.
func (t *rangeTable) space() (map[string]Space, error) {
	out := map[string]Space{}
	for _, r := range t.v4 {
		k := strconv.FormatUint(uint64(r.asn), 10)
		s := out[k]
		s.IPv4 = saturatingAdd(s.IPv4, uint64(r.end-r.start)+1)
		out[k] = s
	}
	for _, r := range t.v6 {
		k := strconv.FormatUint(uint64(r.asn), 10)
		s := out[k]
		s.IPv6 = saturatingAdd(s.IPv6, saturatingAdd(r.end.hi-r.start.hi, 1))
		out[k] = s
	}
	delete(out, "0")
	return out, nil
}
