package peers

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// views are spamgeo's materialized views on events, as the migrations leave them.
var views = []string{"ingest_offsets_mv", "event_ids_mv", "rollup_country_minute_mv", "rollup_country_hour_mv",
	"rollup_country_day_mv", "rollup_country_month_mv", "rollup_asn_hour_mv", "rollup_asn_day_mv", "rollup_asn_month_mv"}

// BenchmarkClickHouseViews measures what each materialized view costs ClickHouse per stored
// event: 100,000 events inserted in native batches of 5,000 into a fresh migrated database with
// every view attached, with none, and with each view alone, ClickHouse's CPU counted from the
// first insert until its merges are done. Two shapes: a historical replay (the events spread
// over six months, as BenchmarkEndToEnd's are) and live traffic (received within two minutes, as
// a trap's are). It says where ClickHouse's share of spamgeo's CPU goes (issue 20, item 3).
func BenchmarkClickHouseViews(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	const events, batch = 100_000, 5_000
	procs := []int{readPID(b, testenv.Local(b, "clickhouse", "clickhouse.pid")), readPID(b, testenv.Local(b, "kafka", "kafka.pid"))}
	shapes := map[string]func(i int) time.Time{
		"replay": func(i int) time.Time {
			return time.Date(2005, 4, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * (183 * 24 * time.Hour / events))
		},
		"live": func(i int) time.Time { return time.Now().UTC().Add(-time.Duration(i%120) * time.Second) },
	}
	configs := append([]string{"all", "none"}, views...)
	cost := map[string]float64{} // shape/config → CPU µs per event, summed over runs
	runs := 0
	for b.Loop() {
		runs++
		for _, shape := range []string{"replay", "live"} {
			for _, config := range configs {
				_, conn := testenv.MigratedClickHouse(b)
				var detached []string
				for _, v := range views {
					if config != "all" && v != config {
						if err := conn.Exec(context.Background(), "DETACH TABLE "+v); err != nil {
							b.Fatal(err)
						}
						detached = append(detached, v)
					}
				}
				b.Cleanup(func() { // 18.16 cannot drop a database with detached tables
					for _, v := range detached {
						_ = conn.Exec(context.Background(), "ATTACH TABLE "+v)
					}
				})
				waitForMerges(b, conn)
				m := run(procs, func() {
					insertEvents(b, conn, events, batch, shapes[shape])
					waitForMerges(b, conn)
				})
				cost[shape+"/"+config] += m.cpu[1] / events * 1e6
			}
		}
	}
	for _, shape := range []string{"replay", "live"} {
		at := func(config string) float64 { return cost[shape+"/"+config] / float64(runs) }
		b.ReportMetric(at("all"), shape+"-all-views-µs/event")
		b.ReportMetric(at("none"), shape+"-no-view-µs/event")
		var line []string
		byCost := slices.Clone(views)
		slices.SortFunc(byCost, func(x, y string) int { return int(1e3 * (at(y) - at(x))) })
		for _, v := range byCost {
			line = append(line, fmt.Sprintf("%s %.1f", strings.TrimSuffix(v, "_mv"), at(v)-at("none")))
		}
		b.Logf("%s: ClickHouse CPU µs per event: every view %.1f, events alone %.1f; each view alone adds: %s",
			shape, at("all"), at("none"), strings.Join(line, ", "))
	}
}

// insertEvents stores n events in batches, received at at(i), from a spread of countries,
// networks and addresses, with the Kafka position the sink records.
func insertEvents(b *testing.B, conn clickhousedb.Conn, n, batch int, at func(int) time.Time) {
	countries := []string{"US", "CN", "KR", "FR", "CA", "BR", "ES", "AT", "TW", "JP", "PL", "DE", "GB", "IT", "RU", "IN"}
	ctx := context.Background()
	for start := 0; start < n; start += batch {
		bt, err := conn.PrepareBatch(ctx, "INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, asn, as_org, geoip_build, size, kafka_topic, kafka_partition, kafka_offset)")
		if err != nil {
			b.Fatal(err)
		}
		for i := start; i < start+batch; i++ {
			ip := netip.AddrFrom4([4]byte{byte(30 + i%50), byte(i >> 16), byte(i >> 8), byte(i)}).As16()
			asn := uint32(64000 + i%200)
			if err := bt.Append(uuid.New(), at(i), "views", "synth", string(ip[:]), countries[i%len(countries)], "NA", asn,
				fmt.Sprintf("AS%d", asn), "b; a", uint32(1024), "views", uint32(i%3), int64(i/3)); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			b.Fatal(err)
		}
	}
}
