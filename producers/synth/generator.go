package synth

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/schemas/event"
)

// idNamespace makes synthetic event IDs: UUIDv5 of profile, seed, size and index, so the same
// run repeated yields the same IDs.
var idNamespace = uuid.MustParse("8d1f5c2e-4b7a-4f0e-9a51-3c6d2e8b7f10")

// Generator produces the events of a plan: countries in exact counts, in random order, with
// source addresses drawn from each country's own networks and times spread uniformly over each
// segment's intervals. The same inputs always produce the same events.
type Generator struct {
	profile  *Profile
	plan     Plan
	networks map[string]picker
	seed     uint64
	trapID   string
}

// NewGenerator prepares a generator; networks are the GeoIP database's networks by country.
func NewGenerator(p *Profile, plan Plan, networks map[string][]netip.Prefix, seed uint64, trapID string) (*Generator, error) {
	g := &Generator{profile: p, plan: plan, seed: seed, trapID: trapID, networks: map[string]picker{}}
	for _, s := range plan.Segments {
		for _, c := range s.Countries {
			if _, ok := g.networks[c]; ok {
				continue
			}
			pk, err := newPicker(networks[c])
			if err != nil {
				return nil, fmt.Errorf("country %s: %w", c, err)
			}
			g.networks[c] = pk
		}
	}
	return g, nil
}

// Events yields every event of the plan once, segment after segment.
func (g *Generator) Events() iter.Seq[event.Raw] {
	return func(yield func(event.Raw) bool) {
		rng := rand.New(rand.NewPCG(g.seed, 0x73796e7468))
		name := fmt.Appendf(nil, "%s/%d/%d/", g.profile.Name, g.seed, g.plan.Total())
		i := int64(0)
		for _, seg := range g.plan.Segments {
			remaining := slices.Clone(seg.Counts)
			var left int64
			for _, n := range remaining {
				left += n
			}
			var span int64 // seconds in all the segment's intervals
			for _, iv := range seg.Intervals {
				span += iv.End.Unix() - iv.From.Unix()
			}
			for ; left > 0; i++ {
				// Draw a country in proportion to what it has left: exact counts, random order.
				r := rng.Int64N(left)
				c := 0
				for ; r >= remaining[c]; c++ {
					r -= remaining[c]
				}
				remaining[c]--
				left--
				src := g.networks[seg.Countries[c]].pick(rng)
				e := event.Raw{
					SchemaVersion: event.SchemaVersion,
					EventID:       uuid.NewSHA1(idNamespace, fmt.Appendf(name, "%d", i)).String(),
					ReceivedAt:    instant(seg.Intervals, rng.Int64N(span)),
					TrapID:        g.trapID,
					Collector:     event.CollectorSynth,
					SourceIP:      src,
					HELO:          helo(rng, src),
					MailFrom:      sender(rng),
					RcptCount:     1 + rng.IntN(5),
					Size:          size(rng),
				}
				if !yield(e) {
					return
				}
			}
		}
	}
}

// instant is the moment offset seconds into the intervals laid end to end.
func instant(intervals []Interval, offset int64) time.Time {
	for _, iv := range intervals {
		if d := iv.End.Unix() - iv.From.Unix(); offset >= d {
			offset -= d
			continue
		}
		return time.Unix(iv.From.Unix()+offset, 0).UTC()
	}
	return intervals[len(intervals)-1].End.Add(-time.Second).UTC()
}

// picker draws addresses uniformly from a set of networks (IPv6 networks weigh at most as much
// as a /96, so one large IPv6 block does not swallow a country's IPv4 space).
type picker struct {
	prefixes   []netip.Prefix
	cumulative []uint64
}

func newPicker(prefixes []netip.Prefix) (picker, error) {
	if len(prefixes) == 0 {
		return picker{}, fmt.Errorf("no networks to draw addresses from")
	}
	p := picker{prefixes: prefixes}
	var sum uint64
	for _, pr := range prefixes {
		sum += uint64(1) << min(pr.Addr().BitLen()-pr.Bits(), 32)
		p.cumulative = append(p.cumulative, sum)
	}
	return p, nil
}

func (p picker) pick(rng *rand.Rand) netip.Addr {
	r := rng.Uint64N(p.cumulative[len(p.cumulative)-1])
	i, _ := slices.BinarySearch(p.cumulative, r+1)
	pr := p.prefixes[i].Masked()
	hostBits := pr.Addr().BitLen() - pr.Bits()
	if pr.Addr().Is4() {
		b := pr.Addr().As4()
		v := binary.BigEndian.Uint32(b[:])
		if hostBits > 0 {
			v |= uint32(rng.Uint64N(uint64(1) << hostBits))
		}
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrFrom4(b)
	}
	b := pr.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	rlo, rhi := rng.Uint64(), rng.Uint64()
	if hostBits < 64 {
		lo |= rlo & (uint64(1)<<hostBits - 1)
	} else {
		lo |= rlo
		if hostBits < 128 {
			hi |= rhi & (uint64(1)<<(hostBits-64) - 1)
		} else {
			hi |= rhi
		}
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

var (
	heloWords   = []string{"mail", "smtp", "mx", "relay", "user", "pc", "host", "dsl", "cable"}
	senderWords = []string{"info", "sales", "offer", "news", "promo", "admin", "winner", "deal"}
	domains     = []string{"example.com", "example.net", "example.org", "mailer.example", "bulk.example"}
)

// helo imitates what spamming hosts announce: a bare word, a made-up name, or an address literal.
func helo(rng *rand.Rand, src netip.Addr) string {
	switch rng.IntN(3) {
	case 0:
		return heloWords[rng.IntN(len(heloWords))]
	case 1:
		return fmt.Sprintf("%s%d.%s", heloWords[rng.IntN(len(heloWords))], rng.IntN(1000), domains[rng.IntN(len(domains))])
	}
	return "[" + src.String() + "]"
}

func sender(rng *rand.Rand) string {
	if rng.IntN(20) == 0 {
		return "" // null sender
	}
	return fmt.Sprintf("%s%d@%s", senderWords[rng.IntN(len(senderWords))], rng.IntN(10000), domains[rng.IntN(len(domains))])
}

// size draws a message size from a log-normal distribution with a median near 5 KB.
func size(rng *rand.Rand) int64 {
	return int64(min(max(math.Exp(8.5+0.8*rng.NormFloat64()), 300), 10<<20))
}
