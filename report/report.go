// Package report turns share tables into press-release material: the "dirty dozen" table with
// comparison, intervals and unique sources, quotable sentences, and the same in Markdown, CSV,
// JSON, a self-contained HTML page, and PNG or SVG charts. It formats what package query
// computed; it runs no SQL.
package report

import (
	"fmt"
	"strconv"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/query"
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
	Series       *query.Series `json:"-"`

	period        query.Period
	comparePeriod *query.Period // nil without a comparison
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
		Title:      fmt.Sprintf("Share of trapped spam by %s", map[query.Grouping]string{query.ByCountry: "relaying country", query.ByContinent: "continent", query.ByASN: "network (AS)", query.ByTrap: "trap"}[g]),
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
		rest := line(t.Rest, "", "All other "+map[query.Grouping]string{query.ByCountry: "countries",
			query.ByContinent: "continents", query.ByASN: "networks", query.ByTrap: "traps"}[g], compared)
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
	case code == "":
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

// quoted writes a share as a press release does, with one decimal: 26.5%, 15.4%, 9.0%.
func quoted(p float64) string {
	return strconv.FormatFloat(roundTo(p, 1), 'f', 1, 64) + "%"
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
