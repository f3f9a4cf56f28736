package query

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestDays(t *testing.T) {
	first := time.Date(2005, 4, 1, 15, 0, 0, 0, time.FixedZone("X", -5*3600))
	last := time.Date(2005, 9, 30, 0, 0, 0, 0, time.UTC)
	p, err := Days(first, last)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "2005-04-01..2005-09-30" || !p.To.Equal(time.Date(2005, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Days = %s (to %s)", p, p.To)
	}
	if _, err := Days(last, first); err == nil {
		t.Error("a period ending before it starts was accepted")
	}
	if p, err := Days(last, last); err != nil || p.String() != "2005-09-30..2005-09-30" {
		t.Errorf("one-day period = %s, %v", p, err)
	}
}

func TestSharesRanksAndRest(t *testing.T) {
	p, _ := Days(time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2005, 1, 31, 0, 0, 0, 0, time.UTC))
	cur := SharesOf(p, []CountryCount{{"US", 50}, {"CN", 20}, {"KR", 20}, {"FR", 10}})
	var ranks []int
	for _, c := range cur.Countries {
		ranks = append(ranks, c.Rank)
	}
	if want := []int{1, 2, 2, 4}; !slices.Equal(ranks, want) {
		t.Errorf("ranks %v, want %v", ranks, want)
	}
	prev := SharesOf(p, []CountryCount{{"CN", 60}, {"US", 30}, {"DE", 10}})
	table := Compare(cur, &prev, 2)
	if len(table.Top) != 2 || table.Top[0].Country != "US" || table.Top[1].Country != "CN" {
		t.Fatalf("top = %+v", table.Top)
	}
	if table.Top[0].ChangePP != 20 || table.Top[1].Previous.Rank != 1 {
		t.Errorf("US change %v, CN previous rank %d", table.Top[0].ChangePP, table.Top[1].Previous.Rank)
	}
	// The rest is everything outside the top, in both periods: KR+FR now, DE then.
	if table.Rest.Current.Messages != 30 || table.Rest.Previous.Messages != 10 || math.Abs(table.Rest.ChangePP-20) > 1e-9 {
		t.Errorf("rest = %+v", table.Rest)
	}
	if got := Compare(cur, nil, 10); len(got.Top) != 4 || got.Rest.Current.Messages != 0 || got.Previous != nil {
		t.Errorf("top 10 of 4 countries = %+v", got)
	}
}

func TestCoarsest(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateTime, s); return v }
	for _, tc := range []struct{ from, to, table string }{
		{"2005-04-01 00:00:00", "2005-10-01 00:00:00", "rollup_country_day"},
		{"2005-04-01 06:00:00", "2005-04-02 00:00:00", "rollup_country_hour"},
		{"2005-04-01 00:00:00", "2005-04-01 00:05:00", "rollup_country_minute"},
		{"2005-04-01 00:00:00", "2005-04-01 00:05:30", "rollup_country_minute"},
	} {
		if got := Coarsest(Period{d(tc.from), d(tc.to)}).Table; got != tc.table {
			t.Errorf("%s..%s reads %s, want %s", tc.from, tc.to, got, tc.table)
		}
	}
}
