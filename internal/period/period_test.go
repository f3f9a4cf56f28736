package period

import (
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

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"2005": "2005-01-01..2005-12-31", "2005H1": "2005-01-01..2005-06-30", "2005h2": "2005-07-01..2005-12-31",
		"2005Q2": "2005-04-01..2005-06-30", "2004Q4": "2004-10-01..2004-12-31", "2004-02": "2004-02-01..2004-02-29",
		"2005-04-01": "2005-04-01..2005-04-01", "2005-04-01..2005-09-30": "2005-04-01..2005-09-30",
	} {
		p, err := Parse(in)
		if err != nil || p.String() != want {
			t.Errorf("Parse(%q) = %s, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "05", "2005Q5", "2005H3", "2005-13", "2005-09-30..2005-04-01", "2005-02-30", "yesterday"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestRollingAndComparisons(t *testing.T) {
	now := date("2005-10-15 13:00:00")
	for spec, want := range map[string]string{"30d": "2005-09-16..2005-10-15", "1w": "2005-10-09..2005-10-15",
		"6m": "2005-04-16..2005-10-15", "1y": "2004-10-16..2005-10-15"} {
		p, err := Rolling(spec, now)
		if err != nil || p.String() != want {
			t.Errorf("Rolling(%q) = %s, %v; want %s", spec, p, err, want)
		}
	}
	for _, bad := range []string{"0d", "30", "d", "3x", "-1d"} {
		if _, err := Rolling(bad, now); err == nil {
			t.Errorf("Rolling(%q) accepted", bad)
		}
	}
	q2, _ := Parse("2005Q2")
	h2, _ := Parse("2005-04-01..2005-09-30")
	days, _ := Parse("2005-04-10..2005-04-19")
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
		if p, err := Parse(in); err != nil || p.String() != want {
			t.Errorf("Parse(%q) = %s, %v; want %s", in, p, err, want)
		}
	}
	if p, err := Rolling("35y", now); err != nil || p.String() != "1970-10-16..2005-10-15" {
		t.Errorf("Rolling(35y) = %s, %v", p, err)
	}
	const bounds = "outside the days spamgeo can count, 1970-01-01 to 2104-12-31"
	parse := map[string]func() (Period, error){}
	for _, s := range []string{"9999", "0000", "1969", "2105", "2105H2", "9999Q4", "9999-12", "9999-12-31", "1969-12-31..1970-01-31", "2104-12-01..2105-01-01"} {
		parse["Parse "+s] = func() (Period, error) { return Parse(s) }
	}
	for _, s := range []string{"99999y", "36y", "13100d", "9999999999999999999999d", "1000001w"} {
		parse["Rolling "+s] = func() (Period, error) { return Rolling(s, now) }
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
	y1970, _ := Parse("1970")
	y2104, _ := Parse("2104")
	for _, p := range []Period{y1970.Previous(), y1970.YearEarlier(), {From: y2104.To, To: y2104.To.AddDate(1, 0, 0)}, {From: y1970.To, To: y1970.From}} {
		if err := p.Check(); err == nil {
			t.Errorf("%s passes Check", p)
		}
	}
	if err := y2104.Previous().Check(); err != nil {
		t.Errorf("2103: %v", err)
	}
}

// One rule for the command line and the API: exactly one way of giving the period.
func TestSpecResolve(t *testing.T) {
	now := date("2005-10-15 13:00:00")
	for _, tc := range []struct {
		spec Spec
		want string // the period, or a part of the error
	}{
		{Spec{Period: "2005Q2"}, "2005-04-01..2005-06-30"},
		{Spec{Last: "30d"}, "2005-09-16..2005-10-15"},
		{Spec{From: date("2005-04-01"), To: date("2005-04-10")}, "2005-04-01..2005-04-10"},
		{Spec{}, "one way"},
		{Spec{Period: "2005", Last: "30d"}, "one way"},
		{Spec{Period: "2005", From: date("2005-04-01"), To: date("2005-04-10")}, "one way"},
		{Spec{Last: "30d", To: date("2005-04-10")}, "one way"},
		{Spec{From: date("2005-04-01")}, "go together"},
		{Spec{To: date("2005-04-01")}, "go together"},
		{Spec{From: date("2005-04-10"), To: date("2005-04-01")}, "ends"},
		{Spec{Period: "2005-13"}, "2005-13"},
	} {
		p, err := tc.spec.Resolve(now)
		got := p.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) || (err == nil) != strings.Contains(tc.want, "..") {
			t.Errorf("%+v: %s, want %s", tc.spec, got, tc.want)
		}
	}
}
