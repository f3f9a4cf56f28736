// Package period is the range of whole UTC days every count and report of spamgeo is about: how
// people write one (a year, quarter, month, day, range, or the last n days), the comparisons
// derived from it, and the bounds ClickHouse can store.
package period

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Period is a range of whole UTC days, From inclusive, To exclusive.
type Period struct {
	From, To time.Time
}

// FirstDay and LastDay bound the days a period can cover: the years 1970 to 2104. ClickHouse
// 18.16 stores DateTime as unsigned 32-bit Unix seconds and reads times from 1970-01-01
// 00:00:00 to 2105-12-31 23:59:59 only (a later one reads as 0, a year past 9999 fails to
// parse); the queries end a period at the midnight after its last day, which must stay inside.
var (
	FirstDay = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	LastDay  = time.Date(2104, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Check says whether p holds at least a day and lies between FirstDay and LastDay.
func (p Period) Check() error {
	if !p.To.After(p.From) {
		return fmt.Errorf("period %s is empty", p)
	}
	if p.From.Before(FirstDay) || p.Last().After(LastDay) {
		return fmt.Errorf("period %s is outside the days spamgeo can count, %s to %s", p,
			FirstDay.Format(time.DateOnly), LastDay.Format(time.DateOnly))
	}
	return nil
}

// checked is p, or the reason it cannot be counted.
func checked(p Period) (Period, error) {
	if err := p.Check(); err != nil {
		return Period{}, err
	}
	return p, nil
}

// Days returns the period from the first to the last day given, both included.
func Days(first, last time.Time) (Period, error) {
	p := Period{From: StartOfDay(first), To: StartOfDay(last).AddDate(0, 0, 1)}
	if !p.To.After(p.From) {
		return Period{}, fmt.Errorf("period ends (%s) before it starts (%s)", last.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	return checked(p)
}

// StartOfDay is the midnight (UTC) that starts the day of t.
func StartOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Last is the last day of the period.
func (p Period) Last() time.Time { return p.To.AddDate(0, 0, -1) }

// String writes the period as first..last day.
func (p Period) String() string {
	return p.From.Format(time.DateOnly) + ".." + p.Last().Format(time.DateOnly)
}

// Previous is the period of the same length that ends where p starts. Like YearEarlier it may
// start before FirstDay: Check it.
func (p Period) Previous() Period {
	if p.isMonths() {
		months := monthsBetween(p.From, p.To)
		return Period{From: p.From.AddDate(0, -months, 0), To: p.From}
	}
	return Period{From: p.From.Add(-p.To.Sub(p.From)), To: p.From}
}

// YearEarlier is p a year before.
func (p Period) YearEarlier() Period {
	return Period{From: p.From.AddDate(-1, 0, 0), To: p.To.AddDate(-1, 0, 0)}
}

func (p Period) isMonths() bool { return p.From.Day() == 1 && p.To.Day() == 1 }

func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

var (
	yearRE    = regexp.MustCompile(`^(\d{4})$`)
	halfRE    = regexp.MustCompile(`^(\d{4})H([12])$`)
	quarterRE = regexp.MustCompile(`^(\d{4})Q([1-4])$`)
	monthRE   = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	rangeRE   = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$`)
	lastRE    = regexp.MustCompile(`^(\d+)([dwmy])$`)
)

// Parse reads a period as people write one: a year (2005), a half-year (2005H2), a
// quarter (2005Q2), a month (2005-04), a day (2005-04-01) or a range of days
// (2005-04-01..2005-09-30), between FirstDay and LastDay.
func Parse(s string) (Period, error) {
	p, err := parsePeriod(strings.ToUpper(strings.TrimSpace(s)))
	if err != nil {
		return Period{}, err
	}
	return checked(p)
}

func parsePeriod(s string) (Period, error) {
	atoi := func(v string) int { n, _ := strconv.Atoi(v); return n }
	months := func(year, month, n int) Period {
		from := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return Period{From: from, To: from.AddDate(0, n, 0)}
	}
	switch {
	case yearRE.MatchString(s):
		return months(atoi(s), 1, 12), nil
	case halfRE.MatchString(s):
		m := halfRE.FindStringSubmatch(s)
		return months(atoi(m[1]), 1+6*(atoi(m[2])-1), 6), nil
	case quarterRE.MatchString(s):
		m := quarterRE.FindStringSubmatch(s)
		return months(atoi(m[1]), 1+3*(atoi(m[2])-1), 3), nil
	case monthRE.MatchString(s):
		m := monthRE.FindStringSubmatch(s)
		if month := atoi(m[2]); month >= 1 && month <= 12 {
			return months(atoi(m[1]), month, 1), nil
		}
	case rangeRE.MatchString(s):
		m := rangeRE.FindStringSubmatch(s)
		first, err1 := time.Parse(time.DateOnly, m[1])
		last, err2 := time.Parse(time.DateOnly, m[2])
		if err1 == nil && err2 == nil {
			return Days(first, last)
		}
	default:
		if d, err := time.Parse(time.DateOnly, s); err == nil {
			return Days(d, d)
		}
	}
	return Period{}, fmt.Errorf("period %q: write a year (2005), half-year (2005H2), quarter (2005Q2), month (2005-04), day (2005-04-01) or range (2005-04-01..2005-09-30)", s)
}

// maxWindow is more days than FirstDay to LastDay: a longer window is refused before the
// date arithmetic, which would overflow.
const maxWindow = 1_000_000

// Rolling is the rolling window of the last n days, weeks, months or years ("30d", "12w",
// "6m", "1y") up to and including the day of now, within FirstDay and LastDay.
func Rolling(spec string, now time.Time) (Period, error) {
	m := lastRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(spec)))
	if m == nil {
		return Period{}, fmt.Errorf("window %q: write a count and a unit: 30d, 12w, 6m or 1y", spec)
	}
	n, err := strconv.Atoi(m[1])
	switch {
	case err != nil || n > maxWindow:
		return Period{}, fmt.Errorf("window %q reaches before %s, the first day spamgeo can count", spec, FirstDay.Format(time.DateOnly))
	case n == 0:
		return Period{}, fmt.Errorf("window %q is empty", spec)
	}
	to := StartOfDay(now).AddDate(0, 0, 1)
	from := map[string]time.Time{
		"d": to.AddDate(0, 0, -n), "w": to.AddDate(0, 0, -7*n), "m": to.AddDate(0, -n, 0), "y": to.AddDate(-n, 0, 0),
	}[m[2]]
	p := Period{From: from, To: to}
	return checked(p)
}
