package geoip

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
				for _, b := range []netip.Addr{a, a.Prev(), a.Next()} {
					if b.IsValid() {
						checkAgainstBisection(t, table, b)
					}
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

// checkAgainstBisection fails unless the indexed lookup of addr answers as a bisection of all
// rows does.
func checkAgainstBisection(t *testing.T, table *rangeTable, addr netip.Addr) {
	t.Helper()
	var want uint32
	if addr.Is4() {
		want = bisect(table.v4, v4key(addr), v4ops)
	} else {
		want = bisect(table.v6, v6key(addr), v6ops)
	}
	if got, _, _, _ := table.asn(addr); got != want {
		t.Fatalf("%s: AS%d, bisecting every row gives AS%d", addr, got, want)
	}
}

func bisect[T any](rows []rangeRow[T], k T, ops keyOps[T]) uint32 {
	i, _ := slices.BinarySearchFunc(rows, k, func(r rangeRow[T], k T) int {
		if ops.compare(r.start, k) <= 0 {
			return -1
		}
		return 1
	})
	if i == 0 || ops.compare(k, rows[i-1].end) > 0 {
		return 0
	}
	return rows[i-1].asn
}

// Ranges of every size, many crossing the 16-bit buckets of the index, with gaps between them.
func TestIndexedLookupAgreesWithBisection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var rows strings.Builder
	for i := range 20_000 {
		start := rng.Uint32()
		end := start + rng.Uint32N(1<<uint(rng.IntN(24)))
		if end < start {
			end = start
		}
		fmt.Fprintf(&rows, "%s,%s,%d,org\n", v4addr(start), v4addr(end), i+1)
		hi := uint64(0x2000+rng.IntN(16))<<48 | rng.Uint64()>>16
		fmt.Fprintf(&rows, "%s,%s,%d,org\n", v6addr(uint128{hi, 0}), v6addr(uint128{hi + rng.Uint64N(1<<20), rng.Uint64()}), i+1)
	}
	table, err := readRanges(strings.NewReader(rows.String()))
	if err != nil {
		t.Fatal(err)
	}
	for range 200_000 {
		checkAgainstBisection(t, table, v4addr(rng.Uint32()))
		checkAgainstBisection(t, table, v6addr(uint128{uint64(0x2000+rng.IntN(16))<<48 | rng.Uint64()>>16, rng.Uint64()}))
	}
	for _, r := range table.v4 { // the edges of every segment
		for _, k := range []uint32{r.start, r.start - 1, r.end, r.end + 1} {
			checkAgainstBisection(t, table, v4addr(k))
		}
	}
}
