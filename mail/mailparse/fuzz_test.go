package mailparse

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse keeps its promises on any input, with the default limits and with
// tiny ones that every input reaches.
func FuzzParse(f *testing.F) {
	spam, err := os.ReadFile("testdata/spam.eml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(spam)
	f.Add([]byte(""))
	f.Add([]byte("Subject: =?x-bogus?Q?caf=E9?=\r\nFrom: J\xf6rg\r\n\r\nwww.example.com"))
	f.Add([]byte(" stray\nSubj\xe9ct: no\nSubject: yes\n\nhttp://[::1]:80/"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n" +
		"Content-Type: text/html; charset=koi8-r\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D//x.example>=\r\n</a>\r\n--b--\r\n--a--\r\n"))
	f.Add([]byte("Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n\r\naHR0cDovL2EuZXhhbXBsZS8=\x00=="))
	tiny := Limits{MaxHeaderBytes: 64, MaxReceived: 1, MaxParts: 2, MaxDepth: 1, MaxPartScanBytes: 16,
		MaxScanBytes: 24, MaxURLHosts: 1, MaxStringBytes: 7}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkMessage(t, Parse(raw, DefaultLimits()), DefaultLimits())
		checkMessage(t, Parse(raw, tiny), tiny)
	})
}

// FuzzParseReceived checks that ParseReceived returns valid, bounded strings and only an address
// that is written in its input.
func FuzzParseReceived(f *testing.F) {
	fixtures, err := filepath.Glob("testdata/received/*.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, fixture := range fixtures {
		f.Add(readFixture(f, filepath.Base(fixture)))
	}
	f.Add("from a (b [IPv6:::ffff:1.2.3.4%eth0]:25) by c")
	f.Add("from x@[1.2.3.4 (HELO 5.6.7.8) (helo=[9.9.9.9]) 10.0.0.1:99 by 11.1.1.1 for <a@[12.1.1.1]>;")
	f.Fuzz(func(t *testing.T, value string) {
		hop := ParseReceived(value)
		for _, s := range []string{hop.Raw, hop.FromName, hop.FromRDNS, hop.By, hop.With} {
			if !utf8.ValidString(s) || len(s) > defaultMaxStringBytes {
				t.Errorf("string of %d bytes, valid UTF-8 %v: %.80q", len(s), utf8.ValidString(s), s)
			}
		}
		if hop.FromIP.IsValid() && !addrWrittenIn(hop.FromIP, value) {
			t.Errorf("address %v is not written in %q", hop.FromIP, value)
		}
	})
}

// addrWrittenIn reports whether addr is written in text, in any of the forms an address takes: a
// run of address characters, or a part of one between colons ("IPv6:2001:db8::1", "1.2.3.4:25").
func addrWrittenIn(addr netip.Addr, text string) bool {
	notAddrChar := func(r rune) bool {
		return !(r == ':' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
	}
	for _, run := range strings.FieldsFunc(text, notAddrChar) {
		bounds := []int{0}
		for i := range len(run) {
			if run[i] == ':' {
				bounds = append(bounds, i, i+1)
			}
		}
		bounds = append(bounds, len(run))
		for _, start := range bounds {
			for _, end := range bounds {
				if start < end {
					if written, err := netip.ParseAddr(run[start:end]); err == nil && written == addr {
						return true
					}
				}
			}
		}
	}
	return false
}
