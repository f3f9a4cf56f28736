package geoip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ipv4Table answers the IPv4 lookups of a country file from a flat table built when the file is
// opened: the start of every range of addresses the file gives one answer (or none), ascending,
// with a direct index by the top 16 bits, so a lookup is one index read and a binary search among
// the few ranges of a /16. The search tree answers the same with a walk of up to 32 nodes spread
// over the file, and a record cache read after it; most trap traffic is IPv4.
type ipv4Table struct {
	starts  []uint32 // range i covers starts[i] .. starts[i+1]-1 (the last one, to the end of IPv4)
	answers []int32  // index into values; -1: the file places nothing there
	values  []countryAnswer
	// first[h] is the range holding address h<<16; the ranges of a /16 h are first[h]..first[h+1].
	first [1<<16 + 1]int32
}

// newIPv4Table walks the IPv4 networks of r, decoding each distinct record once with decode. It
// walks them twice, counting the ranges first: the table is sized once, where growing it would
// leave twice its size of garbage at the enricher's start (its peak memory is a goal).
func newIPv4Table(r *maxminddb.Reader, decode func(maxminddb.Result) (countryAnswer, error)) (*ipv4Table, error) {
	t := &ipv4Table{}
	n, err := ipv4Ranges(r, func(uint32, int32) {}, func(maxminddb.Result) (int32, error) { return 0, nil })
	if err != nil {
		return nil, err
	}
	t.starts, t.answers = make([]uint32, 0, n), make([]int32, 0, n)
	byOffset := map[uintptr]int32{}
	_, err = ipv4Ranges(r, func(start uint32, answer int32) {
		t.starts, t.answers = append(t.starts, start), append(t.answers, answer)
	}, func(res maxminddb.Result) (int32, error) {
		if idx, ok := byOffset[res.Offset()]; ok {
			return idx, nil
		}
		a, err := decode(res)
		if err != nil {
			return 0, fmt.Errorf("decode network %s: %w", res.Prefix(), err)
		}
		idx := int32(len(t.values))
		t.values = append(t.values, a)
		byOffset[res.Offset()] = idx
		return idx, nil
	})
	if err != nil {
		return nil, err
	}
	for h := range 1 << 16 {
		addr := uint32(h) << 16
		// The last range starting at or before addr.
		i, found := slices.BinarySearch(t.starts, addr)
		if !found {
			i--
		}
		t.first[h] = int32(i)
	}
	t.first[1<<16] = int32(len(t.starts) - 1)
	return t, nil
}

// ipv4Ranges calls add for every range of the IPv4 space in order, with the answer index that
// answer gives its network (-1 for the gaps between networks), merging neighbours with the same
// answer by record offset. It returns how many ranges it added.
func ipv4Ranges(r *maxminddb.Reader, add func(start uint32, answer int32), answer func(maxminddb.Result) (int32, error)) (int, error) {
	count, last, lastOffset := 0, int32(-2), uintptr(0)
	emit := func(start uint64, a int32, offset uintptr) {
		if count > 0 && a == last && (a == -1 || offset == lastOffset) {
			return // the same answer continues
		}
		add(uint32(start), a)
		count, last, lastOffset = count+1, a, offset
	}
	var next uint64 // the first address not yet covered by a range
	for n := range r.NetworksWithin(netip.PrefixFrom(netip.IPv4Unspecified(), 0)) {
		if err := n.Err(); err != nil {
			return 0, err
		}
		p := n.Prefix()
		if !p.Addr().Is4() {
			return 0, fmt.Errorf("IPv4 walk met %s", p)
		}
		b := p.Addr().As4()
		start := uint64(binary.BigEndian.Uint32(b[:]))
		if start < next {
			return 0, fmt.Errorf("IPv4 networks out of order at %s", p)
		}
		if start > next {
			emit(next, -1, 0)
		}
		a, err := answer(n)
		if err != nil {
			return 0, err
		}
		emit(start, a, n.Offset())
		next = start + 1<<(32-p.Bits())
	}
	if next < 1<<32 || count == 0 {
		emit(next, -1, 0)
	}
	return count, nil
}

// lookup answers an IPv4 address; false when the file places nothing there.
func (t *ipv4Table) lookup(addr netip.Addr) (countryAnswer, bool) {
	b := addr.As4()
	v := binary.BigEndian.Uint32(b[:])
	h := v >> 16
	lo, hi := int(t.first[h]), int(t.first[h+1])
	// The last range of lo..hi starting at or before v.
	for lo < hi {
		mid := int(uint(lo+hi+1) >> 1)
		if t.starts[mid] <= v {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if a := t.answers[lo]; a >= 0 {
		return t.values[a], true
	}
	return countryAnswer{}, false
}
