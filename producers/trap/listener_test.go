package trap

import (
	"net"
	"testing"
)

// A link-local client's zone is dropped, so its event is valid and classified link-local.
func TestAddrOfDropsZone(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 25, Zone: "eth0"}, "fe80::1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 25}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 25}, "2001:db8::1"},
	} {
		if got := addrOf(tc.addr); got.String() != tc.want {
			t.Errorf("addrOf(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}
