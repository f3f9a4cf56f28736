package geoip

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Routing data nests more specific ranges inside larger blocks; the innermost range answers.
func TestNestedRangesInnermostWins(t *testing.T) {
	table, err := readRanges(strings.NewReader(strings.Join([]string{
		"1.0.0.0,1.0.0.255,1,outer",
		"1.0.0.16,1.0.0.31,2,inner",
		"1.0.0.20,1.0.0.21,3,innermost",
		"1.0.0.200,1.0.1.10,4,straddles the end of outer",
		"255.255.255.0,255.255.255.255,5,top",
		"::,::ffff,6,v6 outer",
		"::10,::20,7,v6 inner",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,8,v6 top",
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]uint32{
		"1.0.0.0": 1, "1.0.0.15": 1, "1.0.0.16": 2, "1.0.0.19": 2, "1.0.0.20": 3, "1.0.0.21": 3,
		"1.0.0.22": 2, "1.0.0.31": 2, "1.0.0.32": 1, "1.0.0.199": 1, "1.0.0.200": 4, "1.0.0.255": 4,
		"1.0.1.10": 4, "1.0.1.11": 0, "0.255.255.255": 0, "255.255.255.255": 5,
		"::f": 6, "::10": 7, "::20": 7, "::21": 6, "::ffff": 6, "::1:0": 0,
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 8,
	} {
		asn, _, found, err := table.asn(netip.MustParseAddr(addr))
		if err != nil || asn != want || found != (want != 0) {
			t.Errorf("%s: AS%d found=%v err=%v, want AS%d", addr, asn, found, err, want)
		}
	}
}

func FuzzReadRanges(f *testing.F) {
	f.Add([]byte("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n2001::,2001::ffff,6939,HE\n"))
	f.Add([]byte("1.0.0.0,1.0.0.0,1,x\n0.0.0.0,255.255.255.255,2,y\n"))
	f.Add([]byte("::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,3,z\n::5,::6,4,w\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := readRanges(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 1; i < len(table.v4); i++ {
			if table.v4[i].start <= table.v4[i-1].end {
				t.Fatalf("segments %d and %d overlap", i-1, i)
			}
		}
		for i := 1; i < len(table.v6); i++ {
			if table.v6[i].start.compare(table.v6[i-1].end) <= 0 {
				t.Fatalf("IPv6 segments %d and %d overlap", i-1, i)
			}
		}
		// Every address that starts or ends an input range is covered. The records are read as
		// CSV, as readRanges reads them: a quoted name may span lines.
		records, _ := csv.NewReader(bytes.NewReader(data)).ReadAll()
		for _, fields := range records {
			if len(fields) < 2 {
				continue
			}
			for _, f := range fields[:2] {
				a, err := netip.ParseAddr(f)
				if err != nil {
					continue
				}
				if _, _, found, _ := table.asn(a); !found {
					t.Fatalf("%s bounds an input range but is not found", a)
				}
			}
		}
	})
}

// The prefixes ASNNetworks gives answer every address as the range table does.
func TestASNNetworksAgreeWithLookup(t *testing.T) {
	rows := strings.Join([]string{
		"1.0.0.0,1.0.0.255,1,outer", "1.0.0.16,1.0.0.31,2,inner", "1.0.0.20,1.0.0.21,3,innermost",
		"1.0.0.200,1.0.1.10,4,straddles", "::,::ffff,6,v6 outer", "::10,::20,7,v6 inner",
	}, "\n")
	path := filepath.Join(t.TempDir(), "asn.csv")
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	nets, err := ASNNetworks(path)
	if err != nil {
		t.Fatal(err)
	}
	table, _ := readRanges(strings.NewReader(rows))
	for _, a := range []string{"1.0.0.0", "1.0.0.17", "1.0.0.20", "1.0.0.22", "1.0.0.100", "1.0.0.200", "1.0.1.10", "1.0.1.11", "::1", "::10", "::21", "::1:0"} {
		addr := netip.MustParseAddr(a)
		var got uint32
		for _, n := range nets {
			if n.Prefix.Contains(addr) {
				if got != 0 {
					t.Errorf("%s is in two networks", a)
				}
				got = n.ASN
			}
		}
		want, _, _, _ := table.asn(addr)
		if got != want {
			t.Errorf("%s: prefixes say AS%d, the table AS%d", a, got, want)
		}
	}
}
