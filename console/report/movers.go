package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/spamgeo/spamgeo/console/query"
)

// MoversListed is how many movers each way text and Markdown list.
const MoversListed = 10

// Movers is what moved between the comparison period and this one, as reports write it.
type Movers struct {
	Test        string      `json:"test"` // the rule, in words
	Confidence  float64     `json:"confidence"`
	MinMessages uint64      `json:"min_messages"`
	Risen       []MoverLine `json:"risen"`
	Fallen      []MoverLine `json:"fallen"`
	Entered     []string    `json:"entered_top"` // names of the groups new in the top rows
	Left        []string    `json:"left_top"`    // names of those no longer in them
	Tested      int         `json:"tested"`
	TooFew      int         `json:"too_few"` // groups with fewer than min_messages in the two periods
}

// MoverLine is one group whose share moved beyond chance.
type MoverLine struct {
	Code          string  `json:"code"`
	Name          string  `json:"name"`
	Share         float64 `json:"share_pct"`
	PreviousShare float64 `json:"compare_share_pct"`
	ChangePP      float64 `json:"change_pp"`
	Z             float64 `json:"z"`
	P             float64 `json:"p_value"`
}

// NewMovers words m, naming its groups (of grouping g) with names.
func NewMovers(m query.Movers, g query.Grouping, names Namer) *Movers {
	out := &Movers{
		Test: fmt.Sprintf("two-proportion z-test, %g%% confidence, at least %d messages in the two periods",
			100*m.Rule.Confidence, m.Rule.MinMessages),
		Confidence: m.Rule.Confidence, MinMessages: m.Rule.MinMessages, Tested: m.Tested, TooFew: m.TooFew,
		Risen: []MoverLine{}, Fallen: []MoverLine{}, Entered: []string{}, Left: []string{},
	}
	line := func(mv query.Mover) MoverLine {
		code := mv.Key
		if g == query.ByASN {
			code = "AS" + mv.Key
		}
		return MoverLine{Code: code, Name: names.Name(g, mv.Key, mv.Name), Share: mv.Share, PreviousShare: mv.PreviousShare,
			ChangePP: mv.ChangePP, Z: mv.Z, P: mv.P}
	}
	for _, mv := range m.Risen {
		out.Risen = append(out.Risen, line(mv))
	}
	for _, mv := range m.Fallen {
		out.Fallen = append(out.Fallen, line(mv))
	}
	for _, k := range m.Entered {
		out.Entered = append(out.Entered, names.Name(g, k, ""))
	}
	for _, k := range m.Left {
		out.Left = append(out.Left, names.Name(g, k, ""))
	}
	return out
}

// WriteMovers writes the movers, at most limit each way (JSON has them all), as a table and a
// line on the top rows, after a report or a listing.
func WriteMovers(w io.Writer, m *Movers, limit int, markdown bool) {
	t := table.NewWriter()
	t.AppendHeader(table.Row{"", "Name", "Before", "Now", "Change", "z", "p"})
	var more []string
	for _, group := range []struct {
		what  string
		lines []MoverLine
	}{{"rose", m.Risen}, {"fell", m.Fallen}} {
		if n := len(group.lines) - limit; n > 0 {
			more = append(more, fmt.Sprintf("%d more %s", n, group.what))
			group.lines = group.lines[:limit]
		}
		for _, l := range group.lines {
			p := fmt.Sprintf("%.2g", l.P)
			if l.P < 1e-6 {
				p = "< 1e-6"
			}
			t.AppendRow(table.Row{group.what, l.Name, percent(l.PreviousShare), percent(l.Share), points(l.ChangePP), fmt.Sprintf("%.1f", l.Z), p})
		}
	}
	title := fmt.Sprintf("What moved beyond chance (%s; %d groups tested, %d with too few messages)", m.Test, m.Tested, m.TooFew)
	top := fmt.Sprintf("New in the top rows: %s. No longer in them: %s.", orNone(m.Entered), orNone(m.Left))
	if len(more) > 0 {
		top = fmt.Sprintf("Smaller moves not listed: %s (all in --format json). %s", strings.Join(more, ", "), top)
	}
	if markdown {
		fmt.Fprintf(w, "\n### %s\n\n", title)
		if len(m.Risen)+len(m.Fallen) > 0 {
			fmt.Fprintf(w, "%s\n", t.RenderMarkdown())
		}
		fmt.Fprintf(w, "\n%s\n", top)
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	if len(m.Risen)+len(m.Fallen) > 0 {
		t.SetStyle(table.StyleLight)
		fmt.Fprintf(w, "%s\n", t.Render())
	} else {
		fmt.Fprintln(w, "No share moved beyond chance.")
	}
	fmt.Fprintln(w, top)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
