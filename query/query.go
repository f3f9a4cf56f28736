// Package query is spamgeo's read side, shared by report, serve and export: periods of whole
// UTC days, the SQL that reads the rollups (bound parameters only), and the share tables built
// from what ClickHouse returns.
package query

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
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
var (
	//go:embed sql/country_messages.sql
	countryMessages string
	//go:embed sql/country_messages_raw.sql
	countryMessagesRaw string
)

// Resolution is the time step of a rollup.
type Resolution struct {
	Step  time.Duration
	Table string // the country rollup at this step
}

// Resolutions lists the country rollups, coarsest first.
var Resolutions = []Resolution{
	{24 * time.Hour, "rollup_country_day"},
	{time.Hour, "rollup_country_hour"},
	{time.Minute, "rollup_country_minute"},
}

// Coarsest returns the coarsest rollup whose step divides both ends of p, so that a long period
// reads a few rows per day instead of one per minute.
func Coarsest(p Period) Resolution {
	for _, r := range Resolutions {
		if p.From.Truncate(r.Step).Equal(p.From) && p.To.Truncate(r.Step).Equal(p.To) {
			return r
		}
	}
	return Resolutions[len(Resolutions)-1]
}

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

const sqlTime = "2006-01-02 15:04:05"

// MessagesByCountry sums the coarsest rollup that answers p, largest first.
func (r *Reader) MessagesByCountry(ctx context.Context, p Period) ([]CountryCount, error) {
	sql := strings.ReplaceAll(countryMessages, "{rollup}", Coarsest(p).Table)
	return r.countryCounts(ctx, sql, p)
}

// MessagesByCountryFromEvents gives the same answer by scanning the events table.
func (r *Reader) MessagesByCountryFromEvents(ctx context.Context, p Period) ([]CountryCount, error) {
	return r.countryCounts(ctx, countryMessagesRaw, p)
}

func (r *Reader) countryCounts(ctx context.Context, sql string, p Period) ([]CountryCount, error) {
	rows, err := r.conn.Query(ctx, sql, p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime))
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
