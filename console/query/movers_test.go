package query

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"testing"
)

// The z statistics and p-values were computed independently with Python's statistics.NormalDist
// (p = 2·(1 − Φ(|z|)), pooled standard error), tests/modern/test_sql.py test_two_proportion_reference
// recomputes them.
func TestTwoProportion(t *testing.T) {
	for _, c := range []struct {
		k1, n1, k2, n2 uint64
		z, p           float64
	}{
		{26500, 100000, 41500, 100000, -70.80514800462758, 0},
		{3000, 100000, 2910, 100000, 1.1883987513387646, 0.23467634814418692},
		{12, 1000, 4, 1000, 2.008048322256247, 0.04463815697483531},
		{0, 10, 0, 10, 0, 1},
		{5, 0, 5, 10, 0, 1},
	} {
		z, p := TwoProportion(c.k1, c.n1, c.k2, c.n2)
		if math.Abs(z-c.z) > 1e-9 || math.Abs(p-c.p) > 1e-12 {
			t.Errorf("TwoProportion(%d/%d, %d/%d) = %v, %v; want %v, %v", c.k1, c.n1, c.k2, c.n2, z, p, c.z, c.p)
		}
	}
}

// The demo's two periods (the Sophos 2004 and 2005 profiles, 100,000 messages each): China's rise
// and the falls of the United States and South Korea are beyond chance, Canada's 2.91% → 3.00% is
// not; Unknown is never a mover. The top 6 are the table's (Unknown holds one of its rows, though
// it is never named): France enters them and Germany leaves them; Poland, seventh, is not in them.
func TestFindMovers(t *testing.T) {
	// counts sorts the groups largest first, as Reader.Counts does, after twenty small countries
	// whose shares hardly move (filler: now 20,590 messages, before 20,410).
	counts := func(filler [2]uint64, groups ...Count) Counts {
		for i := range 20 {
			groups = append(groups, Count{Key: fmt.Sprintf("F%02d", i), Messages: filler[i%2]})
		}
		slices.SortFunc(groups, func(a, b Count) int { return cmp.Compare(b.Messages, a.Messages) })
		c := Counts{Grouping: ByCountry, Groups: groups}
		for _, g := range groups {
			c.Total.Messages += g.Messages
		}
		return c
	}
	g := func(k string, n uint64) Count { return Count{Key: k, Messages: n} }
	now := counts([2]uint64{1030, 1029}, g("US", 26500), g("CN", 22300), g("KR", 9700), g("FR", 5000), g("CA", 3000), g("PL", 2000), g("DE", 1900), g("ZZ", 9000), g("AQ", 10))
	then := counts([2]uint64{1021, 1020}, g("US", 41500), g("KR", 15420), g("CN", 11620), g("DE", 3000), g("CA", 2910), g("FR", 1240), g("PL", 900), g("ZZ", 3000))
	if now.Total.Messages != 100_000 || then.Total.Messages != 100_000 {
		t.Fatalf("totals %d, %d", now.Total.Messages, then.Total.Messages)
	}
	m := FindMovers(now, then, 6, DefaultMoverRule)
	keys := func(ms []Mover) []string {
		var out []string
		for _, x := range ms {
			out = append(out, x.Key)
		}
		return out
	}
	if got := keys(m.Risen); !slices.Equal(got, []string{"CN", "FR", "PL"}) {
		t.Errorf("risen %v", got)
	}
	if got := keys(m.Fallen); !slices.Equal(got, []string{"US", "KR", "DE"}) {
		t.Errorf("fallen %v", got)
	}
	for _, mv := range append(m.Risen, m.Fallen...) {
		if mv.Key == "CA" || mv.Key == "ZZ" || len(mv.Key) == 3 || mv.P >= 0.01 {
			t.Errorf("%s is a mover (p %v)", mv.Key, mv.P)
		}
	}
	if us := m.Fallen[0]; math.Abs(us.ChangePP-(-15)) > 1e-9 || us.Share != 26.5 || us.PreviousShare != 41.5 {
		t.Errorf("US: %+v", us)
	}
	if m.TooFew != 1 || m.Tested != 27 { // AQ: 10 messages; ZZ not tested
		t.Errorf("tested %d, too few %d", m.Tested, m.TooFew)
	}
	if !slices.Equal(m.Entered, []string{"FR"}) || !slices.Equal(m.Left, []string{"DE"}) {
		t.Errorf("entered %v, left %v the top 6", m.Entered, m.Left)
	}
}
