package peers

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// BenchmarkCapacity checks the capacity model of docs/operations.md at two steady load points:
// live raw events (received now, as a trap's are) published at 5,000 and then 15,000 per second
// for 15 seconds to an enricher and a sink with their defaults, on the real GeoIP files. For each
// rate it reports the cores each part used while the load ran until everything was stored (this
// process's stages, ClickHouse, the Kafka broker, which also takes the raw events in) and their
// CPU time per event. The publisher, the trap's part, runs in this process too: its own CPU at
// the same rate, measured first with nothing consuming, is taken out of the stages' figure.
func BenchmarkCapacity(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	const duration, every = 15 * time.Second, 10 * time.Millisecond
	country, asn := geoipFiles(b)
	nets, err := geoip.CountryNetworks(country, false)
	if err != nil {
		b.Fatal(err)
	}
	sources := sourcesOf(nets, 10_000)
	procs := []int{readPID(b, testenv.Local(b, "clickhouse", "clickhouse.pid")), readPID(b, testenv.Local(b, "kafka", "kafka.pid"))}
	for b.Loop() {
		for _, rate := range []int{5_000, 15_000} {
			perBatch := rate * int(every) / int(time.Second)
			// The publisher alone, into a topic nobody reads.
			alone := run(procs, func() { publishSteadily(b, testenv.KafkaPartitions(b, 3), sources, perBatch, every, duration) })

			kcfg := testenv.KafkaPartitions(b, 3)
			_, conn := testenv.MigratedClickHouse(b)
			waitForMerges(b, conn) // of earlier benchmarks' tables: not this load's
			stop := startSpamgeo(b, kcfg, conn, country, asn)
			warm := len(publishSteadily(b, kcfg, sources, perBatch, every, time.Second)) * perBatch
			waitForEvents(b, conn, int64(warm))
			var published int
			m := run(procs, func() {
				published = len(publishSteadily(b, kcfg, sources, perBatch, every, duration)) * perBatch
				waitForEvents(b, conn, int64(warm+published))
			})
			stop()
			stages := m.cpu[0] - alone.cpu[0]
			seconds := m.wall.Seconds()
			perEvent := func(cpu float64) float64 { return cpu / float64(published) * 1e6 }
			name := fmt.Sprintf("%dk", rate/1000)
			b.ReportMetric(stages/seconds, name+"-stages-cores")
			b.ReportMetric(m.cpu[1]/seconds, name+"-clickhouse-cores")
			b.ReportMetric(m.cpu[2]/seconds, name+"-broker-cores")
			b.Logf("%d events/s (%d published, stored within %.1f s): CPU µs per event: stages %.1f, ClickHouse %.1f, broker %.1f (the publisher alone: %.1f in this process, %.1f in the broker)",
				rate, published, seconds, perEvent(stages), perEvent(m.cpu[1]), perEvent(m.cpu[2]),
				perEvent(alone.cpu[0]), perEvent(alone.cpu[2]))
		}
	}
}

// waitForMerges waits, up to a minute, until ClickHouse runs no merge.
func waitForMerges(b *testing.B, conn clickhousedb.Conn) {
	if err := testenv.Wait(time.Minute, 200*time.Millisecond, "no merge", func() (bool, error) {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.merges").Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n == 0, nil
	}); err != nil {
		b.Log("ClickHouse still merging after a minute; measuring anyway")
	}
}
