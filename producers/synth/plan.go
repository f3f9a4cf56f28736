package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Plan is the exact number of events each country gets in one run.
type Plan struct {
	Countries []string
	Counts    []int64
}

// Total is the number of events in the plan.
func (p Plan) Total() int64 {
	var n int64
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// restEpsilon is the leftover percentage below which a profile is taken to list everything.
const restEpsilon = 1e-6

// NewPlan turns a profile into exact counts for total events. available are the countries the
// GeoIP database has networks for; the profile's rest is spread evenly over as many of the
// others (chosen by seed) as keeps each at most half the smallest listed share. Counts are
// rounded by the largest-remainder method, so they add up to total exactly.
func NewPlan(p *Profile, total int64, available []string, seed uint64) (Plan, error) {
	if total < 0 {
		return Plan{}, fmt.Errorf("event count %d is negative", total)
	}
	have := map[string]bool{}
	for _, c := range available {
		have[c] = true
	}
	var plan Plan
	var shares []float64
	smallest := math.Inf(1)
	for _, s := range p.Shares {
		if !have[s.Country] {
			return Plan{}, fmt.Errorf("profile %s: the GeoIP database has no networks for %s", p.Name, s.Country)
		}
		plan.Countries = append(plan.Countries, s.Country)
		shares = append(shares, s.Percent)
		smallest = min(smallest, s.Percent)
	}
	if rest := p.Rest(); rest > restEpsilon {
		var others []string
		for _, c := range available {
			if !slices.Contains(plan.Countries, c) && countries.Continent(c) != "" {
				others = append(others, c)
			}
		}
		slices.Sort(others)
		k := int(math.Ceil(rest/(smallest/2) - 1e-9))
		if k > len(others) {
			return Plan{}, fmt.Errorf("profile %s: spreading the remaining %.2f%% needs %d other countries, the GeoIP database has %d",
				p.Name, rest, k, len(others))
		}
		rng := rand.New(rand.NewPCG(seed, 0x7265737421))
		rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		for _, c := range others[:k] {
			plan.Countries = append(plan.Countries, c)
			shares = append(shares, rest/float64(k))
		}
	}
	plan.Counts = largestRemainder(shares, total)
	return plan, nil
}

// largestRemainder apportions total in proportion to weights, exactly.
func largestRemainder(weights []float64, total int64) []int64 {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	counts := make([]int64, len(weights))
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
