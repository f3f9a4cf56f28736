package report

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/period"
)

// Normalisations are the rankings other than raw shares (report --per, the API's per).
var Normalisations = []string{PerCapitaPeople, PerCapitaInternetUser, PerAddressSpace}

// PerAddressSpace ranks by unique sending addresses per address space.
const PerAddressSpace = "address-space"

// NormalRequest asks for a ranking by one of Normalisations.
type NormalRequest struct {
	Period    period.Period
	Per       string
	Grouping  query.Grouping // country, or for address-space also asn
	Reference string         // the code multiples are of
	Top       int
	// The country dataset of capita and internet-user, and its name for the methodology line;
	// the built-in one when nil.
	Population map[string]countries.Population
	Source     string
}

// Normalised is a PerCapita or a Density ranking.
type Normalised interface {
	Write(w io.Writer, f render.Format) error
}

// Write writes the ranking (see WritePerCapita).
func (r PerCapita) Write(w io.Writer, f render.Format) error { return WritePerCapita(w, r, f) }

// Write writes the ranking (see WriteDensity).
func (d Density) Write(w io.Writer, f render.Format) error { return WriteDensity(w, d, f) }

// ErrNormalRequest marks a request that cannot be answered as asked.
var ErrNormalRequest = errors.New("normalisation")

// Normalise reads what req needs and ranks it.
func Normalise(ctx context.Context, r *query.Reader, req NormalRequest) (Normalised, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrNormalRequest, fmt.Sprintf(format, a...))
	}
	switch {
	case !slices.Contains(Normalisations, req.Per):
		return nil, bad("per %q is not one of %v", req.Per, Normalisations)
	case req.Top < 1:
		return nil, bad("top %d: list at least one row", req.Top)
	case req.Per == PerAddressSpace && req.Grouping != query.ByCountry && req.Grouping != query.ByASN:
		return nil, bad("per %s ranks countries or networks, not by %s", req.Per, req.Grouping)
	case req.Per != PerAddressSpace && req.Grouping != query.ByCountry:
		return nil, bad("per %s ranks countries, not by %s", req.Per, req.Grouping)
	}
	if req.Per == PerAddressSpace {
		d, err := r.AddressDensity(ctx, req.Period, req.Grouping)
		if err != nil {
			return nil, err
		}
		return NewDensity(d, Namer{}, req.Reference, req.Top), nil
	}
	if req.Population == nil {
		req.Population, req.Source = countries.BuiltinPopulation(), countries.PopulationSource
	}
	counts, err := r.Counts(ctx, query.Request{Period: req.Period, Grouping: query.ByCountry})
	if err != nil {
		return nil, err
	}
	return NewPerCapita(counts, req.Population, req.Per, req.Source, req.Reference, req.Top), nil
}

// ranking is a normalised ranking laid out for its writers.
type ranking struct {
	value                          any // what JSON writes
	title, periodText, methodology string
	sentences, notes               []string // notes: lines after the sentences
	csvHeader                      []string
	csvRows                        [][]string
	header                         table.Row
	rows                           []table.Row
}

// write writes the ranking as text, Markdown, CSV or JSON.
func (r ranking) write(w io.Writer, f render.Format) error {
	switch f {
	case render.JSON:
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(r.value)
	case render.CSV:
		cw := csv.NewWriter(w)
		_ = cw.Write(r.csvHeader)
		_ = cw.WriteAll(r.csvRows)
		return cw.Error()
	case render.Text, render.Markdown:
		t := table.NewWriter()
		t.AppendHeader(r.header)
		t.AppendRows(r.rows)
		rendered := t.Render()
		if f == render.Markdown {
			rendered = t.RenderMarkdown()
		}
		fmt.Fprintf(w, "%s, %s\n\n%s\n\n", r.title, r.periodText, rendered)
		for _, s := range r.sentences {
			fmt.Fprintln(w, s)
		}
		for _, n := range r.notes {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		fmt.Fprintf(w, "\n%s\n", r.methodology)
		return nil
	}
	return fmt.Errorf("--per writes text, markdown, csv or json, not %s", f)
}

// optionalFigure formats a figure that may not exist (a multiple of an absent reference, a
// density without space): "" without one.
func optionalFigure(m *float64, prec int) string {
	if m == nil {
		return ""
	}
	return strconv.FormatFloat(*m, 'f', prec, 64)
}

// Ranked is what every line of a normalised ranking has.
type Ranked struct {
	Rank       int      `json:"rank"`
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	PerMillion float64  `json:"per_million"` // the figure ranked by
	Multiple   *float64 `json:"multiple_of_reference,omitempty"`
}

func (r *Ranked) ranked() *Ranked { return r }

// rankLines sorts lines by their figure, highest first (then by code), numbers them and, when
// the reference is among them, sets each one's multiple of its figure. It returns the top lines,
// with the reference after them when it is not among them, and the reference (nil when absent).
func rankLines[L any, P interface {
	*L
	ranked() *Ranked
}](lines []L, reference string, top int) (listed []L, ref *Ranked) {
	slices.SortFunc(lines, func(a, b L) int {
		ra, rb := P(&a).ranked(), P(&b).ranked()
		return cmp.Or(cmp.Compare(rb.PerMillion, ra.PerMillion), cmp.Compare(ra.Code, rb.Code))
	})
	refAt := -1
	for i := range lines {
		r := P(&lines[i]).ranked()
		r.Rank = i + 1
		if r.Code == reference {
			refAt, ref = i, r
		}
	}
	if ref != nil {
		for i := range lines {
			r := P(&lines[i]).ranked()
			m := r.PerMillion / ref.PerMillion
			r.Multiple = &m
		}
	}
	listed = append([]L{}, lines[:min(top, len(lines))]...)
	if refAt >= top {
		listed = append(listed, lines[refAt]) // the reference is always shown
	}
	return listed, ref
}
