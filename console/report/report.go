// Package report turns share tables into press-release material: the "dirty dozen" table with
// comparison, intervals and unique sources, quotable sentences, and the same in Markdown, CSV,
// JSON, a self-contained HTML page, and PNG or SVG charts. It formats what package query
// computed; it runs no SQL.
package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/period"
)

// Caveat is printed with every report: what trap data can and cannot say.
const Caveat = "Shares are of the messages our spam traps received; they measure what traps see, " +
	"not all the world's spam. Intervals are 95% Wilson intervals of each share; unique sources are approximate."

// Report is one rendered report, in the shape every output writes.
type Report struct {
	Title        string        `json:"title"`
	Grouping     string        `json:"grouping"`
	Period       string        `json:"period"`
	PeriodText   string        `json:"period_text"`
	Messages     uint64        `json:"messages"`
	Sources      uint64        `json:"unique_sources"`
	Compare      string        `json:"compare_period,omitempty"`
	CompareText  string        `json:"compare_text,omitempty"`
	CompareTotal *uint64       `json:"compare_messages,omitempty"` // nil without a comparison
	Rows         []Line        `json:"rows"`
	Sentences    []string      `json:"sentences"`
	Notes        []string      `json:"notes"` // what the reader must know, e.g. an empty comparison period
	Caveat       string        `json:"caveat"`
	Movers       *Movers       `json:"movers,omitempty"` // with --movers and a usable comparison
	Series       *query.Series `json:"-"`

	period        period.Period
	comparePeriod *period.Period // nil without a comparison
	// What the figures rest on, of the period and of the comparison, when Build read it.
	provenance, compareProvenance *query.Provenance
}

// Compared says whether the rows carry a comparison: one was asked for and its period had
// messages. Without one the comparison fields of every Line are nil.
func (r Report) Compared() bool { return r.CompareTotal != nil && *r.CompareTotal > 0 }

// Line is one row: a group, or the rest of the world (Code "", named "All other countries",
// "All other networks"…; absent when the top rows hold every message). The comparison fields are nil
// without a usable comparison (Report.Compared); with one, a group the comparison period did not
// see has Movement "new", a zero PreviousShare and no PreviousRank or RankChange, and the rest
// of the world has a PreviousShare and ChangePP but no rank or Movement.
type Line struct {
	Rank          int      `json:"rank,omitempty"`
	Code          string   `json:"code"`
	Name          string   `json:"name"`
	Messages      uint64   `json:"messages"`
	Share         float64  `json:"share_pct"`
	Low           float64  `json:"share_low_pct"`
	High          float64  `json:"share_high_pct"`
	Sources       uint64   `json:"unique_sources"`
	SourceShare   float64  `json:"unique_sources_pct"`
	PreviousRank  *int     `json:"compare_rank,omitempty"`
	PreviousShare *float64 `json:"compare_share_pct,omitempty"`
	ChangePP      *float64 `json:"change_pp,omitempty"`
	RankChange    *int     `json:"rank_change,omitempty"` // positive: it climbed
	Movement      string   `json:"movement,omitempty"`    // new, up N, down N or same
}

// groupWords are the words for one kind of row, in the title, the remainder row and the
// sentences.
type groupWords struct {
	title string // the rows, in the title: "Share of trapped spam by relaying country"
	// noun and nouns name one and several groups; with named, sentences say them before the
	// groups' names: "the network AS4134 (Chinanet)", "the traps “a” and “b”".
	noun, nouns string
	named       bool
	verb        string // what a group did with its share of the spam
	share       string // what the share is of
	place       string // where a sender cannot be placed, for the unplaced rows
	// locates: a group is where its senders are (a country), not where they sent (a trap).
	locates bool
}

var words = map[query.Grouping]groupWords{
	query.ByCountry: {title: "relaying country", noun: "country", nouns: "countries", verb: "relayed",
		share: "of the spam caught by our traps", place: "in a country", locates: true},
	query.ByContinent: {title: "continent", noun: "continent", nouns: "continents", verb: "relayed",
		share: "of the spam caught by our traps", place: "on a continent", locates: true},
	query.ByASN: {title: "network (AS)", noun: "network", nouns: "networks", named: true, verb: "relayed",
		share: "of the spam caught by our traps", place: "in a network", locates: true},
	query.ByTrap: {title: "trap", noun: "trap", nouns: "traps", named: true, verb: "caught", share: "of the spam"},
}

// Namer names group codes: countries and continents from CLDR, networks by organisation, and a
// publisher's groups by its labels.
type Namer struct {
	Publisher *query.Publisher
}

// Name returns the display name of key in grouping g; org is the network's organisation.
func (n Namer) Name(g query.Grouping, key, org string) string {
	switch g {
	case query.ByCountry:
		if n.Publisher != nil {
			if l := n.Publisher.Label(key); l != "" {
				return l
			}
		}
		return countries.Name(key)
	case query.ByContinent:
		if key == "" {
			return "Unknown or reserved"
		}
		return countries.ContinentName(key)
	case query.ByASN:
		if key == "0" {
			return "Unknown network"
		}
		if org == "" {
			return "AS" + key
		}
		return org
	}
	return key
}

// New builds the report of t.
func New(t query.Table, names Namer, series *query.Series) Report {
	g := t.Current.Grouping
	r := Report{
		Title:      "Share of trapped spam by " + words[g].title,
		Grouping:   string(g),
		Period:     t.Current.Period.String(),
		PeriodText: PeriodText(t.Current.Period),
		Messages:   t.Current.Total.Messages,
		Sources:    t.Current.Total.Sources,
		Rows:       []Line{},
		Notes:      []string{},
		Caveat:     Caveat,
		Series:     series,
		period:     t.Current.Period,
	}
	if t.Previous != nil {
		r.comparePeriod = &t.Previous.Period
		total := t.Previous.Total.Messages
		r.Compare, r.CompareTotal = t.Previous.Period.String(), &total
		r.CompareText = CompareText(t.Current.Period, t.Previous.Period)
		if total == 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("Our traps caught no spam %s, the comparison period: no changes are shown.",
				PeriodText(t.Previous.Period)))
		}
	}
	compared := t.Compared()
	for _, row := range t.Top {
		code := row.Key
		if g == query.ByASN {
			code = "AS" + row.Key
		}
		r.Rows = append(r.Rows, line(row, code, names.Name(g, row.Key, row.Name), compared))
	}
	if t.Rest.Messages > 0 {
		rest := line(t.Rest, "", "All other "+words[g].nouns, compared)
		rest.Rank = 0
		r.Rows = append(r.Rows, rest)
	}
	r.Sentences = Sentences(t, names)
	return r
}

func line(row query.Row, code, name string, compared bool) Line {
	l := Line{Rank: row.Rank, Code: code, Name: name, Messages: row.Messages, Share: row.Share, Low: row.Low,
		High: row.High, Sources: row.Sources, SourceShare: row.SourceShare}
	if !compared {
		return l
	}
	l.PreviousShare, l.ChangePP = &row.PreviousShare, &row.ChangePP
	switch {
	case code == "" || row.Rank == 0: // the rest of the world, or unplaced: not ranked
	case row.PreviousRank == 0:
		l.Movement = "new"
	default:
		l.PreviousRank, l.RankChange = &row.PreviousRank, &row.RankChange
		l.Movement = movementOf(row.RankChange)
	}
	return l
}

// movementOf names a change of rank: "up 2", "down 1", "same".
func movementOf(places int) string {
	switch {
	case places > 0:
		return fmt.Sprintf("up %d", places)
	case places < 0:
		return fmt.Sprintf("down %d", -places)
	}
	return "same"
}

// A sentence quotes shares as a press release does, with one decimal (26.5%, 9.0%), unless two
// shares it mentions differ but would then read alike: those two get two decimals ("22.35%
// against 22.28%", never "22.3% against 22.3%"). Equal shares, as of tied rows, keep one
// decimal. A quoter holds the precision of each share of one sentence.
type quoter map[float64]int

// quoting returns the quoter of the shares one sentence mentions.
func quoting(shares ...float64) quoter {
	q := quoter{}
	for _, a := range shares {
		q[a] = 1
		for _, b := range shares {
			if a != b && fixed(a, 1) == fixed(b, 1) {
				q[a] = 2
			}
		}
	}
	return q
}

// share writes p, one of the quoter's shares: "26.5%", "2.0%", "22.35%".
func (q quoter) share(p float64) string { return fixed(p, max(q[p], 1)) + "%" }

// change writes the change in points from share b to share a, with the precision of the more
// precise of the two, and two decimals rather than a change that reads as none: "+10.7", "−0.04".
func (q quoter) change(a, b float64) string {
	pp := a - b
	d := max(q[a], q[b], 1)
	if fixed(math.Abs(pp), d) == fixed(0, d) && pp != 0 {
		d = 2
	}
	sign := "+"
	if pp < 0 {
		sign = "−"
	}
	return sign + fixed(math.Abs(pp), d)
}

// moved says whether two shares differ as a sentence can show them, at two decimals.
func moved(a, b float64) bool { return fixed(a, 2) != fixed(b, 2) }

func fixed(v float64, decimals int) string {
	return strconv.FormatFloat(roundTo(v, decimals), 'f', decimals, 64)
}

func roundTo(v float64, decimals int) float64 {
	f := 1.0
	for range decimals {
		f *= 10
	}
	r := float64(int64(v*f+0.5)) / f
	if v < 0 {
		r = -float64(int64(-v*f+0.5)) / f
	}
	return r
}

func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func percent(p float64) string { return strconv.FormatFloat(p, 'f', 2, 64) + "%" }

func points(pp float64) string {
	if roundTo(pp, 2) == 0 {
		return "0.00 pp"
	}
	return fmt.Sprintf("%+.2f pp", pp)
}
