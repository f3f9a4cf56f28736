package campaign

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/spreadsheet"
)

// Formats are the outputs of Write, the same names `spamgeo report` uses; png and svg draw the
// listed campaigns' messages per day.
var Formats = []string{"text", "markdown", "csv", "json", "html", "png", "svg"}

// Listing is what `spamgeo campaigns` prints: the top campaigns of a period.
type Listing struct {
	Period    string    `json:"period"`
	Campaigns []Summary `json:"campaigns"`
	// Shown and Total count the campaigns listed and those active in the period.
	Shown int `json:"shown"`
	Total int `json:"total"`
	// Movers, when asked for, are the campaigns whose share of all messages moved beyond chance
	// since ComparePeriod (WithMovers).
	ComparePeriod string         `json:"compare_period,omitempty"`
	Movers        *report.Movers `json:"movers,omitempty"`

	period period.Period
}

// NewListing lists the campaigns of r with at least minMessages messages, top at most.
func NewListing(r *Result, top int, minMessages uint64) Listing {
	l := Listing{Period: r.Period.String(), Total: len(r.Summaries), Campaigns: []Summary{}, period: r.Period}
	for _, s := range r.Summaries {
		if len(l.Campaigns) < top && s.Messages >= minMessages {
			l.Campaigns = append(l.Campaigns, s)
		}
	}
	l.Shown = len(l.Campaigns)
	return l
}

// WithMovers adds the movers of m, found against cp (Result.Movers), to l.
func (l Listing) WithMovers(m query.Movers, cp period.Period) Listing {
	l.ComparePeriod, l.Movers = cp.String(), report.NewMovers(m, Grouping, report.Namer{})
	return l
}

// MoversFormats are the formats that carry a listing's movers.
var MoversFormats = []string{"text", "markdown", "json"}

// Write renders l in format f.
func Write(w io.Writer, l Listing, f string) error {
	if l.Movers != nil && !slices.Contains(MoversFormats, f) {
		return fmt.Errorf("the movers are written as %v, not %s", MoversFormats, f)
	}
	switch f {
	case "text":
		t := grid(l)
		t.SetStyle(table.StyleLight)
		t.Style().Format.Header = text.FormatDefault
		if _, err := fmt.Fprintf(w, "%s\n%s\n", heading(l), t.Render()); err != nil {
			return err
		}
		if l.Movers != nil {
			fmt.Fprintf(w, "\nAgainst %s, campaigns as shares of all trapped messages:", l.ComparePeriod)
			report.WriteMovers(w, l.Movers, report.MoversListed, false)
		}
		return nil
	case "markdown":
		if _, err := fmt.Fprintf(w, "## %s\n\n%s\n", heading(l), grid(l).RenderMarkdown()); err != nil {
			return err
		}
		if l.Movers != nil {
			fmt.Fprintf(w, "\nAgainst %s, campaigns as shares of all trapped messages:\n", l.ComparePeriod)
			report.WriteMovers(w, l.Movers, report.MoversListed, true)
		}
		return nil
	case "html":
		_, err := fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%[1]s</title></head>\n<body><h1>%[1]s</h1>\n%[2]s\n</body></html>\n",
			html.EscapeString(heading(l)), grid(l).RenderHTML())
		return err
	case "csv":
		return writeCSV(w, l)
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(l)
	case "png", "svg":
		return writeChart(w, l, render.Format(f))
	}
	return fmt.Errorf("format %q is not one of %v", f, Formats)
}

func heading(l Listing) string {
	return fmt.Sprintf("Spam campaigns, %s (top %d of %d)", l.Period, l.Shown, l.Total)
}

func grid(l Listing) table.Writer {
	t := table.NewWriter()
	t.AppendHeader(table.Row{"Campaign", "Messages", "Days", "Sources", "Networks", "Relayed from", "Sites hosted in", "Domains registered in", "Domains", "Subject"})
	for _, s := range l.Campaigns {
		subject := ""
		if len(s.SubjectTemplates) > 0 {
			subject = s.SubjectTemplates[0]
		}
		t.AppendRow(table.Row{s.ID, s.Messages, s.DaysActive, s.UniqueSources, s.ASNs, relayMix(s.RelayCountries, 3),
			codes(s.HostingCountries), codes(s.DomainCountries), firstOf(s.Domains, 3), subject})
	}
	t.SetColumnConfigs([]table.ColumnConfig{{Number: 2, Align: text.AlignRight}, {Number: 3, Align: text.AlignRight},
		{Number: 4, Align: text.AlignRight}, {Number: 5, Align: text.AlignRight}, {Number: 10, WidthMax: 40}})
	return t
}

// relayMix writes the top n relay countries with their shares: "US 40%, CN 20%, +3".
func relayMix(shares []CountryShare, n int) string {
	var parts []string
	for i, s := range shares {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d", len(shares)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Country, 100*s.Share))
	}
	return strings.Join(parts, ", ")
}

func codes(cc []string) string {
	if len(cc) == 0 {
		return "–"
	}
	return strings.Join(cc, " ")
}

func firstOf(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, " ")
	}
	return strings.Join(s[:n], " ") + fmt.Sprintf(" +%d", len(s)-n)
}

// writeCSV writes one campaign per line. Text cells go through spreadsheet.Text: domains and
// subjects are the spammers' own words, and can be formulas.
func writeCSV(w io.Writer, l Listing) error {
	c := csv.NewWriter(w)
	cell := spreadsheet.Text
	_ = c.Write([]string{"period", "campaign", "messages", "days_active", "first_day", "last_day", "unique_sources", "asns",
		"relay_countries", "hosting_countries", "domain_countries", "domains", "subject_templates"})
	for _, s := range l.Campaigns {
		var relay []string
		for _, r := range s.RelayCountries {
			relay = append(relay, r.Country+":"+strconv.FormatUint(r.Messages, 10))
		}
		_ = c.Write([]string{cell(l.Period), cell(s.ID), strconv.FormatUint(s.Messages, 10), strconv.Itoa(s.DaysActive),
			s.FirstDay.Format("2006-01-02"), s.LastDay.Format("2006-01-02"), strconv.Itoa(s.UniqueSources), strconv.Itoa(s.ASNs),
			cell(strings.Join(relay, " ")), cell(strings.Join(s.HostingCountries, " ")), cell(strings.Join(s.DomainCountries, " ")),
			cell(strings.Join(s.Domains, " ")), cell(strings.Join(s.SubjectTemplates, " | "))})
	}
	c.Flush()
	return c.Error()
}

// CountryNames spells out codes for readers: "MC" -> "Monaco (MC)".
func CountryNames(cc []string) string {
	var out []string
	for _, c := range cc {
		out = append(out, fmt.Sprintf("%s (%s)", countries.Name(c), c))
	}
	return strings.Join(out, ", ")
}
