package query

import (
	"cmp"
	"math"
	"slices"
)

// MoverRule says when a change of share counts as a move: a two-sided two-proportion z-test
// (pooled) at Confidence, and at least MinMessages messages of the group in the two periods
// together, so that a handful of messages never makes a headline.
type MoverRule struct {
	Confidence  float64 // 0.99: a move this large would happen by chance less than 1 time in 100
	MinMessages uint64
}

// DefaultMoverRule is 99% confidence and at least 30 messages.
var DefaultMoverRule = MoverRule{Confidence: 0.99, MinMessages: 30}

// Mover is one group whose share changed between two periods.
type Mover struct {
	Key, Name                  string
	Messages, PreviousMessages uint64
	Share, PreviousShare       float64 // percent of each period's messages
	ChangePP                   float64
	Z, P                       float64 // the test's statistic and two-sided p-value
}

// Movers are the groups whose share rose or fell beyond chance between previous and current,
// largest change first, and the groups that entered or left the top n.
type Movers struct {
	Rule           MoverRule
	Risen, Fallen  []Mover
	Entered, Left  []string // keys, in the order of their period's ranking
	Tested, TooFew int      // groups tested; groups under MinMessages, not tested
}

// TwoProportion tests whether k1 of n1 and k2 of n2 differ beyond chance: the pooled z statistic
// and its two-sided p-value. With no variance (both shares 0 or both 100%) z is 0 and p 1.
func TwoProportion(k1, n1, k2, n2 uint64) (z, p float64) {
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	pooled := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pooled * (1 - pooled) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p1 - p2) / se
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// FindMovers compares every group of current with previous under rule; n is the size of the top
// for newcomers and leavers. Groups that cannot be placed (Unplaced) are left out.
func FindMovers(current, previous Counts, n int, rule MoverRule) Movers {
	m := Movers{Rule: rule}
	before := map[string]Count{}
	for _, c := range previous.Groups {
		before[c.Key] = c
	}
	seen := map[string]bool{}
	test := func(key, name string, now, then uint64) {
		if Unplaced(current.Grouping, key) || seen[key] {
			return
		}
		seen[key] = true
		if now+then < rule.MinMessages {
			m.TooFew++
			return
		}
		m.Tested++
		z, p := TwoProportion(now, current.Total.Messages, then, previous.Total.Messages)
		if p >= 1-rule.Confidence {
			return
		}
		mv := Mover{Key: key, Name: name, Messages: now, PreviousMessages: then, Share: percent(now, current.Total.Messages),
			PreviousShare: percent(then, previous.Total.Messages), Z: z, P: p}
		mv.ChangePP = mv.Share - mv.PreviousShare
		if z > 0 {
			m.Risen = append(m.Risen, mv)
		} else {
			m.Fallen = append(m.Fallen, mv)
		}
	}
	for _, c := range current.Groups {
		test(c.Key, c.Name, c.Messages, before[c.Key].Messages)
	}
	for _, c := range previous.Groups {
		test(c.Key, c.Name, 0, c.Messages)
	}
	bySize := func(a, b Mover) int {
		return cmp.Or(cmp.Compare(math.Abs(b.ChangePP), math.Abs(a.ChangePP)), cmp.Compare(a.Key, b.Key))
	}
	slices.SortFunc(m.Risen, bySize)
	slices.SortFunc(m.Fallen, bySize)
	m.Entered, m.Left = topDifference(current, previous, n), topDifference(previous, current, n)
	return m
}

// topDifference lists the placed groups among a's first n that are not among b's first n: the
// top rows as the table shows them (Compare), unplaced rows included in the count.
func topDifference(a, b Counts, n int) []string {
	top := func(c Counts) []string {
		var keys []string
		for _, g := range c.Groups[:min(n, len(c.Groups))] {
			keys = append(keys, g.Key)
		}
		return keys
	}
	other := top(b)
	var out []string
	for _, k := range top(a) {
		if !Unplaced(a.Grouping, k) && !slices.Contains(other, k) {
			out = append(out, k)
		}
	}
	return out
}
