package main

import (
	"context"
	"io"
	"time"

	"github.com/spamgeo/spamgeo/query"
	"github.com/spamgeo/spamgeo/report"
)

// ReportCmd is `spamgeo report`.
type ReportCmd struct {
	From        time.Time `help:"First day of the period (YYYY-MM-DD, UTC)." format:"2006-01-02" required:"" env:"SPAMGEO_REPORT_FROM"`
	To          time.Time `help:"Last day of the period, included (YYYY-MM-DD, UTC)." format:"2006-01-02" required:"" env:"SPAMGEO_REPORT_TO"`
	CompareFrom time.Time `help:"First day of the comparison period." format:"2006-01-02" env:"SPAMGEO_REPORT_COMPARE_FROM"`
	CompareTo   time.Time `help:"Last day of the comparison period, included." format:"2006-01-02" env:"SPAMGEO_REPORT_COMPARE_TO"`
	Top         int       `help:"Countries listed before the rest of the world." default:"12" env:"SPAMGEO_REPORT_TOP"`
}

// Run prints the table.
func (c *ReportCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	period, err := query.Days(c.From, c.To)
	if err != nil {
		return err
	}
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := query.NewReader(conn)
	current, err := r.CountryShares(ctx, period)
	if err != nil {
		return err
	}
	var previous *query.Shares
	if !c.CompareFrom.IsZero() || !c.CompareTo.IsZero() {
		cp, err := query.Days(c.CompareFrom, c.CompareTo)
		if err != nil {
			return err
		}
		prev, err := r.CountryShares(ctx, cp)
		if err != nil {
			return err
		}
		previous = &prev
	}
	return report.WriteText(stdout, query.Compare(current, previous, c.Top))
}
