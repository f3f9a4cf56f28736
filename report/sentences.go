package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/query"
)

var ordinals = []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
	"ninth", "tenth", "eleventh", "twelfth"}

func ordinal(n int) string {
	if n > 0 && n < len(ordinals) {
		return ordinals[n]
	}
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

var quarterNames = []string{"", "first", "second", "third", "fourth"}

// PeriodText says a period as a sentence would: "in 2005", "in the second quarter of 2005",
// "between April and September 2005", "in April 2005", "between 1 and 15 April 2005".
func PeriodText(p query.Period) string {
	from, last := p.From, p.Last()
	if from.Day() == 1 && p.To.Day() == 1 {
		months := (p.To.Year()-from.Year())*12 + int(p.To.Month()) - int(from.Month())
		switch {
		case months == 12 && from.Month() == time.January:
			return fmt.Sprintf("in %d", from.Year())
		case months == 3 && (from.Month()-1)%3 == 0:
			return fmt.Sprintf("in the %s quarter of %d", quarterNames[(from.Month()-1)/3+1], from.Year())
		case months == 1:
			return "in " + from.Format("January 2006")
		case from.Year() == last.Year():
			return fmt.Sprintf("between %s and %s", from.Format("January"), last.Format("January 2006"))
		default:
			return fmt.Sprintf("between %s and %s", from.Format("January 2006"), last.Format("January 2006"))
		}
	}
	switch {
	case from.Equal(last):
		return "on " + from.Format("2 January 2006")
	case from.Year() == last.Year() && from.Month() == last.Month():
		return fmt.Sprintf("between %d and %s", from.Day(), last.Format("2 January 2006"))
	case from.Year() == last.Year():
		return fmt.Sprintf("between %s and %s", from.Format("2 January"), last.Format("2 January 2006"))
	}
	return fmt.Sprintf("between %s and %s", from.Format("2 January 2006"), last.Format("2 January 2006"))
}

// ShortPeriodText names a period as a chart's legend or title does: "2005", "2004–2007", "Q2
// 2005", "May 2005", "Apr–Sep 2005", "Nov 2004–Feb 2005", "20 Apr 2005", "1–15 Apr 2005".
func ShortPeriodText(p query.Period) string {
	from, last := p.From, p.Last()
	if from.Day() == 1 && p.To.Day() == 1 {
		months := (p.To.Year()-from.Year())*12 + int(p.To.Month()) - int(from.Month())
		switch {
		case months%12 == 0 && from.Month() == time.January:
			if months == 12 {
				return fmt.Sprint(from.Year())
			}
			return fmt.Sprintf("%d–%d", from.Year(), last.Year())
		case months == 3 && (from.Month()-1)%3 == 0:
			return fmt.Sprintf("Q%d %d", (from.Month()-1)/3+1, from.Year())
		case months == 1:
			return from.Format("Jan 2006")
		case from.Year() == last.Year():
			return from.Format("Jan") + "–" + last.Format("Jan 2006")
		}
		return from.Format("Jan 2006") + "–" + last.Format("Jan 2006")
	}
	switch {
	case from.Equal(last):
		return from.Format("2 Jan 2006")
	case from.Year() == last.Year() && from.Month() == last.Month():
		return fmt.Sprintf("%d–%s", from.Day(), last.Format("2 Jan 2006"))
	case from.Year() == last.Year():
		return from.Format("2 Jan") + "–" + last.Format("2 Jan 2006")
	}
	return from.Format("2 Jan 2006") + "–" + last.Format("2 Jan 2006")
}

// CompareText says where a comparison period lies: "a year earlier", "in the previous
// quarter", or the period itself.
func CompareText(current, previous query.Period) string {
	switch {
	case previous == current.YearEarlier():
		return "a year earlier"
	case previous == current.Previous():
		if current.From.Day() == 1 && current.To.Day() == 1 {
			switch months := (current.To.Year()-current.From.Year())*12 + int(current.To.Month()) - int(current.From.Month()); months {
			case 1:
				return "the month before"
			case 3:
				return "in the previous quarter"
			case 6:
				return "in the previous half-year"
			case 12:
				return "the year before"
			}
		}
		return "in the previous period of the same length"
	}
	return PeriodText(previous)
}

// the adds the article that some names take in running text.
func the(name string) string {
	for _, prefix := range []string{"United ", "Netherlands", "Philippines", "Dominican Republic", "Bahamas",
		"Czech Republic", "Central African Republic", "Gambia", "Maldives", "Marshall Islands", "Solomon Islands",
		"Seychelles", "Comoros"} {
		if strings.HasPrefix(name, prefix) {
			return "the " + name
		}
	}
	return name
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// movement says how a share moved: "down from 41.5% a year earlier", "up from ...", "unchanged".
func movement(row query.Row, when string) string {
	prev := quoted(row.PreviousShare)
	switch {
	case row.PreviousMessages == 0:
		return fmt.Sprintf("having relayed none %s", when)
	case roundTo(row.ChangePP, 1) < 0:
		return fmt.Sprintf("down from %s %s", prev, when)
	case roundTo(row.ChangePP, 1) > 0:
		return fmt.Sprintf("up from %s %s", prev, when)
	}
	return fmt.Sprintf("unchanged from %s", when)
}

// Sentences writes the quotable lines of t: the leader, the runner-up (or a tie at the top),
// the biggest rise and fall among the top groups, and ties within them.
func Sentences(t query.Table, names Namer) []string {
	if len(t.Top) == 0 {
		return []string{fmt.Sprintf("Our traps caught no spam %s.", PeriodText(t.Current.Period))}
	}
	g := t.Current.Grouping
	name := func(r query.Row) string { return names.Name(g, r.Key, r.Name) }
	what := map[query.Grouping]string{query.ByCountry: "relayed", query.ByContinent: "relayed",
		query.ByASN: "relayed", query.ByTrap: "caught"}[g]
	when := ""
	if t.Previous != nil {
		when = CompareText(t.Current.Period, t.Previous.Period)
	}
	placed, unplaced := splitPlaced(g, t.Top)
	if len(placed) == 0 {
		return []string{fmt.Sprintf("%s our traps caught spam only from senders that cannot be placed in a %s: %s.",
			capitalize(PeriodText(t.Current.Period)), groupNoun[g], shareList(unplaced, name))}
	}
	var out []string
	top := placed[0]
	s := fmt.Sprintf("%s %s %s %s of the spam caught by our traps", capitalize(PeriodText(t.Current.Period)),
		the(name(top)), what, quoted(top.Share))
	if g == query.ByTrap {
		s = fmt.Sprintf("%s the trap “%s” caught %s of the spam", capitalize(PeriodText(t.Current.Period)), name(top), quoted(top.Share))
	}
	if t.Previous != nil && t.Previous.Total.Messages > 0 {
		s += ", " + movement(top, when)
	}
	tied := tiedWith(placed, 0)
	if len(tied) > 1 {
		var others []string
		for _, r := range tied[1:] {
			others = append(others, the(name(r)))
		}
		s += fmt.Sprintf("; %s tied with it for %s place", strings.Join(others, " and "), ordinal(top.Rank))
	} else if len(placed) > 1 {
		second := placed[1]
		s += fmt.Sprintf("; %s was %s with %s", the(name(second)), ordinal(second.Rank), quoted(second.Share))
	}
	out = append(out, s+".")

	if t.Previous != nil && t.Previous.Total.Messages > 0 {
		// The leader's move is in the first sentence already.
		var rise, fall *query.Row
		for i := 1; i < len(placed); i++ {
			r := &placed[i]
			if r.ChangePP > 0 && (rise == nil || r.ChangePP > rise.ChangePP) {
				rise = r
			}
			if r.ChangePP < 0 && (fall == nil || r.ChangePP < fall.ChangePP) {
				fall = r
			}
		}
		if rise != nil {
			out = append(out, fmt.Sprintf("The biggest rise among the top %d was for %s, to %s from %s (%s points).",
				len(t.Top), the(name(*rise)), quoted(rise.Share), quoted(rise.PreviousShare), signed(rise.ChangePP)))
		}
		if fall != nil {
			out = append(out, fmt.Sprintf("The biggest fall was for %s, to %s from %s (%s points).",
				the(name(*fall)), quoted(fall.Share), quoted(fall.PreviousShare), signed(fall.ChangePP)))
		}
	}
	for i := 1; i < len(placed); i++ {
		group := tiedWith(placed, i)
		if len(group) < 2 || placed[i-1].Rank == placed[i].Rank || placed[i].Rank == top.Rank {
			continue
		}
		var who []string
		for _, r := range group {
			who = append(who, the(name(r)))
		}
		out = append(out, fmt.Sprintf("%s tied for %s place with %s each.",
			capitalize(strings.Join(who, " and ")), ordinal(group[0].Rank), quoted(group[0].Share)))
	}
	if len(unplaced) > 0 {
		out = append(out, fmt.Sprintf("Not ranked, because they cannot be placed in a %s: %s.", groupNoun[g], shareList(unplaced, name)))
	}
	switch {
	case t.Current.Total.Sources == 1:
		out = append(out, fmt.Sprintf("The traps received %s messages, all from one address, in %s.",
			thousands(t.Current.Total.Messages), the(name(top))))
	case t.Current.Total.Sources > 1:
		out = append(out, fmt.Sprintf("The traps received %s messages from about %s distinct addresses; %s of those addresses were in %s.",
			thousands(t.Current.Total.Messages), thousands(t.Current.Total.Sources), quoted(top.SourceShare), the(name(top))))
	}
	return out
}

// groupNoun names what a grouping places senders in.
var groupNoun = map[query.Grouping]string{query.ByCountry: "country", query.ByContinent: "continent",
	query.ByASN: "network", query.ByTrap: "trap"}

// splitPlaced separates the rows a sentence may rank from those no GeoIP data placed (unknown
// countries, continents and networks) or that are not public addresses: a headline never leads
// with them, and a sentence of their own says they were left out of the ranking.
func splitPlaced(g query.Grouping, rows []query.Row) (placed, unplaced []query.Row) {
	for _, r := range rows {
		if isUnplaced(g, r.Key) {
			unplaced = append(unplaced, r)
		} else {
			placed = append(placed, r)
		}
	}
	return placed, unplaced
}

func isUnplaced(g query.Grouping, key string) bool {
	switch g {
	case query.ByCountry:
		return key == countries.Unknown || key == countries.Reserved
	case query.ByContinent:
		return key == ""
	case query.ByASN:
		return key == "0"
	}
	return false
}

// shareList writes rows as "Unknown (9.3%) and Reserved address (0.1%)".
func shareList(rows []query.Row, name func(query.Row) string) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s (%s)", name(r), quoted(r.Share)))
	}
	return strings.Join(parts, " and ")
}

// tiedWith returns the rows sharing the rank of rows[i], starting with it.
func tiedWith(rows []query.Row, i int) []query.Row {
	j := i
	for j < len(rows) && rows[j].Rank == rows[i].Rank {
		j++
	}
	return rows[i:j]
}

func signed(pp float64) string {
	sign := "+"
	if pp < 0 {
		sign = "−"
	}
	return sign + fmt.Sprintf("%.1f", roundTo(math.Abs(pp), 1))
}
