package render

import (
	"slices"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"github.com/spamgeo/spamgeo/internal/testenv"
)

func TestCalendarTicks(t *testing.T) {
	major := func(ticks []plot.Tick) (values []float64, labels []string) {
		for _, tk := range ticks {
			if !tk.IsMinor() {
				values, labels = append(values, tk.Value), append(labels, tk.Label)
			}
		}
		return values, labels
	}
	for _, c := range []struct {
		ticks    CalendarTicks
		from, to string
		at       []string
		labels   []string
		minor    int
	}{
		{CalendarTicks{Months: true, Labels: 8}, "2005-04-01", "2005-09-01",
			[]string{"2005-04-01", "2005-05-01", "2005-06-01", "2005-07-01", "2005-08-01", "2005-09-01"},
			[]string{"Apr 2005", "May", "Jun", "Jul", "Aug", "Sep"}, 0},
		{CalendarTicks{Months: true, Labels: 4}, "2005-02-01", "2005-12-01",
			[]string{"2005-04-01", "2005-07-01", "2005-10-01"}, []string{"Apr 2005", "Jul", "Oct"}, 8},
		{CalendarTicks{Months: true, Labels: 8}, "2004-01-01", "2007-12-01",
			[]string{"2004-01-01", "2004-07-01", "2005-01-01", "2005-07-01", "2006-01-01", "2006-07-01", "2007-01-01", "2007-07-01"},
			[]string{"Jan 2004", "Jul", "Jan 2005", "Jul", "Jan 2006", "Jul", "Jan 2007", "Jul"}, 40},
		{CalendarTicks{Months: true, Labels: 5}, "2004-01-01", "2007-12-01",
			[]string{"2004-01-01", "2005-01-01", "2006-01-01", "2007-01-01"}, []string{"2004", "2005", "2006", "2007"}, 44},
		{CalendarTicks{Labels: 7}, "2005-04-01", "2005-04-30",
			[]string{"2005-04-01", "2005-04-06", "2005-04-11", "2005-04-16", "2005-04-21", "2005-04-26"},
			[]string{"1 Apr 2005", "6 Apr", "11 Apr", "16 Apr", "21 Apr", "26 Apr"}, 24},
		{CalendarTicks{Labels: 10}, "2005-12-28", "2006-01-03",
			[]string{"2005-12-28", "2005-12-29", "2005-12-30", "2005-12-31", "2006-01-01", "2006-01-02", "2006-01-03"},
			[]string{"28 Dec 2005", "29 Dec", "30 Dec", "31 Dec", "1 Jan 2006", "2 Jan", "3 Jan"}, 0},
		{CalendarTicks{Labels: 3}, "2005-04-01", "2005-06-28", // 89 days, the longest by day
			[]string{"2005-04-01", "2005-05-01", "2005-06-01"}, []string{"1 Apr 2005", "1 May", "1 Jun"}, 86},
	} {
		ticks := c.ticks.Ticks(unix(c.from), unix(c.to))
		values, labels := major(ticks)
		var at []float64
		for _, d := range c.at {
			at = append(at, unix(d))
		}
		if !slices.Equal(values, at) || !slices.Equal(labels, c.labels) || len(ticks)-len(values) != c.minor {
			t.Errorf("%+v %s..%s: major ticks %v %q and %d minor, want %v %q and %d", c.ticks, c.from, c.to,
				values, labels, len(ticks)-len(values), at, c.labels, c.minor)
		}
	}
}

// In the drawn time chart each month's point and the month's tick are at the same x.
func TestPercentTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (PercentTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, c := range []struct {
		hi   float64
		want []string
	}{{60, []string{"0%", "30%", "60%"}}, {130, []string{"0%", "40%", "80%"}}, {1.3, []string{"0%", "0.4%", "0.8%", "1.2%"}}} {
		if got := labels(0, c.hi); !slices.Equal(got, c.want) {
			t.Errorf("ticks of 0..%v: %q, want %q", c.hi, got, c.want)
		}
	}
}

func TestShortPeriod(t *testing.T) {
	for in, want := range map[string]string{
		"2005": "2005", "2005H1": "Jan–Jun 2005", "2005Q2": "Q2 2005", "2005-05": "May 2005",
		"2005-04-01..2005-09-30": "Apr–Sep 2005", "2004-11-01..2005-02-28": "Nov 2004–Feb 2005",
		"2004-01-01..2007-12-31": "2004–2007", "2005-04-01..2005-04-15": "1–15 Apr 2005",
		"2005-04-20..2005-05-03": "20 Apr–3 May 2005", "2004-12-20..2005-01-03": "20 Dec 2004–3 Jan 2005",
		"2005-04-20": "20 Apr 2005", "2005-02-01..2006-01-31": "Feb 2005–Jan 2006",
	} {
		if got := ShortPeriod(testenv.Period(t, in)); got != want {
			t.Errorf("ShortPeriod(%s) = %q, want %q", in, got, want)
		}
	}
}

func unix(s string) float64 {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return float64(d.Unix())
}
