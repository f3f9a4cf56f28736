package query

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		t, _ = time.Parse(time.DateOnly, s)
	}
	return t
}

func TestCoarsest(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"2005-01-01", "2006-01-01", "month"},
		{"2005-04-01", "2005-10-01", "month"},
		{"2005-04-01", "2005-04-15", "day"},
		{"2005-04-01 06:00:00", "2005-04-02 00:00:00", "hour"},
		{"2005-04-01 00:00:00", "2005-04-01 00:05:00", "minute"},
	} {
		if got := Coarsest(period.Period{From: date(tc.from), To: date(tc.to)}).Name; got != tc.want {
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
