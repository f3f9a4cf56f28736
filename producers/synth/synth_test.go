package synth

import (
	"encoding/csv"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

func worldCodes() []string {
	var out []string
	for _, c := range geoiptest.World() {
		out = append(out, c.Code)
	}
	return out
}

func TestBuiltinProfilesMatchTheIssue(t *testing.T) {
	for name, want := range map[string]struct {
		us, rest float64
		n        int
	}{
		"sophos-2004-apr-sep": {41.5, 12.79, 12},
		"sophos-2005-apr-sep": {26.5, 18.1, 12},
	} {
		p, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Shares[0].Country != "US" || p.Shares[0].Percent != want.us {
			t.Errorf("%s: first share %+v, want US %v", name, p.Shares[0], want.us)
		}
		if rest := p.Tables()[0].Rest(); math.Abs(rest-want.rest) > 1e-9 || len(p.Shares) != want.n {
			t.Errorf("%s: rest %.4f over %d listed, want %.2f over %d", name, rest, len(p.Shares), want.rest, want.n)
		}
	}
}

func TestParseProfileRejects(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshares: [{country: US, share: 101}]", "more than 100"},
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshares: [{country: USA, share: 10}]", "not an ISO"},
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshares: [{country: US, share: 1}, {country: us, share: 2}]", "twice"},
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshares: [{country: US, share: -1}]", "positive"},
		{"name: x\nfrom: 2005-02-01\nto: 2005-01-31\nshares: [{country: US, share: 1}]", "empty"},
		{"name: x\nfrom: 1 Jan 2005\nto: 2005-01-31\nshares: [{country: US, share: 1}]", "YYYY-MM-DD"},
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshare: [{country: US, share: 1}]", "not found"},
		{"from: 2005-01-01\nto: 2005-01-31\nshares: [{country: US, share: 1}]", "no name"},
		{"name: x\nfrom: 2005-01-01\nto: 2005-01-31\nshares: []", "no countries"},
	} {
		if _, err := ParseProfile([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseProfile(%q) = %v, want an error mentioning %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := LoadProfile("no-such-profile"); err == nil || !strings.Contains(err.Error(), "sophos-2004-apr-sep") {
		t.Errorf("LoadProfile of an unknown name = %v, want the built-in names listed", err)
	}
}

func TestPlanIsExact(t *testing.T) {
	p, _ := LoadProfile("sophos-2004-apr-sep")
	for _, total := range []int64{0, 1, 7, 1000, 100_000, 123_457} {
		plan, err := NewPlan(p, total, worldCodes(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Total() != total {
			t.Fatalf("plan for %d events has %d", total, plan.Total())
		}
		if total != 100_000 {
			continue
		}
		// At 100,000 events every listed share is a whole number of events.
		seg := plan.Segments[0]
		count := map[string]int64{}
		for i, c := range seg.Countries {
			count[c] = seg.Counts[i]
		}
		listed := map[string]bool{}
		for _, s := range p.Shares {
			listed[s.Country] = true
			if want := int64(math.Round(s.Percent * 1000)); count[s.Country] != want {
				t.Errorf("%s: %d events, want %d", s.Country, count[s.Country], want)
			}
		}
		smallest := count["TW"]
		var rest int64
		for c, n := range count {
			if listed[c] {
				continue
			}
			rest += n
			if n*2 > smallest+1 {
				t.Errorf("rest country %s has %d events, more than half of the smallest listed (%d)", c, n, smallest)
			}
		}
		if rest != 12_790 {
			t.Errorf("rest of the world has %d events, want 12790", rest)
		}
	}
}

func TestPlanNeedsTheCountries(t *testing.T) {
	p, _ := LoadProfile("sophos-2005-apr-sep")
	if _, err := NewPlan(p, 10, []string{"US", "CN"}, 1); err == nil || !strings.Contains(err.Error(), "no networks for KR") {
		t.Errorf("plan without KR networks: %v", err)
	}
	few := []string{"US", "CN", "KR", "FR", "CA", "BR", "ES", "AT", "TW", "PL", "JP", "DE", "IT"}
	if _, err := NewPlan(p, 10, few, 1); err == nil || !strings.Contains(err.Error(), "other countries") {
		t.Errorf("plan with too few other countries: %v", err)
	}
}

// Every generated address is placed back in the planned country by the same database, every
// time falls inside the period, counts are exact, and the same seed gives the same events.
func TestGeneratorFollowsPlan(t *testing.T) {
	country, asn := geoiptest.Files(t)
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, _ := LoadProfile("sophos-2005-apr-sep")
	for _, ipv6 := range []bool{false, true} {
		networks, err := geoip.CountryNetworks(country, ipv6)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := NewPlan(p, 20_000, slices.Collect(maps.Keys(networks)), 7)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := NewGenerator(p, plan, networks, 7, "t1")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		ids := map[string]bool{}
		v6 := 0
		for e := range gen.Events() {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
			r, err := db.Lookup(e.SourceIP, e.ReceivedAt)
			if err != nil {
				t.Fatal(err)
			}
			got[r.Country]++
			if tb := p.Tables()[0]; e.ReceivedAt.Before(tb.From.Time) || !e.ReceivedAt.Before(tb.End()) {
				t.Fatalf("event at %s outside %s..%s", e.ReceivedAt, tb.From, tb.To)
			}
			if ids[e.EventID] {
				t.Fatalf("duplicate event id %s", e.EventID)
			}
			ids[e.EventID] = true
			if e.SourceIP.Is6() {
				v6++
			}
		}
		codes, counts := plan.Totals()
		for i, c := range codes {
			if got[c] != counts[i] {
				t.Errorf("ipv6=%v %s: %d events placed, %d planned", ipv6, c, got[c], counts[i])
			}
		}
		if ipv6 != (v6 > 0) {
			t.Errorf("ipv6=%v but %d IPv6 sources", ipv6, v6)
		}
		var first, again []string
		for e := range gen.Events() {
			first = append(first, e.EventID+e.SourceIP.String()+e.ReceivedAt.String())
			if len(first) == 100 {
				break
			}
		}
		for e := range gen.Events() {
			again = append(again, e.EventID+e.SourceIP.String()+e.ReceivedAt.String())
			if len(again) == 100 {
				break
			}
		}
		if !slices.Equal(first, again) {
			t.Error("the same seed gave different events")
		}
	}
}

func TestTimesCoverThePeriod(t *testing.T) {
	p, _ := LoadProfile("sophos-2004-apr-sep")
	country, _ := geoiptest.Files(t)
	networks, _ := geoip.CountryNetworks(country, false)
	plan, _ := NewPlan(p, 30_000, slices.Collect(maps.Keys(networks)), 3)
	gen, _ := NewGenerator(p, plan, networks, 3, "t")
	months := map[time.Month]int{}
	for e := range gen.Events() {
		months[e.ReceivedAt.Month()]++
	}
	for m := time.April; m <= time.September; m++ {
		if months[m] < 4000 || months[m] > 6000 {
			t.Errorf("%s has %d of 30000 events; times are not spread over the period", m, months[m])
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	p, _ := LoadProfile("sophos-2005-apr-sep")
	country, _ := geoiptest.Files(b)
	networks, _ := geoip.CountryNetworks(country, false)
	plan, _ := NewPlan(p, int64(b.N), slices.Collect(maps.Keys(networks)), 1)
	gen, _ := NewGenerator(p, plan, networks, 1, "t")
	b.ResetTimer()
	for range gen.Events() {
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, name := range BuiltinProfiles() {
		data, _ := builtin.ReadFile("profiles/" + name + ".yaml")
		f.Add(data)
	}
	f.Add([]byte("name: x\nfrom: 2005-01-01\nto: 2005-01-01\nshares: [{country: us, share: 100}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			return
		}
		// Whatever parses is usable: a plan over every country yields exactly the asked count
		// for one period (alone or as the only table), and whole tens of thousands for a history.
		var all []string
		for _, s := range p.Shares {
			all = append(all, s.Country)
		}
		all = append(all, worldCodes()...)
		plan, err := NewPlan(p, 997, all, 1)
		if err != nil {
			return // more rest-of-world countries needed than the test world has
		}
		if len(p.Periods) <= 1 && plan.Total() != 997 || len(p.Periods) > 1 && (plan.Total() == 0 || plan.Total()%10_000 != 0) {
			t.Fatalf("plan of %d events for %+v", plan.Total(), p)
		}
	})
}

// The history profile is every table of shared/data/sophos-dirty-dozen.csv, row for row.
func TestHistoryProfileFollowsPublishedTables(t *testing.T) {
	f, err := os.Open(testenv.Path(t, "..", "shared", "data", "sophos-dirty-dozen.csv"))
	if err != nil {
		t.Skipf("the published tables are not beside this checkout: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.LazyQuotes = true
	records, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	published := map[string][]Share{}
	for _, rec := range records {
		if rec[3] == "ZZ" {
			continue
		}
		share, _ := strconv.ParseFloat(rec[5], 64)
		key := rec[0] + ".." + rec[1]
		published[key] = append(published[key], Share{Country: rec[3], Percent: share})
	}
	p, err := LoadProfile("sophos-history")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Periods) != len(published) {
		t.Fatalf("profile has %d tables, the CSV %d", len(p.Periods), len(published))
	}
	for _, tb := range p.Periods {
		want := published[tb.period()]
		got := tb.Shares[:len(want)] // April-September 2005 adds Q4 2005's other rows after the U.S.
		if !slices.Equal(got, want) {
			t.Errorf("%s: profile %v, published %v", tb.period(), got, want)
		}
	}
}

// Every table of the history profile holds exactly in the plan, the nested ones and the year
// around them alike.
func TestHistoryPlanReproducesEveryTable(t *testing.T) {
	p, err := LoadProfile("sophos-history")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(p, 500_000, worldCodes(), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range p.Tables() {
		count := map[string]int64{}
		var total int64
		for _, seg := range plan.Segments {
			for _, iv := range seg.Intervals {
				if iv.From.Before(tb.From.Time) || iv.End.After(tb.End()) {
					continue
				}
				// A segment interval lies wholly inside or wholly outside each table; its counts
				// spread evenly over its intervals, so count whole segments only.
				if len(seg.Intervals) > 1 && !allInside(seg.Intervals, tb) {
					t.Fatalf("segment %v straddles %s", seg.Intervals, tb.period())
				}
			}
			if allInside(seg.Intervals, tb) {
				for i, c := range seg.Countries {
					count[c] += seg.Counts[i]
					total += seg.Counts[i]
				}
			}
		}
		if total%tableEvents != 0 || total == 0 {
			t.Errorf("%s: %d events, not a multiple of %d", tb.period(), total, tableEvents)
		}
		smallest := math.Inf(1)
		for _, s := range tb.Shares {
			smallest = min(smallest, s.Percent)
			if got := 100 * float64(count[s.Country]) / float64(total); math.Abs(got-s.Percent) > 1e-9 {
				t.Errorf("%s: %s has %.4f%%, want %.2f%%", tb.period(), s.Country, got, s.Percent)
			}
		}
		for c, n := range count {
			if !slices.ContainsFunc(tb.Shares, func(s Share) bool { return s.Country == c }) && 100*float64(n)/float64(total) > smallest/2+1e-9 {
				t.Errorf("%s: unlisted %s has %.3f%%, above half the smallest listed share", tb.period(), c, 100*float64(n)/float64(total))
			}
		}
	}
}

func allInside(ivs []Interval, tb Table) bool {
	for _, iv := range ivs {
		if iv.From.Before(tb.From.Time) || iv.End.After(tb.End()) {
			return false
		}
	}
	return true
}
