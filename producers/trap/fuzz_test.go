package trap

import (
	"bufio"
	"bytes"
	"testing"

	proxyproto "github.com/pires/go-proxyproto"
)

// The PROXY protocol header is read by go-proxyproto before the trap sees a byte; whatever a
// client sends there must give an error or a header, never a panic, and a header must name
// addresses the trap can use.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\nHELO x\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"), 203, 0, 113, 9, 192, 0, 2, 1, 0x9c, 0x40, 0, 25))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || h == nil || h.SourceAddr == nil {
			return
		}
		_ = addrOf(h.SourceAddr)
		_ = portOf(h.SourceAddr)
	})
}
