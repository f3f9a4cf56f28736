package geoip

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]Class{
		"8.8.8.8": Public, "30.1.2.3": Public, "2a00:1::1": Public, "2001:0:4136:e378::1": Public,
		"10.1.2.3": Private, "172.16.0.1": Private, "172.31.255.255": Private, "172.32.0.1": Public,
		"192.168.1.1": Private, "fd00::1": Private,
		"127.0.0.1": Loopback, "::1": Loopback, "::ffff:127.0.0.1": Loopback,
		"169.254.1.1": LinkLocal, "fe80::1": LinkLocal,
		"100.64.0.1": CGNAT, "100.127.255.255": CGNAT, "100.128.0.1": Public,
		"192.0.2.1": Documentation, "198.51.100.1": Documentation, "203.0.113.9": Documentation, "2001:db8::1": Documentation,
		"224.0.0.1": Multicast, "ff02::1": Multicast,
		"0.0.0.0": Reserved, "240.0.0.1": Reserved, "255.255.255.255": Reserved, "198.18.0.1": Reserved, "::": Reserved,
		"2001:2::1": Reserved,
	} {
		if got := Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %s, want %s", addr, got, want)
		}
	}
	if got := Classify(netip.Addr{}); got != Reserved {
		t.Errorf("Classify(zero) = %s", got)
	}
}

// Issue 18, finding 8: fe80::1%eth0 was classified public (and so enriched ZZ) because
// netip.Prefix.Contains never matches a zoned address. A zone does not change the class.
func TestClassifyZonedAddress(t *testing.T) {
	for addr, want := range map[string]Class{
		"fe80::1%eth0": LinkLocal, "fe80::1%1": LinkLocal, "ff02::1%eth0": Multicast, "fd00::1%lo": Private,
		"::1%lo": Loopback, "2001:db8::1%x": Documentation, "::ffff:169.254.1.1%eth0": LinkLocal, "2a00:1::1%eth0": Public,
	} {
		if got := Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %s, want %s", addr, got, want)
		}
	}
}
