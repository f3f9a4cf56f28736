package campaign

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip"
)

// Resolver answers which addresses a host name has (hosting.Resolver does, through the
// configured DNS server).
type Resolver interface {
	Lookup(ctx context.Context, host string) ([]netip.Addr, error)
}

// Placer places an address (geoip.DB does).
type Placer interface {
	Lookup(addr netip.Addr, at time.Time) (geoip.Result, error)
}

// ResolveHosts looks up the advertised hosts of the summaries and places their addresses as of
// now. A host that fails to resolve is reported in errs and skipped; the others are still
// resolved. Hosts that are IP addresses are placed without a lookup.
func ResolveHosts(ctx context.Context, r Resolver, geo Placer, summaries []Summary, now time.Time) (out []Resolution, errs []error) {
	seen := map[string]bool{}
	for _, s := range summaries {
		for _, h := range s.Hosts {
			if seen[h.Name] {
				continue
			}
			seen[h.Name] = true
			addrs, err := hostAddrs(ctx, r, h.Name)
			if err != nil {
				if ctx.Err() != nil {
					return out, append(errs, ctx.Err())
				}
				errs = append(errs, err)
				continue
			}
			for _, a := range addrs {
				res, err := geo.Lookup(a, now)
				if err != nil {
					errs = append(errs, fmt.Errorf("place %s (%s): %w", a, h.Name, err))
					continue
				}
				out = append(out, Resolution{ResolvedAt: now, Host: h.Name, Domain: h.Domain, Address: a,
					Country: res.Country, ASN: res.ASN, ASOrg: res.ASOrg, GeoIPBuild: res.Build})
			}
		}
	}
	return out, errs
}

func hostAddrs(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	return r.Lookup(ctx, host)
}
