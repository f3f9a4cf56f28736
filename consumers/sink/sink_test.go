package sink

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
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

// drainSink runs a sink of group until the enriched topic is done, in batches of maxBatch, and
// returns its metrics.
func drainSink(t *testing.T, kcfg kafka.Configuration, conn clickhousedb.Conn, group string, maxBatch int) *prometheus.Registry {
	t.Helper()
	cfg := DefaultConfiguration()
	cfg.Group, cfg.Drain, cfg.Batch.MaxMessages = group, true, maxBatch
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: reg, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lifecycle.Run(ctx, s); err != nil {
		t.Fatal(err)
	}
	return reg
}

// Good events are stored; an enriched message that does not decode goes to the DLQ from the
// sink stage; the rollup agrees with the events table.
func TestSinkOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	_, conn := testenv.MigratedClickHouse(t)
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
	drainSink(t, kcfg, conn, "sink-"+testenv.Suffix(), 1000)
	ctx := context.Background()
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
	_, conn := testenv.MigratedClickHouse(t)
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
	drainSink(t, kcfg, conn, "first-"+testenv.Suffix(), 300)
	reg := drainSink(t, kcfg, conn, "second-"+testenv.Suffix(), 700)
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
	_, conn := testenv.MigratedClickHouse(b)
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
	_, conn := testenv.MigratedClickHouse(b)
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

// Copies of events at new offsets, as a trap hand-off retried after its timeout, a writer's resent
// request or an enricher killed before its commit publish them, are stored once: the copies in the
// same batch as their original and those in later batches alike.
func TestCopiesAreStoredOnceOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	_, conn := testenv.MigratedClickHouse(t)
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	message := func(i int) kafka.Message {
		e := enriched(i)
		v, _ := event.EncodeEnriched(&e)
		return kafka.Message{Key: []byte(e.SourceIP.String()), Value: v}
	}
	var msgs []kafka.Message
	for i := range 2000 {
		msgs = append(msgs, message(i))
		if i%4 == 0 && i < 1000 {
			msgs = append(msgs, message(i)) // right behind its original: same batch
		}
	}
	for i := range 500 {
		msgs = append(msgs, message(i)) // the whole start again: later batches
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	reg := drainSink(t, kcfg, conn, "copies-"+testenv.Suffix(), 700)
	ctx := context.Background()
	var rows, ids, rolled uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT countMerge(messages) FROM rollup_country_day").Scan(&rolled); err != nil {
		t.Fatal(err)
	}
	if rows != 2000 || ids != 2000 || rolled != 2000 {
		t.Errorf("2,750 messages of 2,000 events: %d rows, %d distinct ids, %d in the day rollup; want 2000 each", rows, ids, rolled)
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_sink_duplicates_total"); got != 750 {
		t.Errorf("copies skipped %v, want 750", got)
	}
}

func TestStretchesOf(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	live := []time.Time{at("2026-12-03 10:00:05"), at("2026-12-03 10:00:01"), at("2026-12-03 10:00:59")}
	if got := stretchesOf(live); len(got) != 1 || got[0] != [2]time.Time{at("2026-12-03 10:00:01"), at("2026-12-03 10:00:59")} {
		t.Errorf("live traffic: %v", got)
	}
	mixed := append(live, at("2005-04-01 12:00:00"), at("2005-04-01 12:00:30"))
	if got := stretchesOf(mixed); len(got) != 2 || got[0] != [2]time.Time{at("2005-04-01 12:00:00"), at("2005-04-01 12:00:30")} {
		t.Errorf("live and an archive: %v", got)
	}
	// A day apart each: at most maxStretches stretches, still covering every time; the narrowest
	// gaps are the ones left inside a stretch.
	var spread []time.Time
	for i := range 40 {
		spread = append(spread, at("2005-04-01 00:00:00").Add(time.Duration(i*i)*time.Hour))
	}
	got := stretchesOf(spread)
	if len(got) != maxStretches || !got[0][0].Equal(spread[0]) || !got[len(got)-1][1].Equal(spread[39]) {
		t.Fatalf("40 times a growing gap apart: %d stretches %v", len(got), got)
	}
	for _, x := range spread {
		if !slices.ContainsFunc(got, func(s [2]time.Time) bool { return !x.Before(s[0]) && !x.After(s[1]) }) {
			t.Errorf("%s is in no stretch", x)
		}
	}
	if !got[len(got)-2][1].Equal(spread[38]) {
		t.Errorf("the widest gap (38h to 39h squared) is not a cut: %v", got[len(got)-2:])
	}
}

// BenchmarkKnown measures the sink's lookup of one 50,000-event batch's ids in event_ids, on a
// table that holds the batch already (every event a copy: the worst case) and on one that holds
// only other events of the same days (live traffic: nothing found); and the same lookup in events,
// which the sink adds for the first batch at a new read position (see suspects). Compare with
// BenchmarkInsert: the lookup's share of a batch's cost.
func BenchmarkKnown(b *testing.B) {
	_, conn := testenv.MigratedClickHouse(b)
	s := &Sink{cfg: DefaultConfiguration(), deps: Dependencies{ClickHouse: conn}, metrics: newMetrics(prometheus.NewRegistry())}
	const n = 50_000
	batch := func(from int) []event.Enriched {
		events := make([]event.Enriched, n)
		for i := range events {
			events[i] = enriched(from + i)
		}
		return events
	}
	stored, fresh := batch(0), batch(n)
	var rows columns
	rows.grow(n)
	for i := range stored {
		rows.add(&stored[i], kafka.Message{Topic: "bench", Partition: i % 6, Offset: int64(i)})
	}
	if err := s.insert(context.Background(), &rows); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, table string
		events      []event.Enriched
		found       int
	}{{"copies", "event_ids", stored, n}, {"new", "event_ids", fresh, 0}, {"new-in-events", "events", fresh, 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				known, err := s.known(context.Background(), c.table, c.events)
				if err != nil {
					b.Fatal(err)
				}
				if len(known) != c.found {
					b.Fatalf("found %d of the batch's ids, want %d", len(known), c.found)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "ids/s")
		})
	}
}

// Issue 18, finding 1 at the sink: an enriched message larger than the dead-letter topic takes
// held the sink on its batch forever (the insert done, the dead letter refused on every
// attempt). Now it is dead-lettered as a stub, the topic drains, and every event is stored once.
func TestOversizedMessageDoesNotBlockSinkOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	kcfg.DLQTopic += ".small"
	testenv.CreateTopic(t, kcfg, kcfg.DLQTopic, map[string]string{"max.message.bytes": "4096"})
	_, conn := testenv.MigratedClickHouse(t)
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	var msgs []kafka.Message
	for i := range 2000 {
		e := enriched(i)
		v, _ := event.EncodeEnriched(&e)
		msgs = append(msgs, kafka.Message{Value: v})
		if i == 1000 {
			msgs = append(msgs, kafka.Message{Value: bytes.Repeat([]byte("{"), 300<<10)})
		}
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Group, cfg.Drain = "sink-"+testenv.Suffix(), true
	s, err := New(cfg, Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lifecycle.Run(ctx, s); err != nil || ctx.Err() != nil {
		t.Fatalf("the sink did not drain the enriched topic: %v, %v (stuck on: %v)", err, ctx.Err(), s.Healthy())
	}
	var rows, ids uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != 2000 || ids != 2000 {
		t.Errorf("%d rows of %d events stored, want 2000 of 2000", rows, ids)
	}
	dead := testenv.ReadAll(t, kcfg, kcfg.DLQTopic, 1)[0]
	if kafka.HeaderValue(dead, "spamgeo.stage") != "sink" || kafka.HeaderValue(dead, "spamgeo.stub") != "refused" ||
		kafka.HeaderValue(dead, "spamgeo.size") != "307200" || kafka.HeaderValue(dead, "spamgeo.topic") != kcfg.EnrichedTopic ||
		len(dead.Value) != 1<<10 {
		t.Errorf("dead letter: headers %v, %d value bytes", dead.Headers, len(dead.Value))
	}
}

// An insert that ClickHouse died in the middle of: its rows are in events but not in event_ids
// or ingest_offsets (18.16 writes the table before its views). Whoever reads those partitions
// next finds them in events and does not store them twice, nor the copies of them that follow
// (every event is published twice here, the copies after all the originals).
func TestUnfinishedInsertIsNotStoredTwiceOnRealServers(t *testing.T) {
	kcfg := testenv.Kafka(t)
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	const n, maxBatch = 3000, 700
	var msgs []kafka.Message
	for i := range 2 * n {
		e := enriched(i % n)
		v, _ := event.EncodeEnriched(&e)
		msgs = append(msgs, kafka.Message{Key: []byte(e.SourceIP.String()), Value: v})
	}
	if err := kafka.Deliver(ctx, w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	// The unfinished insert: the first messages of every partition, maxBatch in all, stored
	// with the views of event_ids and ingest_offsets detached.
	perPartition := map[int]int{}
	var rows columns
	for _, m := range testenv.ReadAll(t, kcfg, kcfg.EnrichedTopic, 2*n) {
		if perPartition[m.Partition] < maxBatch/kcfg.Partitions {
			perPartition[m.Partition]++
			e, err := event.DecodeEnriched(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			rows.add(&e, m)
		}
	}
	views := []string{"event_ids_mv", "ingest_offsets_mv"}
	for _, v := range views {
		if err := conn.Exec(ctx, "DETACH TABLE "+v); err != nil {
			t.Fatal(err)
		}
	}
	s := &Sink{cfg: DefaultConfiguration(), deps: Dependencies{ClickHouse: conn}, metrics: newMetrics(prometheus.NewRegistry())}
	err := s.insert(ctx, &rows)
	for _, v := range views {
		if err := conn.Exec(ctx, "ATTACH TABLE "+v); err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	reg := drainSink(t, kcfg, conn, "unfinished-"+testenv.Suffix(), maxBatch)
	var stored, ids, indexed uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id), (SELECT count() FROM event_ids) FROM events").Scan(&stored, &ids, &indexed); err != nil {
		t.Fatal(err)
	}
	if stored != n || ids != n || indexed != n {
		t.Errorf("%d rows of %d distinct ids (%d in event_ids) after an unfinished insert of %d rows, want %d each", stored, ids, indexed, rows.len(), n)
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_sink_unfinished_insert_rows_total"); got != float64(rows.len()) {
		t.Errorf("rows of the unfinished insert found %v, want %d", got, rows.len())
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_sink_duplicates_total"); got != n {
		t.Errorf("copies skipped %v, want the %d second publications (the unfinished insert's rows are not copies)", got, n)
	}
}

// Suspects: the first MaxMessages messages of a partition at every new read position.
func TestSuspects(t *testing.T) {
	s := &Sink{cfg: DefaultConfiguration(), reads: map[int]readPosition{}}
	s.cfg.Batch.MaxMessages = 3
	batch := func(part int, offsets ...int64) []kafka.Message {
		var b []kafka.Message
		for _, o := range offsets {
			b = append(b, kafka.Message{Partition: part, Offset: o})
		}
		return b
	}
	for _, c := range []struct {
		batch []kafka.Message
		want  []bool
	}{
		{batch(0, 10, 11), []bool{true, true}},                      // the first read of partition 0
		{batch(0, 12, 13), []bool{true, false}},                     // read on: three suspects in all
		{batch(1, 5), []bool{true}},                                 // another partition
		{batch(0, 14), []bool{false}},                               // read on
		{batch(0, 12, 13, 14, 15), []bool{true, true, true, false}}, // redelivered from 12
		{batch(0, 40), []bool{true}},                                // a jump: another reader committed meanwhile
	} {
		if got := s.suspects(c.batch); !slices.Equal(got, c.want) {
			t.Errorf("suspects(%v) = %v, want %v", c.batch, got, c.want)
		}
	}
}
