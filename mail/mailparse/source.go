package mailparse

import (
	"fmt"
	"net/netip"
	"strings"
)

// Source is the rule's answer for where a message came from.
type Source struct {
	IP     netip.Addr // zero when no usable hop was found
	Hop    int        // index into Received of the hop that gave IP, -1 when none
	Header string     // the Raw of that header, for evidence
	// Reason is how IP was chosen, "first-untrusted-hop", or why there is none: "no-received",
	// "only-trusted-hops", "no-ip-in-hop".
	Reason string
}

// FindSource walks the Received chain from the top and returns the address of the first hop
// handed over by a machine not in trusted. Hop 0 is written by our own MX, so its "from" names the
// machine that handed the message to us; when that machine is one of our relays (in trusted) or
// has a non-public address (see IsPublic), the hop below tells who handed it to that machine, and
// so on. Hops below the source were written by machines we do not control and are ignored, forged
// or not. Hops without an address are skipped. IPv4-mapped IPv6 addresses are unmapped.
func FindSource(hops []Hop, trusted []netip.Prefix) Source {
	if len(hops) == 0 {
		return Source{Hop: -1, Reason: "no-received"}
	}
	reason := "no-ip-in-hop"
	for i, hop := range hops {
		if !hop.FromIP.IsValid() {
			continue
		}
		reason = "only-trusted-hops"
		ip := hop.FromIP.Unmap()
		if !IsPublic(ip) || contains(trusted, ip) {
			continue
		}
		return Source{IP: ip, Hop: i, Header: hop.Raw, Reason: "first-untrusted-hop"}
	}
	return Source{Hop: -1, Reason: reason}
}

func contains(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, prefix := range prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// IsPublic reports whether addr is a globally routable unicast address: not private (RFC 1918,
// RFC 4193), loopback, link-local, unspecified, multicast, broadcast, nor in a special-purpose
// block that is not globally reachable. IPv4-mapped IPv6 addresses are judged as IPv4.
func IsPublic(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" || !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	if addr.Is6() && !globalUnicast6.Contains(addr) {
		return false
	}
	return !contains(notGloballyReachable, addr)
}

// globalUnicast6 is the only IPv6 block IANA allocates for global unicast; the rest (NAT64,
// discard, IPv4-compatible, reserved) are never a sending machine's own address.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// notGloballyReachable lists the blocks of the IANA IPv4 and IPv6 special-purpose address
// registries that are not globally reachable and that netip's predicates do not already cover
// (those cover RFC 1918, ULA, loopback, link-local, multicast, unspecified).
var notGloballyReachable = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the limited broadcast address
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, benchmarking, ORCHID)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
}

// ParsePrefixes reads a list of networks, such as the trusted relays FindSource skips: CIDRs or
// single addresses, comma separated or one per element.
func ParsePrefixes(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}
