package geoip

import "net/netip"

// Class says what kind of address a source is. Only public addresses are looked up; the others
// cannot be placed on a map and are reported under their own code (countries.Reserved).
type Class string

// The classes, from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
// its updates).
const (
	Public        Class = "public"
	Private       Class = "private"       // RFC 1918, IPv6 unique local (fc00::/7)
	Loopback      Class = "loopback"      // 127/8, ::1
	LinkLocal     Class = "link-local"    // 169.254/16, fe80::/10
	CGNAT         Class = "cgnat"         // shared address space, 100.64/10 (RFC 6598)
	Documentation Class = "documentation" // TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20
	Multicast     Class = "multicast"     // 224/4, ff00::/8
	Reserved      Class = "reserved"      // everything else not globally reachable
)

var special = []struct {
	prefix netip.Prefix
	class  Class
}{
	{netip.MustParsePrefix("0.0.0.0/8"), Reserved},
	{netip.MustParsePrefix("10.0.0.0/8"), Private},
	{netip.MustParsePrefix("100.64.0.0/10"), CGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), Loopback},
	{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), Private},
	{netip.MustParsePrefix("192.0.0.0/24"), Reserved},
	{netip.MustParsePrefix("192.0.2.0/24"), Documentation},
	{netip.MustParsePrefix("192.88.99.0/24"), Reserved},
	{netip.MustParsePrefix("192.168.0.0/16"), Private},
	{netip.MustParsePrefix("198.18.0.0/15"), Reserved},
	{netip.MustParsePrefix("198.51.100.0/24"), Documentation},
	{netip.MustParsePrefix("203.0.113.0/24"), Documentation},
	{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
	{netip.MustParsePrefix("240.0.0.0/4"), Reserved},
	{netip.MustParsePrefix("::/128"), Reserved},
	{netip.MustParsePrefix("::1/128"), Loopback},
	{netip.MustParsePrefix("64:ff9b:1::/48"), Reserved},
	{netip.MustParsePrefix("100::/64"), Reserved},
	{netip.MustParsePrefix("2001::/23"), Reserved},
	{netip.MustParsePrefix("2001:db8::/32"), Documentation},
	{netip.MustParsePrefix("3fff::/20"), Documentation},
	{netip.MustParsePrefix("fc00::/7"), Private},
	{netip.MustParsePrefix("fe80::/10"), LinkLocal},
	{netip.MustParsePrefix("ff00::/8"), Multicast},
}

// mayBeSpecial says, by first IPv4 octet or first IPv6 byte, whether an address can fall in a
// special range at all: nearly all sources are public, and most are known so from one byte.
var mayBeSpecial4, mayBeSpecial6 = func() (v4, v6 [256]bool) {
	for _, s := range special {
		a := s.prefix.Addr()
		first := int(a.AsSlice()[0])
		last := first
		if bits := s.prefix.Bits(); bits < 8 {
			last = first | (0xff >> bits)
		}
		for b := first; b <= last; b++ {
			if a.Is4() {
				v4[b] = true
			} else {
				v6[b] = true
			}
		}
	}
	return v4, v6
}()

// Classify returns the class of addr; IPv4-mapped addresses are classified as IPv4, and a zone
// (fe80::1%eth0) is ignored: netip.Prefix.Contains never matches a zoned address.
func Classify(addr netip.Addr) Class {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return Reserved
	}
	if addr.Is4() && !mayBeSpecial4[addr.As4()[0]] || addr.Is6() && !mayBeSpecial6[addr.As16()[0]] {
		return Public
	}
	// Globally reachable exceptions inside 2001::/23 (Teredo, AMT, AS112, ORCHIDv2).
	if addr.Is6() && (globalIn2001.Contains(addr) || teredo.Contains(addr)) {
		return Public
	}
	for _, s := range special {
		if s.prefix.Contains(addr) {
			return s.class
		}
	}
	return Public
}

var (
	teredo       = netip.MustParsePrefix("2001::/32")
	globalIn2001 = netip.MustParsePrefix("2001:3::/32") // AMT; the smaller AS112/ORCHIDv2 blocks are rare enough to stay reserved
)
