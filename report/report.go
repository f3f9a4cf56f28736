// Package report writes press-release statistics: the "dirty dozen" table of the countries
// that relayed the most trapped spam, with their shares compared against another period, and
// a sentence that can be quoted. It formats what package query computed; it runs no SQL.
package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/query"
)

// WriteText writes t as an aligned terminal table followed by its headline sentence.
func WriteText(w io.Writer, t query.Table) error {
	cur := t.Current
	fmt.Fprintf(w, "Share of trapped spam by relaying country, %s (%s messages)\n", cur.Period, thousands(cur.Total))
	if t.Previous != nil {
		fmt.Fprintf(w, "compared with %s (%s messages)\n", t.Previous.Period, thousands(t.Previous.Total))
	}
	fmt.Fprintln(w)

	header := []string{"Rank", "Country", cur.Period.String()}
	if t.Previous != nil {
		header = append(header, t.Previous.Period.String(), "Change", "Was")
	}
	var rows [][]string
	for _, r := range t.Top {
		row := []string{fmt.Sprint(r.Current.Rank), label(r.Country), percent(r.Current.Percent)}
		if t.Previous != nil {
			was := "-"
			if r.Previous.Rank > 0 {
				was = fmt.Sprint(r.Previous.Rank)
			}
			row = append(row, percent(r.Previous.Percent), points(r.ChangePP), was)
		}
		rows = append(rows, row)
	}
	rest := []string{"", "Rest of the world", percent(t.Rest.Current.Percent)}
	total := []string{"", "Messages", thousands(cur.Total)}
	if t.Previous != nil {
		rest = append(rest, percent(t.Rest.Previous.Percent), points(t.Rest.ChangePP), "")
		total = append(total, thousands(t.Previous.Total), "", "")
	}
	rows = append(rows, rest, total)
	if err := writeAligned(w, header, rows); err != nil {
		return err
	}
	if line := Headline(t); line != "" {
		_, err := fmt.Fprintf(w, "\n%s\n", line)
		return err
	}
	return nil
}

// Headline is the quotable sentence about the top country, or "" for an empty period.
func Headline(t query.Table) string {
	if len(t.Top) == 0 {
		return ""
	}
	top := t.Top[0]
	s := fmt.Sprintf("Between %s and %s %s relayed %s of the spam caught by our traps",
		t.Current.Period.From.Format("2 January 2006"), t.Current.Period.Last().Format("2 January 2006"),
		countryInSentence(top.Country), quoted(top.Current.Percent))
	if t.Previous != nil && t.Previous.Total > 0 {
		when := "in " + t.Previous.Period.String()
		if t.Previous.Period.From.Equal(t.Current.Period.From.AddDate(-1, 0, 0)) &&
			t.Previous.Period.To.Equal(t.Current.Period.To.AddDate(-1, 0, 0)) {
			when = "a year earlier"
		}
		switch {
		case top.ChangePP < 0:
			s += fmt.Sprintf(", down from %s %s", quoted(top.Previous.Percent), when)
		case top.ChangePP > 0:
			s += fmt.Sprintf(", up from %s %s", quoted(top.Previous.Percent), when)
		default:
			s += fmt.Sprintf(", the same share as %s", when)
		}
	}
	if len(t.Top) > 1 {
		s += fmt.Sprintf("; %s was second with %s", countries.Name(t.Top[1].Country), quoted(t.Top[1].Current.Percent))
	}
	return s + "."
}

// quoted writes a share as a press release would: 26.5%, 15.42%, 9%.
func quoted(p float64) string {
	return strconv.FormatFloat(math.Round(p*100)/100, 'f', -1, 64) + "%"
}

// countryInSentence adds the article some country names take in running text.
func countryInSentence(code string) string {
	name := countries.Name(code)
	switch code {
	case "US", "GB", "NL", "PH", "AE", "DO", "BS", "GM", "CF", "KM", "MV", "MH", "SB", "SC":
		return "the " + name
	}
	return name
}

func label(country string) string {
	return fmt.Sprintf("%s (%s)", countries.Name(country), country)
}

func percent(p float64) string { return fmt.Sprintf("%.2f%%", p) }

func points(pp float64) string {
	if pp == 0 {
		return "0.00 pp"
	}
	return fmt.Sprintf("%+.2f pp", pp)
}

func thousands(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeAligned writes a table whose second column is left-aligned and all others right-aligned.
func writeAligned(w io.Writer, header []string, rows [][]string) error {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range append([][]string{header}, rows...) {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}
