package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/period"
)

// Request says what a report covers: the period and rows (Query), an optional comparison
// period, how many rows precede the rest of the world, a publisher's grouping, whether the
// share-over-time series of the top rows is wanted, and whether the traps and GeoIP builds
// behind the figures are (for the methodology line of charts: it scans the events table).
type Request struct {
	Query      query.Request
	Compare    *period.Period
	Top        int
	Publisher  string // built-in grouping name or YAML file; empty for none
	Series     bool
	Provenance bool
	// Movers asks which groups' shares moved beyond chance against the comparison (query.FindMovers).
	Movers bool
}

// Build reads the counts (and the comparison's, and the series) and lays the report out.
func Build(ctx context.Context, r *query.Reader, req Request) (Report, error) {
	if req.Top < 1 {
		return Report{}, fmt.Errorf("top %d: list at least one row", req.Top)
	}
	names := Namer{}
	if req.Publisher != "" {
		if req.Query.Grouping != query.ByCountry {
			return Report{}, errors.New("a publisher groups countries: use it with rows by country")
		}
		var err error
		if names.Publisher, err = query.LoadPublisher(req.Publisher); err != nil {
			return Report{}, err
		}
		req.Query.Merge = names.Publisher.Merge()
	}
	current, err := r.Counts(ctx, req.Query)
	if err != nil {
		return Report{}, err
	}
	var previous *query.Counts
	if req.Compare != nil {
		creq := req.Query
		creq.Period = *req.Compare
		prev, err := r.Counts(ctx, creq)
		if err != nil {
			return Report{}, err
		}
		previous = &prev
	}
	table := query.Compare(current, previous, req.Top)
	var series *query.Series
	if req.Series {
		var keys []string
		for _, row := range table.Top[:min(len(table.Top), 8)] {
			keys = append(keys, row.Key)
		}
		if series, err = r.Series(ctx, req.Query, keys); err != nil {
			return Report{}, err
		}
	}
	rep := New(table, names, series)
	if req.Movers && table.Compared() {
		rep.Movers = NewMovers(query.FindMovers(current, *previous, req.Top, query.DefaultMoverRule), req.Query.Grouping, names)
	}
	if req.Provenance {
		p, err := r.Provenance(ctx, req.Query.Period)
		if err != nil {
			return Report{}, err
		}
		rep.provenance = &p
		if req.Compare != nil {
			cp, err := r.Provenance(ctx, *req.Compare)
			if err != nil {
				return Report{}, err
			}
			rep.compareProvenance = &cp
		}
	}
	return rep, nil
}

// Comparison resolves a comparison for p: none (or empty), previous, year, or a period in any
// form period.Parse reads. Like p, it must lie between period.FirstDay and period.LastDay.
func Comparison(s string, p period.Period) (*period.Period, error) {
	var cp period.Period
	switch strings.ToLower(s) {
	case "", "none":
		return nil, nil
	case "previous":
		cp = p.Previous()
	case "year":
		cp = p.YearEarlier()
	default:
		var err error
		if cp, err = period.Parse(s); err != nil {
			return nil, fmt.Errorf("comparison: %w", err)
		}
	}
	if err := cp.Check(); err != nil {
		return nil, fmt.Errorf("comparison: %w", err)
	}
	return &cp, nil
}
