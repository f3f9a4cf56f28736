package mailparse

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseReceived parses one fixture per MTA wording in testdata/received, each a header value
// as the MTA folds it.
func TestParseReceived(t *testing.T) {
	tests := []struct {
		file                     string
		ip, name, rdns, by, with string
		time                     string // RFC 3339 with the zone offset written, "" for zero
	}{
		{"postfix.txt", "203.0.113.5", "mail.example.com", "mail.example.com", "mx.example.org", "ESMTPS", "2024-09-03T14:05:09+02:00"},
		{"postfix-unknown-rdns.txt", "192.0.2.44", "helo.example", "", "mx.example.org", "ESMTP", "2024-09-03T12:00:00Z"},
		{"unknown-helo-bracketed.txt", "192.0.2.45", "mailer.localdomain", "", "mx.example.org", "SMTP", "2024-09-03T12:00:00Z"},
		{"postfix-ipv6.txt", "2001:db8::1", "mail.example.net", "mail.example.net", "mx.example.org", "ESMTPS", "2024-09-03T12:00:00Z"},
		{"postfix-helo-literal.txt", "192.0.2.50", "[10.9.8.7]", "", "mx.example.org", "SMTP", "2024-09-03T12:00:00Z"},
		{"exim.txt", "198.51.100.7", "foo", "", "mx.example.org", "esmtp", "2024-09-03T13:04:05+01:00"},
		{"exim-rdns.txt", "198.51.100.7", "foo", "host.example", "mx.example.org", "esmtps", "2024-09-03T13:04:05+01:00"},
		{"exim-port-helo-literal.txt", "198.51.100.8", "[10.0.0.1]", "host.example", "mx.example.org", "esmtp", "2024-09-03T13:04:05+01:00"},
		{"exim-ipv6.txt", "2001:db8::1", "mail.example.net", "", "mx.example.org", "esmtps", "2024-09-03T13:04:05+01:00"},
		{"exim-local.txt", "", "user", "", "mx.example.org", "local", "2024-09-03T13:04:05+01:00"},
		{"sendmail.txt", "198.51.100.7", "foo", "host.example", "mx.example.org", "ESMTP", "2024-09-03T08:04:05-04:00"},
		{"sendmail-ident.txt", "198.51.100.9", "foo", "host.example", "mx.example.org", "ESMTP", "2024-09-03T08:04:05-04:00"},
		{"qmail-helo.txt", "198.51.100.7", "foo", "", "mx.example.org", "SMTP", "2024-09-03T12:04:05Z"},
		{"qmail-helo-literal.txt", "198.51.100.10", "10.0.0.1", "host.example", "mx.example.org", "SMTP", "2024-09-03T12:04:05Z"},
		{"qmail-bare.txt", "198.51.100.7", "", "", "mx.example.org", "SMTP", "2024-09-03T12:04:05Z"},
		{"qmail-local.txt", "", "", "", "", "", "2024-09-03T12:04:05Z"},
		{"exchange.txt", "10.0.0.5", "EXCH01.corp.local", "", "EXCH02.corp.local", "Microsoft SMTP Server", "2024-09-03T12:04:05Z"},
		{"gmail.txt", "209.85.220.41", "mail-sor-f41.google.com", "mail-sor-f41.google.com", "mx.google.com", "SMTPS", "2024-09-03T05:04:05-07:00"},
		{"gmail-internal.txt", "", "", "", "2002:a05:6a10:8c0d:b0:5a3:1c2d:3e4f", "SMTP", "2024-09-03T05:04:06-07:00"},
		{"m365.txt", "40.107.22.101", "EUR05-AM6-obe.outbound.protection.outlook.com", "mail-am6eur05on2101.outbound.protection.outlook.com", "mx.example.org", "ESMTPS", "2024-09-03T14:05:09+02:00"},
		{"m365-ipv6.txt", "2603:10a6:208:ee::15", "AM0PR02MB1234.eurprd02.prod.outlook.com", "", "AM0PR02MB5678.eurprd02.prod.outlook.com", "Microsoft SMTP Server", "2024-09-03T12:04:05Z"},
		{"ipv6-bare.txt", "2001:db8::25", "", "", "mx.example.org", "ESMTP", "2024-09-03T12:04:05+02:00"},
		{"ipv4-port.txt", "192.0.2.9", "relay.example.net", "", "mx.example.org", "ESMTP", "2024-09-03T12:04:05-08:00"},
		{"ipv4-mapped.txt", "::ffff:192.0.2.77", "sender.example.net", "sender.example.net", "mx.example.org", "LMTP", "2024-09-03T12:04:05-08:00"},
		{"http.txt", "192.0.2.88", "webmail.example.net", "webmail.example.net", "mail.example.net", "HTTP", "2024-09-03T12:04:05Z"},
		{"ip-after-by.txt", "192.0.2.99", "relay.example.net", "relay.example.net", "mx.example.org", "ESMTP", "2024-09-03T12:04:05Z"},
		{"garbage.txt", "", "[999.1.1.1]", "", "", "", ""},
		{"garbage-unclosed.txt", "", "from", "", "by", "", ""},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".txt"), func(t *testing.T) {
			value := readFixture(t, tt.file)
			hop := ParseReceived(value)
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			if hop.FromIP != ip || hop.FromName != tt.name || hop.FromRDNS != tt.rdns || hop.By != tt.by || hop.With != tt.with {
				t.Errorf("got ip %v name %q rdns %q by %q with %q\nwant ip %v name %q rdns %q by %q with %q",
					hop.FromIP, hop.FromName, hop.FromRDNS, hop.By, hop.With, ip, tt.name, tt.rdns, tt.by, tt.with)
			}
			if got := formatTime(hop.Time); got != tt.time {
				t.Errorf("time %s, want %s", got, tt.time)
			}
			if want := unfold(value); hop.Raw != want {
				t.Errorf("raw %q, want %q", hop.Raw, want)
			}
		})
	}
	files, _ := filepath.Glob("testdata/received/*.txt")
	for _, file := range files {
		if !covered[filepath.Base(file)] {
			t.Errorf("fixture %s has no expectations", file)
		}
	}
}

func TestParseReceivedLimits(t *testing.T) {
	long := "from " + strings.Repeat("é", 2000) + " ([192.0.2.1]) by mx; Tue, 3 Sep 2024 12:04:05 +0000"
	hop := ParseReceived(long)
	if len(hop.Raw) > defaultMaxStringBytes || len(hop.FromName) > defaultMaxStringBytes {
		t.Errorf("strings not cut: raw %d bytes, name %d bytes", len(hop.Raw), len(hop.FromName))
	}
	if hop.FromIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("ip %v, want 192.0.2.1", hop.FromIP)
	}
	if hop := ParseReceived("from \xff\xfe ([192.0.2.1]) by mx"); hop.FromName != "\uFFFD" {
		t.Errorf("name %q, want invalid bytes replaced", hop.FromName)
	}
}

// formatTime shows the instant and the zone offset, "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "received", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(b)
}
