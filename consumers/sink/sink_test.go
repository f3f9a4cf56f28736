package sink

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/schemas/migrations"
)

func enriched(i int) event.Enriched {
	return event.Enriched{
		Raw: event.Raw{
			SchemaVersion: event.SchemaVersion,
			EventID:       uuid.NewSHA1(uuid.Nil, fmt.Appendf(nil, "%d", i)).String(),
			ReceivedAt:    time.Date(2005, 4, 1+i%30, 12, 0, 0, 0, time.UTC),
			TrapID:        "t", Collector: event.CollectorSynth,
			SourceIP:  netip.AddrFrom4([4]byte{30, 0, byte(i >> 8), byte(i)}),
			RcptCount: 1, Size: 1000,
		},
		Geo: event.Geo{CountryCode: []string{"US", "CN", "KR"}[i%3], ContinentCode: "NA", ASN: 64000, GeoIPBuild: "test"},
	}
}

func migrated(t testing.TB) (clickhousedb.Configuration, clickhousedb.Conn) {
	cfg := testenv.ClickHouse(t)
	if _, err := migrations.New(cfg, testenv.Logger(t)).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cfg, conn
}

// Good events are stored; an enriched message that does not decode goes to the DLQ from the
// sink stage; the rollup agrees with the events table.
func TestSinkOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	_, conn := migrated(t)
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	var msgs []kafka.Message
	for i := range 3000 {
		e := enriched(i)
		v, _ := event.EncodeEnriched(&e)
		msgs = append(msgs, kafka.Message{Value: v})
		if i == 1500 {
			msgs = append(msgs, kafka.Message{Value: []byte(`{"schema_version":1}`)})
		}
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Group, cfg.Drain = "sink-"+testenv.Suffix(), true
	cfg.Batch.MaxMessages = 1000
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: reg, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, us, rolled uint64
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(country_code = 'US') FROM events").Scan(&rows, &us); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(messages) FROM daily_country").Scan(&rolled); err != nil {
		t.Fatal(err)
	}
	if rows != 3000 || us != 1000 || rolled != 3000 {
		t.Errorf("events %d (US %d), rollup %d; want 3000 (1000), 3000", rows, us, rolled)
	}
	dead := testenv.ReadAll(t, kcfg, kcfg.DLQTopic, 1)[0]
	if stage, reason := kafka.HeaderValue(dead, "spamgeo.stage"), kafka.HeaderValue(dead, "spamgeo.reason"); stage != "sink" ||
		!strings.Contains(reason, "event_id") || string(dead.Value) != `{"schema_version":1}` {
		t.Errorf("dead letter from stage %q, reason %q, value %s", stage, reason, dead.Value)
	}
}

// A second consumer group reading the same topic from the start stores nothing again: every
// message is at or below what ingest_offsets says ClickHouse holds.
func TestRedeliveryIsSkippedOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	_, conn := migrated(t)
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	var msgs []kafka.Message
	for i := range 2000 {
		e := enriched(i)
		v, _ := event.EncodeEnriched(&e)
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: v})
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	run := func(group string, maxBatch int) *prometheus.Registry {
		cfg := DefaultConfiguration()
		cfg.Group, cfg.Drain, cfg.Batch.MaxMessages = group, true, maxBatch
		reg := prometheus.NewRegistry()
		s, err := New(cfg, Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: reg, Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return reg
	}
	run("first-"+testenv.Suffix(), 300)
	reg := run("second-"+testenv.Suffix(), 700)
	var rows, rolled uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM events").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT countMerge(messages) FROM rollup_country_day").Scan(&rolled); err != nil {
		t.Fatal(err)
	}
	if rows != 2000 || rolled != 2000 {
		t.Errorf("after two full deliveries: %d events, %d in the day rollup; want 2000 each", rows, rolled)
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_sink_skipped_already_stored_total"); got != 2000 {
		t.Errorf("second group skipped %v messages, want 2000", got)
	}
}

func TestConfigurationValidate(t *testing.T) {
	for _, rows := range []int{0, -1, maxBlockRows + 1} {
		cfg := DefaultConfiguration()
		cfg.Batch.MaxMessages = rows
		if _, err := New(cfg, Dependencies{}); err == nil {
			t.Errorf("batch of %d rows accepted", rows)
		}
	}
	if err := DefaultConfiguration().Validate(); err != nil {
		t.Error(err)
	}
}

// BenchmarkInsert measures building and sending one sink insert of 50,000 rows into the real ClickHouse server.
func BenchmarkInsert(b *testing.B) {
	_, conn := migrated(b)
	s := &Sink{cfg: DefaultConfiguration(), deps: Dependencies{ClickHouse: conn}, metrics: newMetrics(prometheus.NewRegistry())}
	const n = 50_000 // the default batch
	events := make([]event.Enriched, n)
	for i := range events {
		events[i] = enriched(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		var rows columns
		rows.grow(n)
		for i := range events {
			rows.add(&events[i], kafka.Message{Topic: "bench", Partition: i % 6, Offset: int64(i)})
		}
		if err := s.insert(context.Background(), &rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertTwoStreams is two sinks inserting at once (two partitions, two processes in
// one group), the way a 2-core machine is used in production.
func BenchmarkInsertTwoStreams(b *testing.B) {
	_, conn := migrated(b)
	s := &Sink{cfg: DefaultConfiguration(), deps: Dependencies{ClickHouse: conn}, metrics: newMetrics(prometheus.NewRegistry())}
	const n = 50_000
	events := make([]event.Enriched, n)
	for i := range events {
		events[i] = enriched(i)
	}
	b.SetParallelism(1) // GOMAXPROCS (2) goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var rows columns
			rows.grow(n)
			for i := range events {
				rows.add(&events[i], kafka.Message{Topic: "bench", Partition: i % 6, Offset: int64(i)})
			}
			if err := s.insert(context.Background(), &rows); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
