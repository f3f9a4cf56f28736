package report

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/internal/countries"
)

// MinPerCapitaMessages is the fewest messages a country needs to be ranked per person or per
// Internet user: below it a handful of messages from a small country makes it look the worst.
// Such countries are listed by name, not ranked.
const MinPerCapitaMessages = 30

// MinPerCapitaPeople is the fewest people (or Internet users) a country needs to be ranked: a
// territory of a few thousand people that relays a few hundred messages would lead the table by a
// factor of thousands, a figure about one mail server, not about a country. Such countries are
// listed by name, not ranked.
const MinPerCapitaPeople = 1_000_000

// The denominators of --per capita and --per internet-user.
const (
	PerCapitaPeople       = "capita"
	PerCapitaInternetUser = "internet-user"
)

// PerCapita ranks countries by messages per million people (or Internet users), as Sophos'
// per-capita table did, with unique sources per million beside.
type PerCapita struct {
	Title       string          `json:"title"`
	Per         string          `json:"per"`
	Period      string          `json:"period"`
	PeriodText  string          `json:"period_text"`
	Methodology string          `json:"methodology"`
	Reference   string          `json:"reference"` // "" when it is not ranked
	Rows        []PerCapitaLine `json:"rows"`
	TooFew      []string        `json:"too_few_messages"` // under MinPerCapitaMessages: not ranked
	TooSmall    []string        `json:"too_small"`        // under MinPerCapitaPeople: not ranked
	NoData      []string        `json:"no_data"`          // messages, but the dataset has no figure
	Sentences   []string        `json:"sentences"`
}

// PerCapitaLine is one ranked country.
// PerMillion is its messages per million people (or Internet users).
type PerCapitaLine struct {
	Ranked
	Messages          uint64  `json:"messages"`
	Sources           uint64  `json:"unique_sources"`
	People            uint64  `json:"people"` // people or Internet users
	Year              int     `json:"year"`   // of that figure
	SourcesPerMillion float64 `json:"unique_sources_per_million"`
}

// NewPerCapita ranks the countries of c (grouped by country) by messages per million of the
// dataset's people (per PerCapitaPeople) or Internet users, listing top of them and the reference.
func NewPerCapita(c query.Counts, data map[string]countries.Population, per, source, reference string, top int) PerCapita {
	whom := map[string]string{PerCapitaPeople: "people", PerCapitaInternetUser: "Internet users"}[per]
	out := PerCapita{
		Title: "Spam per " + map[string]string{PerCapitaPeople: "person", PerCapitaInternetUser: "Internet user"}[per] +
			" by relaying country", Per: per, Period: c.Period.String(), PeriodText: PeriodText(c.Period),
		Methodology: fmt.Sprintf("Messages (and approximate unique sources) per million %s of each country, from %s; "+
			"countries with fewer than %d messages or %s are listed, not ranked; countries the dataset has no figure for are listed.",
			whom, source, MinPerCapitaMessages, "a million "+whom),
		Rows: []PerCapitaLine{}, TooFew: []string{}, TooSmall: []string{}, NoData: []string{}, Sentences: []string{},
	}
	var names Namer
	var ranked []PerCapitaLine
	for _, g := range c.Groups {
		if g.Key == countries.Unknown || g.Key == countries.Reserved {
			continue
		}
		name := names.Name(query.ByCountry, g.Key, "")
		d := data[g.Key]
		people, year := d.People, d.PeopleYear
		if per == PerCapitaInternetUser {
			people, year = d.InternetUsers, d.InternetYear
		}
		switch {
		case people == 0:
			out.NoData = append(out.NoData, name)
		case people < MinPerCapitaPeople:
			out.TooSmall = append(out.TooSmall, name)
		case g.Messages < MinPerCapitaMessages:
			out.TooFew = append(out.TooFew, name)
		default:
			ranked = append(ranked, PerCapitaLine{Ranked: Ranked{Code: g.Key, Name: name, PerMillion: float64(g.Messages) / float64(people) * 1e6},
				Messages: g.Messages, Sources: g.Sources, People: people, Year: year, SourcesPerMillion: float64(g.Sources) / float64(people) * 1e6})
		}
	}
	var ref *Ranked
	out.Rows, ref = rankLines(ranked, strings.ToUpper(reference), top)
	if ref != nil {
		out.Reference = ref.Code
	}
	lead := map[string]string{PerCapitaPeople: "Per person", PerCapitaInternetUser: "Per Internet user"}[per]
	for _, l := range ranked {
		if len(out.Sentences) == 3 {
			break
		}
		switch {
		case ref == nil:
			out.Sentences = append(out.Sentences, fmt.Sprintf("%s, %s relayed %.1f messages per million %s.", lead, the(l.Name), l.PerMillion, whom))
		case l.Code != ref.Code:
			out.Sentences = append(out.Sentences, fmt.Sprintf("%s, %s relayed %s as much spam as %s (%.1f against %.1f messages per million %s).",
				lead, the(l.Name), times(*l.Multiple), the(ref.Name), l.PerMillion, ref.PerMillion, whom))
		}
	}
	if ref != nil {
		out.Sentences = append(out.Sentences, fmt.Sprintf("%s ranks %d of %d, with %.1f messages per million %s.",
			capitalize(the(ref.Name)), ref.Rank, len(ranked), ref.PerMillion, whom))
	}
	return out
}

// WritePerCapita writes p as text, Markdown, CSV or JSON.
func WritePerCapita(w io.Writer, p PerCapita, f render.Format) error {
	whom := map[string]string{PerCapitaPeople: "People", PerCapitaInternetUser: "Internet users"}[p.Per]
	r := ranking{value: p, title: p.Title, periodText: p.PeriodText, methodology: p.Methodology, sentences: p.Sentences,
		csvHeader: []string{"rank", "code", "name", "messages", "unique_sources", "people", "year", "messages_per_million", "unique_sources_per_million", "multiple"},
		header:    table.Row{"#", "Name", "Code", "Messages", whom, "Per million", "× " + cmp.Or(p.Reference, "—"), "Sources per million"}}
	for _, l := range p.Rows {
		r.csvRows = append(r.csvRows, []string{strconv.Itoa(l.Rank), l.Code, l.Name, strconv.FormatUint(l.Messages, 10), strconv.FormatUint(l.Sources, 10),
			strconv.FormatUint(l.People, 10), strconv.Itoa(l.Year), strconv.FormatFloat(l.PerMillion, 'f', 3, 64),
			strconv.FormatFloat(l.SourcesPerMillion, 'f', 3, 64), optionalFigure(l.Multiple, 3)})
		r.rows = append(r.rows, table.Row{l.Rank, l.Name, l.Code, thousands(l.Messages), thousands(l.People), fmt.Sprintf("%.1f", l.PerMillion),
			optionalFigure(l.Multiple, 2), fmt.Sprintf("%.1f", l.SourcesPerMillion)})
	}
	if len(p.TooFew) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("Too few messages to rank (under %d): %s.", MinPerCapitaMessages, strings.Join(p.TooFew, ", ")))
	}
	if len(p.TooSmall) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("Too small to rank (under a million %s): %s.",
			map[string]string{PerCapitaPeople: "people", PerCapitaInternetUser: "Internet users"}[p.Per], strings.Join(p.TooSmall, ", ")))
	}
	if len(p.NoData) > 0 {
		r.notes = append(r.notes, "No figure in the dataset: "+strings.Join(p.NoData, ", ")+".")
	}
	return r.write(w, f)
}
