package query

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/storage/queries"
)

// Series is the share of some groups over time: one value per group and bucket, in percent of
// all messages of the bucket, NaN for a bucket without any message.
type Series struct {
	Bucket string      // "month" or "day"
	Times  []time.Time // bucket starts, in order
	Keys   []string
	Shares map[string][]float64
}

// Series returns the share over time of keys (typically a table's top groups), by month for
// periods of three months or more and by day otherwise.
func (r *Reader) Series(ctx context.Context, req Request, keys []string) (*Series, error) {
	s := &Series{Bucket: "day", Keys: keys, Shares: map[string][]float64{}}
	bucket := "toDate"
	if req.Period.To.Sub(req.Period.From) >= 89*24*time.Hour {
		s.Bucket, bucket = "month", "toStartOfMonth"
	}
	// The rollup read must be fine enough for the buckets (a month rollup cannot give days) and
	// need be no finer than a day.
	res := Coarsest(req.Period)
	if res.Name == "hour" || res.Name == "minute" || res.Name == "month" && s.Bucket == "day" {
		res = Resolutions[1]
	}
	table, key := res.country, map[Grouping]string{ByCountry: "country_code", ByContinent: "continent_code", ByTrap: "trap_id", ByASN: "asn"}[req.Grouping]
	if req.Grouping == ByASN {
		table = res.asn
	}
	members, groups := mergeArrays(req.Merge)
	sql := strings.NewReplacer("{bucket}", bucket, "{table}", table, "{key}", key).Replace(queries.Series)
	rows, err := r.conn.Query(ctx, sql, members, groups, req.Period.From.UTC().Format(sqlTime), req.Period.To.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("share over time for %s: %w", req.Period, err)
	}
	defer rows.Close()
	totals := map[time.Time]uint64{}
	counts := map[time.Time]map[string]uint64{}
	for rows.Next() {
		var b time.Time
		var k string
		var n uint64
		if err := rows.Scan(&b, &k, &n); err != nil {
			return nil, err
		}
		b = time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
		if counts[b] == nil {
			counts[b] = map[string]uint64{}
		}
		totals[b] += n
		counts[b][k] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Every bucket of the period, so a stretch without data shows as a gap, not a slope.
	s.Times = s.Times[:0]
	for b := req.Period.From; b.Before(req.Period.To); {
		s.Times = append(s.Times, b)
		if s.Bucket == "month" {
			b = time.Date(b.Year(), b.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		} else {
			b = b.AddDate(0, 0, 1)
		}
	}
	for _, k := range keys {
		for _, b := range s.Times {
			share := math.NaN()
			if totals[b] > 0 {
				share = percent(counts[b][k], totals[b])
			}
			s.Shares[k] = append(s.Shares[k], share)
		}
	}
	return s, nil
}
