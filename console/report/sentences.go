package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/period"
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
func PeriodText(p period.Period) string {
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

// CompareText says where a comparison period lies: "a year earlier", "in the previous
// quarter", or the period itself.
func CompareText(current, previous period.Period) string {
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

// Sentences writes the quotable lines of t: the leader with its move, the runner-up (or a tie
// at the top or for second place), the biggest rise and fall among the top rows, other ties,
// the rows that cannot be placed, and where the sources were. Rows that cannot be placed are
// not ranked: the places said are among the others. Shares follow the quoter's precision rule.
func Sentences(t query.Table, names Namer) []string {
	if len(t.Top) == 0 {
		return []string{fmt.Sprintf("Our traps caught no spam %s.", PeriodText(t.Current.Period))}
	}
	g := t.Current.Grouping
	s := speaker{groupWords: words[g], names: names, grouping: g}
	period := capitalize(PeriodText(t.Current.Period))
	placed, unplaced := s.split(t.Top)
	if len(placed) == 0 {
		return []string{fmt.Sprintf("%s our traps caught spam only from senders that cannot be placed %s, listed as %s.",
			period, s.place, s.shareList(unplaced))}
	}
	when := ""
	if t.Compared() {
		when = CompareText(t.Current.Period, t.Previous.Period)
	}

	top := placed[0]
	tiedTop := tiedWith(placed, 0)
	var second []query.Row
	if len(tiedTop) == 1 && len(placed) > 1 {
		second = tiedWith(placed, 1)
	}
	shares := []float64{top.Share}
	if when != "" && top.PreviousMessages > 0 && moved(top.Share, top.PreviousShare) {
		shares = append(shares, top.PreviousShare)
	}
	if len(second) > 0 {
		shares = append(shares, second[0].Share)
	}
	q := quoting(shares...)
	head := fmt.Sprintf("%s %s %s %s %s", period, s.who(top), s.verb, q.share(top.Share), s.share)
	if when != "" {
		head += ", " + s.movement(top, q, when)
	}
	switch {
	case len(tiedTop) > 1:
		head += fmt.Sprintf("; %s tied with it for first place", s.who(tiedTop[1:]...))
	case len(second) > 1:
		head += fmt.Sprintf("; %s tied for second place with %s each", s.who(second...), q.share(second[0].Share))
	case len(second) == 1:
		head += fmt.Sprintf("; %s was second with %s", s.who(second[0]), q.share(second[0].Share))
	}
	out := []string{head + "."}

	if when != "" {
		rise, fall := s.biggestMoves(placed)
		scope := fmt.Sprintf(" among the top %d", len(t.Top))
		if rise != nil {
			out = append(out, s.moveSentence("rise", scope, top, *rise))
			scope = ""
		}
		if fall != nil {
			out = append(out, s.moveSentence("fall", scope, top, *fall))
		}
	}
	for i := 0; i < len(placed); {
		group := tiedWith(placed, i)
		i += len(group)
		// Ties for first and second place are in the first sentence.
		if len(group) > 1 && group[0].Rank > 2 {
			out = append(out, fmt.Sprintf("%s tied for %s place with %s each.",
				capitalize(s.who(group...)), ordinal(group[0].Rank), quoting(group[0].Share).share(group[0].Share)))
		}
	}
	if len(unplaced) > 0 {
		out = append(out, fmt.Sprintf("Not ranked: spam from senders that cannot be placed %s, listed as %s.",
			s.place, s.shareList(unplaced)))
	}
	return append(out, s.sources(t.Current.Total, top, len(t.Top) == 1)...)
}

// speaker writes the sentences of one grouping.
type speaker struct {
	groupWords
	names    Namer
	grouping query.Grouping
}

// split separates the rows a sentence may rank from those no GeoIP data placed (unknown
// countries, continents and networks) or that are not public addresses (query.Unplaced, rank 0):
// a headline never leads with them, and a sentence of their own says they were left out of the
// ranking, as the table leaves them without a rank.
func (s speaker) split(rows []query.Row) (placed, unplaced []query.Row) {
	for _, r := range rows {
		if query.Unplaced(s.grouping, r.Key) {
			unplaced = append(unplaced, r)
		} else {
			placed = append(placed, r)
		}
	}
	return placed, unplaced
}

// label names a row as running text does: "the United States", "AS4134 (Chinanet)", "“trap-1”".
func (s speaker) label(r query.Row) string {
	switch s.grouping {
	case query.ByASN:
		if r.Name == "" {
			return "AS" + r.Key
		}
		return fmt.Sprintf("AS%s (%s)", r.Key, r.Name)
	case query.ByTrap:
		return "“" + r.Key + "”"
	}
	return the(s.names.Name(s.grouping, r.Key, r.Name))
}

// who names rows as the subject of a sentence: "Japan and Poland", "the network AS4134
// (Chinanet)", "the traps “a”, “b” and “c”".
func (s speaker) who(rows ...query.Row) string {
	var labels []string
	for _, r := range rows {
		labels = append(labels, s.label(r))
	}
	list := and(labels)
	switch {
	case !s.named:
		return list
	case len(rows) == 1:
		return "the " + s.noun + " " + list
	}
	return "the " + s.nouns + " " + list
}

// movement says how a row's share moved since the comparison period: "down from 41.5% a year
// earlier", "up from …", "the same share as in the previous quarter", "having relayed none …".
func (s speaker) movement(r query.Row, q quoter, when string) string {
	switch {
	case r.PreviousMessages == 0:
		return fmt.Sprintf("having %s none %s", s.verb, when)
	case !moved(r.Share, r.PreviousShare):
		return "the same share as " + when
	case r.Share < r.PreviousShare:
		return fmt.Sprintf("down from %s %s", q.share(r.PreviousShare), when)
	}
	return fmt.Sprintf("up from %s %s", q.share(r.PreviousShare), when)
}

// biggestMoves returns the rows after the leader whose shares rose and fell the most (nil when
// none did): the leader's own move is in the first sentence.
func (s speaker) biggestMoves(placed []query.Row) (rise, fall *query.Row) {
	for i := 1; i < len(placed); i++ {
		r := &placed[i]
		if !moved(r.Share, r.PreviousShare) {
			continue
		}
		if r.ChangePP > 0 && (rise == nil || r.ChangePP > rise.ChangePP) {
			rise = r
		}
		if r.ChangePP < 0 && (fall == nil || r.ChangePP < fall.ChangePP) {
			fall = r
		}
	}
	return rise, fall
}

// moveSentence writes the biggest rise or fall after the leader's, saying so when the leader
// moved further the same way: "After the United States, the biggest fall was for …".
func (s speaker) moveSentence(kind, scope string, top, r query.Row) string {
	q := quoting(r.Share, r.PreviousShare)
	lead := "The biggest"
	if moved(top.Share, top.PreviousShare) && (r.ChangePP > 0) == (top.ChangePP > 0) && math.Abs(top.ChangePP) >= math.Abs(r.ChangePP) {
		lead = fmt.Sprintf("After %s, the biggest", s.who(top))
	}
	return fmt.Sprintf("%s %s%s was for %s, to %s from %s (%s points).", lead, kind, scope, s.who(r),
		q.share(r.Share), q.share(r.PreviousShare), q.change(r.Share, r.PreviousShare))
}

// shareList writes unplaced rows by their names in the table: "Unknown (9.3%) and Reserved
// address (0.1%)".
func (s speaker) shareList(rows []query.Row) string {
	var shares []float64
	for _, r := range rows {
		shares = append(shares, r.Share)
	}
	q := quoting(shares...)
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s (%s)", s.names.Name(s.grouping, r.Key, r.Name), q.share(r.Share)))
	}
	return and(parts)
}

// sources says how many messages and addresses the traps saw, and how many of the addresses
// the leader had; alone says the leader is the only row.
func (s speaker) sources(total query.Count, top query.Row, alone bool) []string {
	messages := thousands(total.Messages) + " messages"
	if total.Messages == 1 {
		messages = "one message"
	}
	switch {
	case total.Sources == 1 && s.locates && alone:
		return []string{fmt.Sprintf("Our traps received %s, all from one address, in %s.", messages, s.who(top))}
	case total.Sources == 1:
		return []string{fmt.Sprintf("Our traps received %s, all from one address.", messages)}
	case total.Sources == 0:
		return nil
	}
	where := "sent spam to"
	if s.locates {
		where = "were in"
	}
	return []string{fmt.Sprintf("Our traps received %s from about %s distinct addresses; %s of those addresses %s %s.",
		messages, thousands(total.Sources), quoting(top.SourceShare).share(top.SourceShare), where, s.who(top))}
}

// and joins a list as English does: "a", "a and b", "a, b and c".
func and(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// tiedWith returns the rows sharing the rank of rows[i], starting with it.
func tiedWith(rows []query.Row, i int) []query.Row {
	j := i
	for j < len(rows) && rows[j].Rank == rows[i].Rank {
		j++
	}
	return rows[i:j]
}
