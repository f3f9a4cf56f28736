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
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// rangeTable is an ip-location-db ASN range file held in memory: rows "start,end,asn,organisation"
// with IPv4 or IPv6 bounds, sorted by start and searched by bisection. Organisation names are
// stored once each.
type rangeTable struct {
	v4      []rangeRow[uint32]
	v6      []rangeRow[uint128]
	orgs    []string
	buildID string
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
// partly read table would answer wrongly without saying so.
func openRangeCSV(path string) (*rangeTable, error) {
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
	t.buildID = filepath.Base(path) + "#" + hex.EncodeToString(h.Sum(nil)[:6])
	return t, nil
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
			t.orgs = append(t.orgs, rec[3])
			orgIndex[rec[3]] = org
		}
		if start.Is4() {
			t.v4 = append(t.v4, rangeRow[uint32]{v4key(start), v4key(end), uint32(asn), org})
		} else {
			t.v6 = append(t.v6, rangeRow[uint128]{v6key(start), v6key(end), uint32(asn), org})
		}
	}
	slices.SortFunc(t.v4, func(a, b rangeRow[uint32]) int { return cmp.Compare(a.start, b.start) })
	slices.SortFunc(t.v6, func(a, b rangeRow[uint128]) int { return a.start.compare(b.start) })
	return t, nil
}

func (t *rangeTable) asn(addr netip.Addr) (uint32, string, bool, error) {
	if addr.Is4() {
		return find(t, t.v4, v4key(addr), cmp.Compare[uint32])
	}
	return find(t, t.v6, v6key(addr), uint128.compare)
}

func find[T any](t *rangeTable, rows []rangeRow[T], k T, compare func(a, b T) int) (uint32, string, bool, error) {
	// The last row starting at or before k is the only one that can hold it.
	i, _ := slices.BinarySearchFunc(rows, k, func(r rangeRow[T], k T) int {
		if compare(r.start, k) <= 0 {
			return -1
		}
		return 1
	})
	if i == 0 || compare(k, rows[i-1].end) > 0 {
		return 0, "", false, nil
	}
	r := rows[i-1]
	return r.asn, t.orgs[r.org], true, nil
}

func (t *rangeTable) build() string { return t.buildID }
func (t *rangeTable) Close() error  { return nil }
