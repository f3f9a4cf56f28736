// Package query is spamgeo's read side, shared by report, serve and export: periods of whole
// UTC days, the SQL that reads the rollups (bound parameters only), and the share tables built
// from what ClickHouse returns.
package query

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
)

// Period is a range of whole UTC days, From inclusive, To exclusive.
type Period struct {
	From, To time.Time
}

// Days returns the period from the first to the last day given, both included.
func Days(first, last time.Time) (Period, error) {
	p := Period{From: day(first), To: day(last).AddDate(0, 0, 1)}
	if !p.To.After(p.From) {
		return Period{}, fmt.Errorf("period ends (%s) before it starts (%s)", last.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	return p, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Last is the last day of the period.
func (p Period) Last() time.Time { return p.To.AddDate(0, 0, -1) }

// String writes the period as first..last day.
func (p Period) String() string {
	return p.From.Format(time.DateOnly) + ".." + p.Last().Format(time.DateOnly)
}

// The SQL lives in files so the modern-engine tests (tests/modern) run exactly what Go sends.
//
//go:embed sql/messages_by_country.sql
var messagesByCountry string

// Reader runs the read-side queries on one ClickHouse connection.
type Reader struct {
	conn clickhousedb.Conn
}

// NewReader reads through conn, which must be open on spamgeo's database.
func NewReader(conn clickhousedb.Conn) *Reader { return &Reader{conn: conn} }

// CountryCount is how many messages a country relayed.
type CountryCount struct {
	Country  string
	Messages uint64
}

// MessagesByCountry sums the daily rollup over p, largest first.
func (r *Reader) MessagesByCountry(ctx context.Context, p Period) ([]CountryCount, error) {
	rows, err := r.conn.Query(ctx, messagesByCountry, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("messages by country for %s: %w", p, err)
	}
	defer rows.Close()
	var out []CountryCount
	for rows.Next() {
		var c CountryCount
		if err := rows.Scan(&c.Country, &c.Messages); err != nil {
			return nil, fmt.Errorf("messages by country for %s: %w", p, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
