package query

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// BenchmarkCountryShareOfAYear answers "each country's share of 2005" — messages and unique
// sources, as spamgeo report asks — from the month rollup, and the message counts by scanning
// the events table, for each table size in SPAMGEO_BENCH_EVENTS (comma-separated; default
// 1,000,000 and 10,000,000), so the growth of query time and storage shows in one run. It
// reports the bytes on disk of the events table and of the rollups.
func BenchmarkCountryShareOfAYear(b *testing.B) {
	sizes := []int{1_000_000, 10_000_000}
	if v := os.Getenv("SPAMGEO_BENCH_EVENTS"); v != "" {
		sizes = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SPAMGEO_BENCH_EVENTS=%q: sizes are positive integers", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		countryShares(b, n)
	}
}

func countryShares(b *testing.B, n int) {
	cfg := testenv.BenchEvents(b, n)
	conn, err := cfg.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var eventBytes, rollupBytes uint64
	if err := conn.QueryRow(context.Background(), `SELECT sumIf(bytes_on_disk, table = 'events'), sumIf(bytes_on_disk, table LIKE 'rollup_%')
		FROM system.parts WHERE database = currentDatabase() AND active`).Scan(&eventBytes, &rollupBytes); err != nil {
		b.Fatal(err)
	}
	r := NewReader(conn)
	year, _ := period.Days(time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2005, 12, 31, 0, 0, 0, 0, time.UTC))
	fromRollup := func(ctx context.Context, p period.Period) ([]CountryCount, error) {
		c, err := r.Counts(ctx, Request{Period: p, Grouping: ByCountry})
		var out []CountryCount
		for _, g := range c.Groups {
			out = append(out, CountryCount{g.Key, g.Messages})
		}
		return out, err
	}
	for _, q := range []struct {
		name string
		run  func(context.Context, period.Period) ([]CountryCount, error)
	}{{"rollup", fromRollup}, {"events", r.MessagesByCountryFromEvents}} {
		b.Run(fmt.Sprintf("%s/%dM", q.name, n/1_000_000), func(b *testing.B) {
			for b.Loop() {
				counts, err := q.run(context.Background(), year)
				if err != nil {
					b.Fatal(err)
				}
				var total uint64
				for _, c := range counts {
					total += c.Messages
				}
				if total != uint64(n) {
					b.Fatalf("%s counted %d messages, want %d", q.name, total, n)
				}
			}
			b.ReportMetric(float64(eventBytes)/1e6, "events-MB")
			b.ReportMetric(float64(rollupBytes)/1e6, "rollups-MB")
		})
	}
}
