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

// MinDensitySources is the fewest unique IPv4 sources a group needs to be ranked by address
// space: below it one machine more or less moves its figure by several percent. Such groups are
// listed by name, not ranked.
const MinDensitySources = 30

// MinDensitySpace is the least IPv4 space (a /16) a group needs to be ranked: a territory of a
// few thousand addresses with a few hundred senders would lead by a factor of thousands. Smaller
// groups are listed by name, not ranked.
const MinDensitySpace = 1 << 16

// Density is the ranking of countries or networks by unique sending addresses per million
// addresses of the IPv4 space the period's GeoIP builds place there (the IPv6 figure beside it,
// per million /64 networks).
type Density struct {
	Title       string        `json:"title"`
	Grouping    string        `json:"grouping"`
	Period      string        `json:"period"`
	PeriodText  string        `json:"period_text"`
	Methodology string        `json:"methodology"`
	Builds      []string      `json:"geoip_builds"`
	Reference   string        `json:"reference"` // the code multiples are of; "" when it is not ranked
	Rows        []DensityLine `json:"rows"`
	TooFew      []string      `json:"too_few_sources"`  // fewer than MinDensitySources: not ranked
	NoSpace     []string      `json:"no_address_space"` // senders seen, but the builds place no IPv4 space there
	TooSmall    []string      `json:"too_small"`        // under MinDensitySpace: not ranked
	Sentences   []string      `json:"sentences"`
}

// DensityLine is one ranked group.
// PerMillion is its unique IPv4 sources per million IPv4 addresses.
type DensityLine struct {
	Ranked
	Messages    uint64 `json:"messages"`
	IPv4Sources uint64 `json:"ipv4_sources"`
	IPv4Space   uint64 `json:"ipv4_addresses"`
	IPv6Sources uint64 `json:"ipv6_source_nets64"`
	IPv6Space   uint64 `json:"ipv6_nets64"`
	// IPv6PerMillion is nil where the builds place no IPv6 space: no figure, not a zero.
	IPv6PerMillion *float64 `json:"ipv6_sources_per_million_nets64"`
}

// NewDensity ranks d's groups, densest first, listing top of them; multiples are of reference
// (a country code, or an AS number for networks) when it is ranked.
func NewDensity(d query.Density, names Namer, reference string, top int) Density {
	g := d.Grouping
	out := Density{
		Title:      "Spam sources per address space by " + words[g].title,
		Grouping:   string(g),
		Period:     d.Period.String(),
		PeriodText: PeriodText(d.Period),
		Methodology: fmt.Sprintf("Unique sending IPv4 addresses per million IPv4 addresses that the GeoIP build %s places in each %s "+
			"(IPv6: unique source /64 networks per million /64 networks), from the events table; %s with fewer than %d unique IPv4 sources or less than a /16 of IPv4 space are listed, not ranked.",
			strings.Join(d.Builds, " and "), words[g].noun, words[g].nouns, MinDensitySources),
		Builds: d.Builds, Rows: []DensityLine{}, TooFew: []string{}, NoSpace: []string{}, TooSmall: []string{}, Sentences: []string{},
	}
	var ranked []DensityLine
	for _, grp := range d.Groups {
		if g == query.ByCountry && (grp.Key == countries.Unknown || grp.Key == countries.Reserved) {
			continue // placed nowhere: no space to divide by
		}
		name := names.Name(g, grp.Key, "")
		switch {
		case grp.IPv4Space == 0:
			if grp.IPv4Sources > 0 {
				out.NoSpace = append(out.NoSpace, name)
			}
		case grp.IPv4Space < MinDensitySpace:
			out.TooSmall = append(out.TooSmall, name)
		case grp.IPv4Sources < MinDensitySources:
			out.TooFew = append(out.TooFew, name)
		default:
			l := DensityLine{Ranked: Ranked{Code: code(g, grp.Key), Name: names.Name(g, grp.Key, grp.Org), PerMillion: grp.IPv4PerMillion()},
				Messages: grp.Messages, IPv4Sources: grp.IPv4Sources, IPv4Space: grp.IPv4Space,
				IPv6Sources: grp.IPv6Sources, IPv6Space: grp.IPv6Space}
			if v6, ok := grp.IPv6PerMillion(); ok {
				l.IPv6PerMillion = &v6
			}
			ranked = append(ranked, l)
		}
	}
	var ref *Ranked
	out.Rows, ref = rankLines(ranked, code(g, strings.ToUpper(reference)), top)
	if ref != nil {
		out.Reference = ref.Code
	}
	out.Sentences = densitySentences(g, ranked, ref)
	return out
}

func code(g query.Grouping, key string) string {
	if g == query.ByASN && key != "" {
		return "AS" + strings.TrimPrefix(key, "AS")
	}
	return key
}

// densitySentences say the three densest groups other than the reference against it (alone
// without one), then where the reference ranks.
func densitySentences(g query.Grouping, ranked []DensityLine, ref *Ranked) []string {
	name := func(l Ranked) string {
		if g == query.ByASN {
			if l.Name == l.Code {
				return "the network " + l.Name
			}
			return fmt.Sprintf("the network %s (%s)", l.Code, l.Name)
		}
		return the(l.Name)
	}
	out := []string{}
	for _, l := range ranked {
		if len(out) == 3 {
			break
		}
		switch {
		case ref == nil:
			out = append(out, fmt.Sprintf("Per IPv4 address, %s sent spam from %.0f unique sources per million addresses.", name(l.Ranked), l.PerMillion))
		case l.Code != ref.Code:
			out = append(out, fmt.Sprintf("Per IPv4 address, %s sent spam from %s as many machines as %s (%.0f against %.0f unique sources per million addresses).",
				name(l.Ranked), times(*l.Multiple), name(*ref), l.PerMillion, ref.PerMillion))
		}
	}
	if ref != nil {
		out = append(out, fmt.Sprintf("%s ranks %d of %d, with %.0f unique sources per million addresses.",
			capitalize(name(*ref)), ref.Rank, len(ranked), ref.PerMillion))
	}
	return out
}

// times says a multiple before "as many": "2.1 times", or "about" near 1.
func times(m float64) string {
	if m >= 0.95 && m < 1.05 {
		return "about"
	}
	return strconv.FormatFloat(m, 'f', 1, 64) + " times"
}

// WriteDensity writes d as text, Markdown, CSV or JSON.
func WriteDensity(w io.Writer, d Density, f render.Format) error {
	r := ranking{value: d, title: d.Title, periodText: d.PeriodText, methodology: d.Methodology, sentences: d.Sentences,
		csvHeader: []string{"rank", "code", "name", "messages", "ipv4_sources", "ipv4_addresses", "per_million", "multiple", "ipv6_source_nets64", "ipv6_nets64", "ipv6_per_million"},
		header:    table.Row{"#", "Name", "Code", "IPv4 sources", "IPv4 addresses", "Per million", "× " + cmp.Or(d.Reference, "—"), "IPv6 /64 sources", "Per million /64s"}}
	for _, l := range d.Rows {
		r.csvRows = append(r.csvRows, []string{strconv.Itoa(l.Rank), l.Code, l.Name, strconv.FormatUint(l.Messages, 10), strconv.FormatUint(l.IPv4Sources, 10),
			strconv.FormatUint(l.IPv4Space, 10), strconv.FormatFloat(l.PerMillion, 'f', 3, 64), optionalFigure(l.Multiple, 3),
			strconv.FormatUint(l.IPv6Sources, 10), strconv.FormatUint(l.IPv6Space, 10), optionalFigure(l.IPv6PerMillion, 6)})
		r.rows = append(r.rows, table.Row{l.Rank, l.Name, l.Code, thousands(l.IPv4Sources), thousands(l.IPv4Space), fmt.Sprintf("%.1f", l.PerMillion),
			optionalFigure(l.Multiple, 2), thousands(l.IPv6Sources), optionalFigure(l.IPv6PerMillion, 4)})
	}
	if len(d.TooFew) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("Too few sources to rank (under %d): %s.", MinDensitySources, strings.Join(d.TooFew, ", ")))
	}
	if len(d.TooSmall) > 0 {
		r.notes = append(r.notes, "Too small to rank (less than a /16 of IPv4 space): "+strings.Join(d.TooSmall, ", ")+".")
	}
	if len(d.NoSpace) > 0 {
		r.notes = append(r.notes, "Senders seen where the GeoIP build places no IPv4 space: "+strings.Join(d.NoSpace, ", ")+".")
	}
	return r.write(w, f)
}
