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
	s := New(cfg, Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: reg, Logger: testenv.Logger(t)})
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

// BenchmarkInsert measures one sink insert of 10,000 rows into the real ClickHouse server.
func BenchmarkInsert(b *testing.B) {
	_, conn := migrated(b)
	s := &Sink{deps: Dependencies{ClickHouse: conn}, metrics: newMetrics(prometheus.NewRegistry())}
	rows := make([]event.Enriched, 10_000)
	for i := range rows {
		rows[i] = enriched(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.insert(context.Background(), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
