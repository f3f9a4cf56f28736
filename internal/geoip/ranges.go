package geoip

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// rangeTable is an ip-location-db ASN range file held in memory: rows "start,end,asn,organisation"
// with IPv4 or IPv6 bounds, sorted by start and searched by bisection within the rows that share
// the key's top 16 bits. Organisation names are stored once each.
type rangeTable struct {
	v4         []rangeRow[uint32]
	v6         []rangeRow[uint128]
	v4at, v6at *rangeIndex // nil when there are no rows of the family
	orgs       []string
}

// rangeIndex narrows the bisection: at[h] is the number of rows starting below the keys whose
// top 16 bits are h. Bisecting all 412,000 IPv4 rows of the real file missed the cache at
// nearly every step; a bucket holds a few rows.
type rangeIndex [1<<16 + 1]uint32

func indexRows[T any](rows []rangeRow[T], ops keyOps[T]) *rangeIndex {
	if len(rows) == 0 {
		return nil
	}
	at := new(rangeIndex)
	h := 0
	for i, r := range rows {
		for ; h <= int(ops.top(r.start)); h++ {
			at[h] = uint32(i)
		}
	}
	for ; h < len(at); h++ {
		at[h] = uint32(len(rows))
	}
	return at
}

type uint128 struct{ hi, lo uint64 }

func (a uint128) compare(b uint128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

type rangeRow[T any] struct {
	start, end T
	asn        uint32
	org        uint32 // index into rangeTable.orgs
}

func v4key(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func v6key(a netip.Addr) uint128 {
	b := a.As16()
	return uint128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// openRangeCSV reads a whole range file. A malformed row is an error naming its line: a
// partly read table would answer wrongly without saying so. CSV files carry no build date;
// the file is named by its content hash.
func openRangeCSV(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ASN ranges: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	t, err := readRanges(io.TeeReader(bufio.NewReaderSize(f, 1<<20), h))
	if err != nil {
		return nil, fmt.Errorf("ASN ranges %s: %w", path, err)
	}
	if len(t.v4)+len(t.v6) == 0 {
		return nil, fmt.Errorf("ASN ranges %s: no rows", path)
	}
	return &source{
		buildID: filepath.Base(path) + "#" + hex.EncodeToString(h.Sum(nil)[:6]),
		asn:     t.asn,
		space:   t.space,
		closer:  func() error { return nil },
	}, nil
}

func readRanges(r io.Reader) (*rangeTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	t := &rangeTable{}
	orgIndex := map[string]uint32{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if start.Is4() != end.Is4() || end.Less(start) {
			return nil, fmt.Errorf("line %d: %s-%s is not a range", line, start, end)
		}
		org, ok := orgIndex[rec[3]]
		if !ok {
			org = uint32(len(t.orgs))
			// A field shares its memory with the whole line: copied, only the name stays alive.
			name := strings.Clone(rec[3])
			t.orgs = append(t.orgs, name)
			orgIndex[name] = org
		}
		if start.Is4() {
			t.v4 = append(t.v4, rangeRow[uint32]{v4key(start), v4key(end), uint32(asn), org})
		} else {
			t.v6 = append(t.v6, rangeRow[uint128]{v6key(start), v6key(end), uint32(asn), org})
		}
	}
	t.v4 = flatten(t.v4, v4ops)
	t.v6 = flatten(t.v6, v6ops)
	t.v4at, t.v6at = indexRows(t.v4, v4ops), indexRows(t.v6, v6ops)
	return t, nil
}

// keyOps are what flatten needs of a key type.
type keyOps[T any] struct {
	compare func(a, b T) int
	next    func(T) (T, bool) // false when T is the largest key
	prev    func(T) T
	top     func(T) uint16 // the key's top 16 bits
}

var v4ops = keyOps[uint32]{
	compare: cmp.Compare[uint32],
	next:    func(k uint32) (uint32, bool) { return k + 1, k != math.MaxUint32 },
	prev:    func(k uint32) uint32 { return k - 1 },
	top:     func(k uint32) uint16 { return uint16(k >> 16) },
}

var v6ops = keyOps[uint128]{
	compare: uint128.compare,
	next: func(k uint128) (uint128, bool) {
		if k.lo != math.MaxUint64 {
			return uint128{k.hi, k.lo + 1}, true
		}
		return uint128{k.hi + 1, 0}, k.hi != math.MaxUint64
	},
	prev: func(k uint128) uint128 {
		if k.lo != 0 {
			return uint128{k.hi, k.lo - 1}
		}
		return uint128{k.hi - 1, math.MaxUint64}
	},
	top: func(k uint128) uint16 { return uint16(k.hi >> 48) },
}

// flatten turns ranges that may nest (routing data lists a more specific announcement inside
// the block that holds it) into disjoint segments, each answered by the innermost range that
// covers it, as a longest-prefix match would. Bisection then finds the one candidate segment.
func flatten[T any](rows []rangeRow[T], ops keyOps[T]) []rangeRow[T] {
	// Outer ranges before the ranges they contain: by start, then by end descending.
	slices.SortStableFunc(rows, func(a, b rangeRow[T]) int {
		if c := ops.compare(a.start, b.start); c != 0 {
			return c
		}
		return ops.compare(b.end, a.end)
	})
	// Sized for the usual case of ranges that do not nest: growing it by doubling left its
	// copies behind as garbage at the enricher's start, its peak memory.
	out := make([]rangeRow[T], 0, len(rows))
	var open []rangeRow[T]
	var cursor T
	exhausted := false // cursor has passed the largest key
	emit := func(r rangeRow[T], end T) {
		if exhausted || ops.compare(cursor, end) > 0 {
			return
		}
		out = append(out, rangeRow[T]{start: cursor, end: end, asn: r.asn, org: r.org})
		var ok bool
		cursor, ok = ops.next(end)
		exhausted = !ok
	}
	for _, r := range rows {
		for len(open) > 0 && ops.compare(open[len(open)-1].end, r.start) < 0 {
			emit(open[len(open)-1], open[len(open)-1].end)
			open = open[:len(open)-1]
		}
		if len(open) > 0 && ops.compare(cursor, r.start) < 0 {
			emit(open[len(open)-1], ops.prev(r.start))
		}
		if len(open) == 0 {
			cursor, exhausted = r.start, false
		}
		open = append(open, r)
	}
	for len(open) > 0 {
		emit(open[len(open)-1], open[len(open)-1].end)
		open = open[:len(open)-1]
	}
	return out
}

func (t *rangeTable) asn(addr netip.Addr) (uint32, string, bool, error) {
	if addr.Is4() {
		return find(t, t.v4, t.v4at, v4key(addr), v4ops)
	}
	return find(t, t.v6, t.v6at, v6key(addr), v6ops)
}

func find[T any](t *rangeTable, rows []rangeRow[T], at *rangeIndex, k T, ops keyOps[T]) (uint32, string, bool, error) {
	if len(rows) == 0 {
		return 0, "", false, nil
	}
	// The last row starting at or before k is the only one that can hold it: one of the rows
	// sharing k's top bits, or else the row before them.
	h := int(ops.top(k))
	lo, hi := int(at[h]), int(at[h+1])
	n, _ := slices.BinarySearchFunc(rows[lo:hi], k, func(r rangeRow[T], k T) int {
		if ops.compare(r.start, k) <= 0 {
			return -1
		}
		return 1
	})
	i := lo + n
	if i == 0 || ops.compare(k, rows[i-1].end) > 0 {
		return 0, "", false, nil
	}
	r := rows[i-1]
	return r.asn, t.orgs[r.org], true, nil
}

// ASNNetwork is one network of an ASN range file and who announces it.
type ASNNetwork struct {
	Prefix netip.Prefix
	ASN    uint32
	Org    string
}

// ASNNetworks lists the networks of an ip-location-db ASN range file as CIDR prefixes, each
// answered by the innermost range that covers it, exactly as Lookup answers: disjoint, so a
// longest-prefix table built from them (a ClickHouse ip_trie dictionary, say) agrees with Lookup.
func ASNNetworks(path string) ([]ASNNetwork, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ASN ranges: %w", err)
	}
	defer f.Close()
	t, err := readRanges(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("ASN ranges %s: %w", path, err)
	}
	var out []ASNNetwork
	add := func(start, end netip.Addr, asn, org uint32) {
		for _, p := range netipx.IPRangeFrom(start, end).Prefixes() {
			out = append(out, ASNNetwork{Prefix: p, ASN: asn, Org: t.orgs[org]})
		}
	}
	for _, r := range t.v4 {
		add(v4addr(r.start), v4addr(r.end), r.asn, r.org)
	}
	for _, r := range t.v6 {
		add(v6addr(r.start), v6addr(r.end), r.asn, r.org)
	}
	return out, nil
}

func v4addr(k uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], k)
	return netip.AddrFrom4(b)
}

func v6addr(k uint128) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}
