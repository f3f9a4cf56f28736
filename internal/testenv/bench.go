package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// benchCountries approximates the 2005 profile: one entry per percent.
var benchCountries = func() []string {
	var out []string
	for _, s := range []struct {
		cc string
		n  int
	}{{"US", 27}, {"CN", 22}, {"KR", 10}, {"FR", 5}, {"CA", 3}, {"BR", 3}, {"ES", 3}, {"AT", 2}, {"TW", 2},
		{"PL", 2}, {"JP", 2}, {"DE", 2}, {"IT", 1}, {"RU", 1}, {"IN", 1}, {"TR", 1}, {"RO", 1}, {"NL", 1},
		{"AU", 1}, {"SE", 1}, {"MX", 1}, {"GB", 1}, {"AR", 1}, {"VN", 1}, {"TH", 1}, {"UA", 1}, {"ZA", 1}, {"EG", 1}} {
		for range s.n {
			out = append(out, s.cc)
		}
	}
	return out
}()

// BenchEvents returns a database for benchmarks holding n synthetic events spread evenly over
// 2005, with their rollups. It is kept between runs (spamgeo_bench_<n>) because filling it takes
// minutes.
func BenchEvents(b testing.TB, n int) clickhousedb.Configuration {
	b.Helper()
	cfg := ClickHouse(b) // skips or fails when there is no server
	cfg.Database = fmt.Sprintf("spamgeo_bench_%d", n)
	ctx := context.Background()
	conn := migrate(b, cfg)
	defer conn.Close()
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == uint64(n) {
		return cfg
	}
	if have != 0 {
		b.Fatalf("%s holds %d events, not %d; drop it to refill", cfg.Database, have, n)
	}
	countries := "[" + quoteAll(benchCountries) + "]"
	start := time.Now()
	const chunk = 5_000_000
	for from := 0; from < n; from += chunk {
		count := min(chunk, n-from)
		// Server-side generation: the rollups' materialized views run exactly as for sink inserts.
		q := fmt.Sprintf(`INSERT INTO events (received_at, trap_id, collector, source_ip, country_code, asn, size, kafka_topic, kafka_partition, kafka_offset)
			SELECT toDateTime('2005-01-01 00:00:00', 'UTC') + intDiv((number + %[1]d) * 31536000, %[2]d),
			       concat('trap-', toString((number + %[1]d) %% 4)), 'synth',
			       toFixedString(reinterpretAsString(cityHash64(number + %[1]d)), 16),
			       %[3]s[1 + cityHash64(number + %[1]d, 1) %% 100] AS country,
			       toUInt32(64000 + 10 * (cityHash64(country) %% 1000) + cityHash64(number + %[1]d, 2) %% 5), -- a few networks per country
			       toUInt32(2000 + (number %% 5000)),
			       'bench', toUInt32(0), toInt64(number + %[1]d)
			FROM numbers(%[4]d)`, from, n, countries, count)
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %s with %d events in %s", cfg.Database, n, time.Since(start).Round(time.Second))
	return cfg
}

func quoteAll(s []string) string {
	out := ""
	for i, c := range s {
		if i > 0 {
			out += ","
		}
		out += "'" + c + "'"
	}
	return out
}
