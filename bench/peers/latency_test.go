package peers

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/publish"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// BenchmarkLatency measures how long a trapped message takes to become queryable: raw events are
// published at a steady 10,000 per second for 20 seconds (100 every 10 ms, acknowledged by Kafka
// as the trap's hand-off is), after a one-second warm-up, to an enricher and a sink with their
// default batching, and ClickHouse is polled every 20 ms. A batch counts as queryable at the first poll that finds at
// least as many rows as were published up to and including it — exact when partitions drain in
// step, and never earlier than the truth. Reports p50 and p99 over the batches.
func BenchmarkLatency(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	const (
		rate     = 10_000
		duration = 20 * time.Second
		every    = 10 * time.Millisecond
		perBatch = rate * int(every) / int(time.Second)
	)
	country, asn := geoipFiles(b)
	nets, err := geoip.CountryNetworks(country, false)
	if err != nil {
		b.Fatal(err)
	}
	sources := sourcesOf(nets, 10_000)
	var p50, p99 []float64
	for b.Loop() {
		kcfg := testenv.KafkaPartitions(b, 3)
		_, conn := testenv.MigratedClickHouse(b)
		stopSpamgeo := startSpamgeo(b, kcfg, conn, country, asn)
		// Warm up: the measurement starts once both consumer groups have formed and a first
		// second of traffic has gone through.
		warm := len(publishSteadily(b, kcfg, sources, perBatch, every, time.Second)) * perBatch
		waitForEvents(b, conn, int64(warm))
		ctx, stopPolling := context.WithCancel(context.Background())
		polled := make(chan []sample)
		go func() { polled <- poll(ctx, conn) }()
		published := publishSteadily(b, kcfg, sources, perBatch, every, duration)
		waitForEvents(b, conn, int64(warm+len(published)*perBatch))
		stopPolling()
		samples := <-polled
		stopSpamgeo()
		lat := latencies(published, perBatch, warm, samples)
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		p50, p99 = append(p50, ms(lat[len(lat)/2])), append(p99, ms(lat[len(lat)*99/100]))
		b.Logf("%d batches of %d events: p50 %.0f ms, p99 %.0f ms, max %.0f ms", len(lat), perBatch,
			ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	}
	b.ReportMetric(median(p50), "p50-ms")
	b.ReportMetric(median(p99), "p99-ms")
}

// sourcesOf picks up to n source addresses, one in each network of nets.
func sourcesOf(nets map[string][]netip.Prefix, n int) []netip.Addr {
	var out []netip.Addr
	for _, list := range nets {
		for _, p := range list {
			if len(out) < n {
				out = append(out, p.Addr().Next())
			}
		}
	}
	return out
}

// sample is one poll of the events table.
type sample struct {
	at   time.Time
	rows int
}

// poll counts the stored events every 20 ms until ctx ends.
func poll(ctx context.Context, conn clickhousedb.Conn) []sample {
	var out []sample
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err == nil {
				out = append(out, sample{time.Now(), int(n)})
			}
		}
	}
}

// latencies gives, per published batch, the time from its hand-off to the first poll after it
// that found at least as many rows as had been published by then (after the warm-up's rows).
func latencies(published []time.Time, perBatch, warm int, samples []sample) []time.Duration {
	var out []time.Duration
	next := 0
	for j, at := range published {
		for next < len(samples) && (samples[next].rows < warm+(j+1)*perBatch || samples[next].at.Before(at)) {
			next++
		}
		if next == len(samples) {
			break
		}
		out = append(out, samples[next].at.Sub(at))
	}
	return out
}

// publishSteadily publishes perBatch events every interval for duration and returns when each
// batch was handed to Kafka.
func publishSteadily(b *testing.B, kcfg kafka.Configuration, sources []netip.Addr, perBatch int, every, duration time.Duration) []time.Time {
	pub := publish.New(kcfg, kafka.WriterOptions{BatchSize: perBatch, BatchTimeout: time.Millisecond}, prometheus.NewRegistry(), testenv.Logger(b))
	defer pub.Close()
	rng := rand.New(rand.NewPCG(10, 0))
	tick := time.NewTicker(every)
	defer tick.Stop()
	var starts []time.Time
	end := time.Now().Add(duration)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		batch := make([]event.Raw, perBatch)
		for i := range batch {
			batch[i] = event.Raw{SchemaVersion: event.SchemaVersion, EventID: uuid.NewString(), ReceivedAt: now.UTC(),
				TrapID: "latency", Collector: event.CollectorTrap, SourceIP: sources[rng.IntN(len(sources))], RcptCount: 1, Size: 1024}
		}
		starts = append(starts, time.Now())
		if err := pub.Publish(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	return starts
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}
