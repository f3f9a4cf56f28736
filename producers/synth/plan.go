package synth

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Plan is the exact number of events each country gets, segment by segment: a stretch of time
// whose events are spread uniformly over it.
type Plan struct {
	Segments []Segment
}

// Segment is one or more time intervals sharing one set of counts.
type Segment struct {
	Intervals []Interval
	Countries []string
	Counts    []int64
}

// Interval is [From, End).
type Interval struct{ From, End time.Time }

// Total is the number of events in the plan.
func (p Plan) Total() int64 {
	var n int64
	for _, s := range p.Segments {
		for _, c := range s.Counts {
			n += c
		}
	}
	return n
}

// Totals sums the plan's counts by country, largest first.
func (p Plan) Totals() (codes []string, counts []int64) {
	sum := map[string]int64{}
	for _, s := range p.Segments {
		for i, c := range s.Countries {
			sum[c] += s.Counts[i]
		}
	}
	codes = slices.Collect(maps.Keys(sum))
	slices.SortFunc(codes, func(a, b string) int {
		if sum[a] != sum[b] {
			return int(sum[b] - sum[a])
		}
		return map[bool]int{true: -1, false: 1}[a < b]
	})
	for _, c := range codes {
		counts = append(counts, sum[c])
	}
	return codes, counts
}

// restEpsilon is the leftover percentage below which a table is taken to list everything.
const restEpsilon = 1e-6

// tableEvents is the granularity of a history profile's tables: each gets a multiple of this
// many events, so shares given to two decimals come out exactly.
const tableEvents = 10_000

// NewPlan turns a profile into exact counts. A one-period profile gets exactly total events. A
// history profile gets about total: each table a multiple of 10,000 events in proportion to its
// days, so every published table, nested ones included, is reproduced exactly. available are
// the countries the GeoIP database has networks for; a table's rest is spread over the others
// (chosen by seed), each kept to at most half the table's smallest listed share.
func NewPlan(p *Profile, total int64, available []string, seed uint64) (Plan, error) {
	if total < 0 {
		return Plan{}, fmt.Errorf("event count %d is negative", total)
	}
	have := map[string]bool{}
	for _, c := range available {
		have[c] = true
	}
	tables := p.Tables()
	for _, t := range tables {
		for _, s := range t.Shares {
			if !have[s.Country] {
				return Plan{}, fmt.Errorf("profile %s: the GeoIP database has no networks for %s", p.Name, s.Country)
			}
		}
	}
	others := []string{}
	for _, c := range available {
		if countries.Continent(c) != "" {
			others = append(others, c)
		}
	}
	slices.Sort(others)
	rng := rand.New(rand.NewPCG(seed, 0x7265737421))
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })

	sizes := []int64{total}
	if len(tables) > 1 {
		sizes = historySizes(tables, total)
	}
	// Inner tables first: an outer table's own events are what its counts leave over them.
	order := make([]int, len(tables))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(tables[a].End().Sub(tables[a].From.Time), tables[b].End().Sub(tables[b].From.Time))
	})
	var plan Plan
	done := map[int]map[string]int64{} // table index -> counts of the table as a whole
	for _, i := range order {
		t := tables[i]
		inner := map[string]int64{}
		var holes []Interval
		for j, counts := range done {
			if j != i && t.contains(tables[j]) {
				for c, n := range counts {
					inner[c] += n
				}
				holes = append(holes, Interval{tables[j].From.Time, tables[j].End()})
			}
		}
		own, err := allocate(p.Name, t, sizes[i], inner, others)
		if err != nil {
			return Plan{}, err
		}
		whole := maps.Clone(inner)
		seg := Segment{Intervals: subtract(Interval{t.From.Time, t.End()}, holes)}
		for _, c := range slices.Sorted(maps.Keys(own)) {
			if own[c] > 0 {
				seg.Countries = append(seg.Countries, c)
				seg.Counts = append(seg.Counts, own[c])
				whole[c] += own[c]
			}
		}
		done[i] = whole
		if len(seg.Countries) > 0 {
			plan.Segments = append(plan.Segments, seg)
		}
	}
	slices.SortFunc(plan.Segments, func(a, b Segment) int { return a.Intervals[0].From.Compare(b.Intervals[0].From) })
	return plan, nil
}

// historySizes gives each table a multiple of tableEvents in proportion to its days, at the
// rate that total spread over every table's days would give.
func historySizes(tables []Table, total int64) []int64 {
	var days float64
	for _, t := range tables {
		days += t.End().Sub(t.From.Time).Hours() / 24
	}
	out := make([]int64, len(tables))
	for i, t := range tables {
		d := t.End().Sub(t.From.Time).Hours() / 24
		out[i] = max(1, int64(math.Round(float64(total)*d/days/tableEvents))) * tableEvents
	}
	return out
}

// allocate returns what table t must add to inner (the counts of the tables inside it) so that
// t as a whole holds n events in its shares. Its rest goes to countries outside its list, each
// kept to half its smallest listed share; others is their (seeded) order of preference.
func allocate(profile string, t Table, n int64, inner map[string]int64, others []string) (map[string]int64, error) {
	var weights []float64
	smallest := math.Inf(1)
	for _, s := range t.Shares {
		weights = append(weights, s.Percent)
		smallest = min(smallest, s.Percent)
	}
	rest := max(0, t.Rest())
	weights = append(weights, rest)
	counts := largestRemainder(weights, n)
	own := map[string]int64{}
	listed := map[string]bool{}
	for i, s := range t.Shares {
		listed[s.Country] = true
		own[s.Country] = counts[i] - inner[s.Country]
		if own[s.Country] < 0 {
			return nil, fmt.Errorf("profile %s: %s holds %d events of %s inside its period but only %d in all of %s; give the tables more events",
				profile, t.period(), inner[s.Country], s.Country, counts[i], t.period())
		}
	}
	pool := counts[len(counts)-1]
	for c, k := range inner {
		if !listed[c] {
			pool -= k
		}
	}
	if pool < 0 {
		return nil, fmt.Errorf("profile %s: the tables inside %s leave it no room for its rest; give the tables more events", profile, t.period())
	}
	if pool == 0 || rest <= restEpsilon {
		return own, nil
	}
	limit := max(1, int64(math.Floor(float64(n)*smallest/2/100)))
	var room []string
	for _, c := range others {
		if !listed[c] && inner[c] < limit {
			room = append(room, c)
		}
	}
	k := int((pool + limit - 1) / limit)
	if k > len(room) {
		return nil, fmt.Errorf("profile %s: spreading the remaining %.2f%% of %s needs %d other countries, the GeoIP database has %d",
			profile, rest, t.period(), k, len(room))
	}
	// Even shares over k countries; one already fuller from the inner tables takes less and
	// the next country the difference.
	share := (pool + int64(k) - 1) / int64(k)
	for _, c := range room {
		if pool == 0 {
			break
		}
		give := min(limit-inner[c], share, pool)
		own[c] += give
		pool -= give
	}
	if pool > 0 {
		return nil, fmt.Errorf("profile %s: %d events of the rest of %s found no country with room", profile, pool, t.period())
	}
	return own, nil
}

// subtract cuts holes out of an interval.
func subtract(iv Interval, holes []Interval) []Interval {
	slices.SortFunc(holes, func(a, b Interval) int { return a.From.Compare(b.From) })
	var out []Interval
	from := iv.From
	for _, h := range holes {
		if h.From.After(from) {
			out = append(out, Interval{from, h.From})
		}
		if h.End.After(from) {
			from = h.End
		}
	}
	if iv.End.After(from) {
		out = append(out, Interval{from, iv.End})
	}
	return out
}

// largestRemainder apportions total in proportion to weights, exactly.
func largestRemainder(weights []float64, total int64) []int64 {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	counts := make([]int64, len(weights))
	if sum == 0 {
		return counts
	}
	fractions := make([]float64, len(weights))
	var assigned int64
	for i, w := range weights {
		q := float64(total) * w / sum
		counts[i] = int64(math.Floor(q))
		fractions[i] = q - math.Floor(q)
		assigned += counts[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case fractions[a] > fractions[b]:
			return -1
		case fractions[a] < fractions[b]:
			return 1
		}
		return 0
	})
	for i := 0; assigned < total; i++ {
		counts[order[i%len(order)]]++
		assigned++
	}
	return counts
}
