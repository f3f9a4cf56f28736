package query

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		t, _ = time.Parse(time.DateOnly, s)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]string{
		"2005": "2005-01-01..2005-12-31", "2005H1": "2005-01-01..2005-06-30", "2005h2": "2005-07-01..2005-12-31",
		"2005Q2": "2005-04-01..2005-06-30", "2004Q4": "2004-10-01..2004-12-31", "2004-02": "2004-02-01..2004-02-29",
		"2005-04-01": "2005-04-01..2005-04-01", "2005-04-01..2005-09-30": "2005-04-01..2005-09-30",
	} {
		p, err := ParsePeriod(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePeriod(%q) = %s, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "05", "2005Q5", "2005H3", "2005-13", "2005-09-30..2005-04-01", "2005-02-30", "yesterday"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
}

func TestLastAndComparisons(t *testing.T) {
	now := date("2005-10-15 13:00:00")
	for spec, want := range map[string]string{"30d": "2005-09-16..2005-10-15", "1w": "2005-10-09..2005-10-15",
		"6m": "2005-04-16..2005-10-15", "1y": "2004-10-16..2005-10-15"} {
		p, err := LastPeriod(spec, now)
		if err != nil || p.String() != want {
			t.Errorf("LastPeriod(%q) = %s, %v; want %s", spec, p, err, want)
		}
	}
	for _, bad := range []string{"0d", "30", "d", "3x", "-1d"} {
		if _, err := LastPeriod(bad, now); err == nil {
			t.Errorf("LastPeriod(%q) accepted", bad)
		}
	}
	q2, _ := ParsePeriod("2005Q2")
	h2, _ := ParsePeriod("2005-04-01..2005-09-30")
	days, _ := ParsePeriod("2005-04-10..2005-04-19")
	for _, tc := range []struct {
		got  Period
		want string
	}{
		{q2.Previous(), "2005-01-01..2005-03-31"}, {q2.YearEarlier(), "2004-04-01..2004-06-30"},
		{h2.Previous(), "2004-10-01..2005-03-31"}, {h2.YearEarlier(), "2004-04-01..2004-09-30"},
		{days.Previous(), "2005-03-31..2005-04-09"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// Issue 18, finding 10: periods ClickHouse's DateTime cannot hold (before 1970, or ending
// after 2104, where 18.16 reads a time as 0 or fails to parse it) are refused when read, and a
// comparison period derived from one is refused by Check; the bounds themselves are accepted.
func TestPeriodsClickHouseCanStore(t *testing.T) {
	now := date("2005-10-15 13:00:00")
	for in, want := range map[string]string{"1970": "1970-01-01..1970-12-31", "2104": "2104-01-01..2104-12-31",
		"1970-01-01..2104-12-31": "1970-01-01..2104-12-31"} {
		if p, err := ParsePeriod(in); err != nil || p.String() != want {
			t.Errorf("ParsePeriod(%q) = %s, %v; want %s", in, p, err, want)
		}
	}
	if p, err := LastPeriod("35y", now); err != nil || p.String() != "1970-10-16..2005-10-15" {
		t.Errorf("LastPeriod(35y) = %s, %v", p, err)
	}
	const bounds = "outside the days spamgeo can count, 1970-01-01 to 2104-12-31"
	parse := map[string]func() (Period, error){}
	for _, s := range []string{"9999", "0000", "1969", "2105", "2105H2", "9999Q4", "9999-12", "9999-12-31", "1969-12-31..1970-01-31", "2104-12-01..2105-01-01"} {
		parse["ParsePeriod "+s] = func() (Period, error) { return ParsePeriod(s) }
	}
	for _, s := range []string{"99999y", "36y", "13100d", "9999999999999999999999d", "1000001w"} {
		parse["LastPeriod "+s] = func() (Period, error) { return LastPeriod(s, now) }
	}
	parse["Days to 9999-12-31"] = func() (Period, error) { return Days(now, date("9999-12-31")) }
	parse["Days from 1969-12-31"] = func() (Period, error) { return Days(date("1969-12-31"), now) }
	for name, f := range parse {
		p, err := f()
		if err == nil || p != (Period{}) {
			t.Errorf("%s = %s, %v; want an error", name, p, err)
			continue
		}
		if !strings.Contains(err.Error(), bounds) && !strings.Contains(err.Error(), "reaches before 1970-01-01") {
			t.Errorf("%s: %v; want it to name the bounds", name, err)
		}
	}
	y1970, _ := ParsePeriod("1970")
	y2104, _ := ParsePeriod("2104")
	for _, p := range []Period{y1970.Previous(), y1970.YearEarlier(), {From: y2104.To, To: y2104.To.AddDate(1, 0, 0)}, {From: y1970.To, To: y1970.From}} {
		if err := p.Check(); err == nil {
			t.Errorf("%s passes Check", p)
		}
	}
	if err := y2104.Previous().Check(); err != nil {
		t.Errorf("2103: %v", err)
	}
}

func TestCoarsest(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"2005-01-01", "2006-01-01", "month"},
		{"2005-04-01", "2005-10-01", "month"},
		{"2005-04-01", "2005-04-15", "day"},
		{"2005-04-01 06:00:00", "2005-04-02 00:00:00", "hour"},
		{"2005-04-01 00:00:00", "2005-04-01 00:05:00", "minute"},
	} {
		if got := Coarsest(Period{date(tc.from), date(tc.to)}).Name; got != tc.want {
			t.Errorf("%s..%s reads the %s rollup, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestWilson(t *testing.T) {
	// Reference values (Wilson 1927; as statsmodels proportion_confint(method="wilson") gives them):
	// 26.5% of 1,000 is [23.86, 29.32]; 0 of 100 is [0, 3.70]; all of 10 is [72.25, 100].
	for _, tc := range []struct {
		k, n      uint64
		low, high float64
	}{{265, 1000, 23.86, 29.32}, {0, 100, 0, 3.70}, {10, 10, 72.25, 100}} {
		low, high := Wilson(tc.k, tc.n)
		if math.Abs(low-tc.low) > 0.01 || math.Abs(high-tc.high) > 0.01 {
			t.Errorf("Wilson(%d, %d) = [%.2f, %.2f], want [%.2f, %.2f]", tc.k, tc.n, low, high, tc.low, tc.high)
		}
	}
	if low, high := Wilson(0, 0); low != 0 || high != 0 {
		t.Errorf("Wilson(0, 0) = [%v, %v]", low, high)
	}
}

func TestCompare(t *testing.T) {
	cur := Counts{Total: Count{Messages: 100, Sources: 40}, Groups: []Count{
		{Key: "US", Messages: 50, Sources: 20}, {Key: "CN", Messages: 20, Sources: 8}, {Key: "KR", Messages: 20, Sources: 8},
		{Key: "FR", Messages: 10, Sources: 4}}}
	prev := Counts{Total: Count{Messages: 100, Sources: 50}, Groups: []Count{
		{Key: "CN", Messages: 60}, {Key: "US", Messages: 30}, {Key: "DE", Messages: 10}}}
	table := Compare(cur, &prev, 3)
	if len(table.Top) != 3 {
		t.Fatalf("top = %+v", table.Top)
	}
	us, cn, kr := table.Top[0], table.Top[1], table.Top[2]
	if us.Rank != 1 || cn.Rank != 2 || kr.Rank != 2 {
		t.Errorf("ranks %d %d %d, want 1 2 2", us.Rank, cn.Rank, kr.Rank)
	}
	if us.ChangePP != 20 || us.PreviousRank != 2 || us.RankChange != 1 || us.SourceShare != 50 {
		t.Errorf("US = %+v", us)
	}
	if cn.RankChange != -1 || kr.PreviousRank != 0 || kr.RankChange != 0 || kr.PreviousShare != 0 {
		t.Errorf("CN = %+v, KR = %+v", cn, kr)
	}
	if r := table.Rest; r.Messages != 10 || r.Sources != 4 || r.PreviousMessages != 10 || r.ChangePP != 0 {
		t.Errorf("rest = %+v", r)
	}
	if us.Low >= 50 || us.High <= 50 {
		t.Errorf("interval [%v, %v] does not hold 50%%", us.Low, us.High)
	}
	empty := Compare(Counts{}, nil, 12)
	if len(empty.Top) != 0 || empty.Rest.Messages != 0 || empty.Rest.Share != 0 {
		t.Errorf("empty = %+v", empty)
	}
}

func TestPublishers(t *testing.T) {
	p, err := LoadPublisher("sophos")
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Merge(); m["HK"] != "CN" || m["CN"] != "CN" || p.Label("CN") != "China (incl Hong Kong)" || p.Label("US") != "" {
		t.Errorf("sophos grouping: %v", p)
	}
	dir := t.TempDir()
	for body, want := range map[string]string{
		"name: x\ngroups: [{code: CN, label: C, members: [HK]}]":                                              "itself",
		"name: x\ngroups: [{code: CN, label: C, members: [CN, XX]}]":                                          "not a country",
		"name: x\ngroups: [{code: CN, label: C, members: [CN, HK]}, {code: GB, label: G, members: [GB, HK]}]": "both",
		"name: x\ngroup: []": "not found",
	} {
		path := dir + "/p.yaml"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPublisher(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadPublisher(%q) = %v, want an error mentioning %q", body, err, want)
		}
	}
}
