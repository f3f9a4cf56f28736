package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/internal/spreadsheet"
)

// Write writes r in format f. PNG and SVG write the comparison bar chart; the share-over-time
// chart is WriteTimeChart.
func Write(w io.Writer, r Report, f render.Format) error {
	switch f {
	case render.Text:
		return writeText(w, r)
	case render.Markdown:
		return writeMarkdown(w, r)
	case render.CSV:
		return writeCSV(w, r)
	case render.JSON:
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(r)
	case render.HTML:
		return WriteHTML(w, r, render.ChartOptions{})
	case render.PNG, render.SVG:
		return WriteBarChart(w, r, render.ChartOptions{}, f)
	}
	return fmt.Errorf("format %q is not one of %v", f, render.Formats)
}

// grid lays the report out as a table for the text and Markdown renderers.
func grid(r Report) table.Writer {
	t := table.NewWriter()
	header := table.Row{"#", "Name", "Code", "Share", "95% interval", "Sources"}
	if r.Compared() {
		header = append(header, "Before", "Change", "Rank")
	}
	header = append(header, "Messages")
	t.AppendHeader(header)
	for _, l := range r.Rows {
		rank := ""
		if l.Rank > 0 {
			rank = strconv.Itoa(l.Rank)
		}
		row := table.Row{rank, l.Name, l.Code, percent(l.Share), fmt.Sprintf("%.2f–%.2f", l.Low, l.High), percent(l.SourceShare)}
		if r.Compared() {
			row = append(row, percent(*l.PreviousShare), points(*l.ChangePP), rankMove(l))
		}
		row = append(row, thousands(l.Messages))
		t.AppendRow(row)
	}
	all := "100.00%"
	if r.Messages == 0 {
		all = "–"
	}
	footer := table.Row{"", "All messages", "", all, "", all}
	if r.Compared() {
		footer = append(footer, "", "", "")
	}
	t.AppendFooter(append(footer, thousands(r.Messages)))
	columns := []table.ColumnConfig{{Number: 1, Align: text.AlignRight},
		{Number: 2, Align: text.AlignLeft, AlignHeader: text.AlignLeft, AlignFooter: text.AlignLeft}}
	for i := 4; i <= len(header); i++ {
		columns = append(columns, table.ColumnConfig{Number: i, Align: text.AlignRight, AlignFooter: text.AlignRight})
	}
	t.SetColumnConfigs(columns)
	return t
}

// rankMove says how a row's rank moved: "▲2", "▼1", "=", "new".
func rankMove(l Line) string {
	switch {
	case l.Movement == "new":
		return "new"
	case l.RankChange == nil:
		return ""
	case *l.RankChange > 0:
		return fmt.Sprintf("▲%d", *l.RankChange)
	case *l.RankChange < 0:
		return fmt.Sprintf("▼%d", -*l.RankChange)
	}
	return "="
}

func heading(r Report) string {
	s := fmt.Sprintf("%s, %s (%s messages)", r.Title, r.Period, thousands(r.Messages))
	if r.CompareTotal != nil {
		s += fmt.Sprintf(", compared with %s (%s messages)", r.Compare, thousands(*r.CompareTotal))
	}
	return s
}

func writeText(w io.Writer, r Report) error {
	t := grid(r)
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatDefault
	t.Style().Format.Footer = text.FormatDefault
	_, err := fmt.Fprintf(w, "%s\n%s\n\n", heading(r), t.Render())
	for _, s := range r.Sentences {
		fmt.Fprintln(w, s)
	}
	if r.Movers != nil {
		WriteMovers(w, r.Movers, MoversListed, false)
	}
	for _, s := range r.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", s)
	}
	fmt.Fprintf(w, "\n%s\n", r.Caveat)
	return err
}

func writeMarkdown(w io.Writer, r Report) error {
	t := grid(r)
	_, err := fmt.Fprintf(w, "## %s\n\n%s\n\n", heading(r), t.RenderMarkdown())
	for _, s := range r.Sentences {
		fmt.Fprintf(w, "- %s\n", s)
	}
	if r.Movers != nil {
		WriteMovers(w, r.Movers, MoversListed, true)
	}
	for _, s := range r.Notes {
		fmt.Fprintf(w, "\n**Note:** %s\n", s)
	}
	fmt.Fprintf(w, "\n*%s*\n", r.Caveat)
	return err
}

// writeCSV writes one row per line with plain numbers, for spreadsheets. Cells the row does not
// have (no rank for the rest of the world, no comparison) are empty, as in the JSON they are absent.
// Text cells go through spreadsheet.Text: a trap id or network name can be a formula.
func writeCSV(w io.Writer, r Report) error {
	c := csv.NewWriter(w)
	_ = c.Write([]string{"period", "compare_period", "rank", "code", "name", "messages", "share_pct", "share_low_pct",
		"share_high_pct", "unique_sources", "unique_sources_pct", "compare_rank", "compare_share_pct", "change_pp",
		"rank_change", "movement"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	fp := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	ip := func(v *int) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(*v)
	}
	for _, l := range r.Rows {
		rank := ""
		if l.Rank > 0 {
			rank = strconv.Itoa(l.Rank)
		}
		_ = c.Write([]string{spreadsheet.Text(r.Period), spreadsheet.Text(r.Compare), rank, spreadsheet.Text(l.Code), spreadsheet.Text(l.Name),
			strconv.FormatUint(l.Messages, 10), f(l.Share), f(l.Low), f(l.High), strconv.FormatUint(l.Sources, 10), f(l.SourceShare),
			ip(l.PreviousRank), fp(l.PreviousShare), fp(l.ChangePP), ip(l.RankChange), spreadsheet.Text(l.Movement)})
	}
	c.Flush()
	return c.Error()
}
