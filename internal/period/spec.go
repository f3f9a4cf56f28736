package period

import (
	"errors"
	"time"
)

// Spec is a period as a user gives it, on the command line (--period, --from/--to, --last) or in
// a URL (period, from/to, last): a named period or range (2005Q2, 2005-04-01..2005-09-30), a
// first and a last day, or a rolling window up to now (30d). The command line and the HTTP API
// resolve it alike.
type Spec struct {
	Period   string
	From, To time.Time // the first and the last day, both included; zero when not given
	Last     string
}

// Resolve is the period s names, a rolling window ending on the day of now. Exactly one way must
// be given: none, or two at once, is an error rather than a guess at which one was meant.
func (s Spec) Resolve(now time.Time) (Period, error) {
	ways := 0
	for _, given := range []bool{s.Period != "", !s.From.IsZero() || !s.To.IsZero(), s.Last != ""} {
		if given {
			ways++
		}
	}
	switch {
	case ways != 1:
		return Period{}, errors.New("give the period one way: period, from and to, or last")
	case s.Period != "":
		return Parse(s.Period)
	case s.Last != "":
		return Rolling(s.Last, now)
	case s.From.IsZero() || s.To.IsZero():
		return Period{}, errors.New("from and to go together: the first and the last day of the period")
	}
	return Days(s.From, s.To)
}
