// Package query is spamgeo's read side, shared by report, serve and export: periods of whole
// UTC days, the SQL that reads the rollups (bound parameters only), and the share tables built
// from what ClickHouse returns.
package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/queries"
)

// The SQL lives in files so the modern-engine tests (tests/modern) run exactly what Go sends.

// Grouping is what the rows of a share table are.
type Grouping string

// The groupings.
const (
	ByCountry   Grouping = "country"
	ByContinent Grouping = "continent"
	ByASN       Grouping = "asn"
	ByTrap      Grouping = "trap"
)

// Groupings lists them for help texts and validation.
var Groupings = []Grouping{ByCountry, ByContinent, ByASN, ByTrap}

// Resolution is one step of rollup.
type Resolution struct {
	Name    string
	country string // the country rollup at this step
	asn     string // the network rollup, "" where there is none
	uniq    string // the state function of its sources column
}

// Resolutions lists the rollups, coarsest first.
var Resolutions = []Resolution{
	{"month", "rollup_country_month", "rollup_asn_month", "uniqHLL12"},
	{"day", "rollup_country_day", "rollup_asn_day", "uniq"},
	{"hour", "rollup_country_hour", "rollup_asn_hour", "uniq"},
	{"minute", "rollup_country_minute", "", "uniq"},
}

func (r Resolution) divides(t time.Time) bool {
	switch r.Name {
	case "month":
		return t.Day() == 1 && t.Equal(period.StartOfDay(t))
	case "day":
		return t.Equal(period.StartOfDay(t))
	case "hour":
		return t.Equal(t.Truncate(time.Hour))
	}
	return t.Equal(t.Truncate(time.Minute))
}

// Coarsest returns the coarsest rollup whose step divides both ends of p, so that a long period
// reads a few rows per month or day instead of one per minute.
func Coarsest(p period.Period) Resolution {
	for _, r := range Resolutions {
		if r.divides(p.From) && r.divides(p.To) {
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

// Count is one group's messages and unique source addresses in a period.
type Count struct {
	Key      string // country or continent code, AS number, trap id
	Name     string // the AS organisation, for networks
	Messages uint64
	Sources  uint64
}

// Counts are every group of a period, largest first, with the period's totals.
type Counts struct {
	Period     period.Period
	Grouping   Grouping
	Resolution string
	Groups     []Count
	Total      Count // all messages, all unique sources (not the sum of the groups' sources)
}

// Request says what to count.
type Request struct {
	Period   period.Period
	Grouping Grouping
	// Merge maps codes to the code of the group a publisher reports them under (HK -> CN for
	// "China (incl Hong Kong)"). Only for country grouping.
	Merge map[string]string
}

const sqlTime = "2006-01-02 15:04:05"

// Counts reads a period's groups from the coarsest rollup that answers it.
func (r *Reader) Counts(ctx context.Context, req Request) (Counts, error) {
	if !slices.Contains(Groupings, req.Grouping) {
		return Counts{}, fmt.Errorf("grouping %q is not one of %v", req.Grouping, Groupings)
	}
	if err := req.Period.Check(); err != nil {
		return Counts{}, err
	}
	res := Coarsest(req.Period)
	table, key, name := res.country, map[Grouping]string{
		ByCountry: "country_code", ByContinent: "continent_code", ByTrap: "trap_id", ByASN: "asn"}[req.Grouping], "''"
	if req.Grouping == ByASN {
		if res.asn == "" {
			return Counts{}, fmt.Errorf("network reports need periods of whole hours; %s is not", req.Period)
		}
		table, name = res.asn, "anyMerge(as_org)"
	}
	if len(req.Merge) > 0 && req.Grouping != ByCountry {
		return Counts{}, fmt.Errorf("publisher groupings apply to countries, not to %s", req.Grouping)
	}
	from, to := req.Period.From.UTC().Format(sqlTime), req.Period.To.UTC().Format(sqlTime)
	fill := strings.NewReplacer("{table}", table, "{key}", key, "{name}", name, "{uniq}", res.uniq)
	members, groups := mergeArrays(req.Merge)
	out := Counts{Period: req.Period, Grouping: req.Grouping, Resolution: res.Name}
	rows, err := r.conn.Query(ctx, fill.Replace(queries.Shares), members, groups, from, to)
	if err != nil {
		return Counts{}, fmt.Errorf("%s shares for %s: %w", req.Grouping, req.Period, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Key, &c.Name, &c.Messages, &c.Sources); err != nil {
			return Counts{}, fmt.Errorf("%s shares for %s: %w", req.Grouping, req.Period, err)
		}
		c.Sources = min(c.Sources, c.Messages) // an estimate may overshoot; there are never more senders than messages
		out.Groups = append(out.Groups, c)
	}
	if err := rows.Err(); err != nil {
		return Counts{}, err
	}
	if err := r.conn.QueryRow(ctx, fill.Replace(queries.SharesTotal), from, to).Scan(&out.Total.Messages, &out.Total.Sources); err != nil {
		return Counts{}, fmt.Errorf("totals for %s: %w", req.Period, err)
	}
	out.Total.Sources = min(out.Total.Sources, out.Total.Messages)
	return out, nil
}

// CountryCount is how many messages a country relayed.
type CountryCount struct {
	Country  string
	Messages uint64
}

// MessagesByCountryFromEvents counts messages per country by scanning the events table: the
// slow way round the rollups, for benchmarks and checks.
func (r *Reader) MessagesByCountryFromEvents(ctx context.Context, p period.Period) ([]CountryCount, error) {
	rows, err := r.conn.Query(ctx, queries.CountryMessagesRaw, p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("messages by country for %s: %w", p, err)
	}
	defer rows.Close()
	var out []CountryCount
	for rows.Next() {
		var c CountryCount
		if err := rows.Scan(&c.Country, &c.Messages); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// mergeArrays turns a publisher merge into the two arrays transform() takes. ClickHouse cannot
// type empty arrays there, so an empty code maps to itself when there is nothing to merge.
func mergeArrays(merge map[string]string) (members, groups []string) {
	members, groups = []string{""}, []string{""}
	for m, g := range merge {
		members, groups = append(members, m), append(groups, g)
	}
	return members, groups
}
