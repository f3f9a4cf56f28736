// Package sink stores enriched events in ClickHouse: it reads the enriched topic in batches,
// inserts each batch with one native-protocol insert into the events table (whose materialized
// views maintain the rollups), and commits the batch's offsets only after the insert succeeded.
// While ClickHouse is unreachable it retries the same batch and reads nothing new, so memory
// stays bounded by one batch. Kafka delivers at least once; handle stores each message once.
package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
	"github.com/spamgeo/spamgeo/storage/queries"
)

// Stage names the sink in dead-letter headers.
const Stage = "sink"

// Dependencies are what the sink needs from its process.
type Dependencies struct {
	Kafka      kafka.Configuration
	ClickHouse clickhousedb.Conn
	Registry   prometheus.Registerer
	Logger     *slog.Logger
}

// Sink is a running sink.
type Sink struct {
	cfg      Configuration
	deps     Dependencies
	consumer *kafka.Consumer
	dlq      *kafka.DeadLetterQueue
	metrics  metrics
	// reads is where the sink reads each partition, to tell which messages an insert cut short
	// may have stored (see suspects).
	mu     sync.Mutex
	reads  map[int]readPosition
	worker lifecycle.Worker
}

// New joins the consumer group; Start starts the work.
func New(cfg Configuration, deps Dependencies) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sink{
		cfg:  cfg,
		deps: deps,
		consumer: kafka.NewConsumer(deps.Kafka, kafka.ConsumerOptions{
			Topic: deps.Kafka.EnrichedTopic, Group: cfg.Group, Policy: cfg.Batch, Drain: cfg.Drain,
		}, deps.Registry, deps.Logger),
		dlq:     kafka.NewDeadLetterQueue(deps.Kafka, Stage, deps.Registry, deps.Logger),
		metrics: newMetrics(deps.Registry),
		reads:   map[int]readPosition{},
	}, nil
}

// Start stores events in the background until Stop (or, when draining, until the enriched topic
// is done).
func (s *Sink) Start() error {
	s.worker.Go(s.run)
	return nil
}

// Done is closed when the sink stopped by itself: the enriched topic drained, or an error Stop
// returns.
func (s *Sink) Done() <-chan struct{} { return s.worker.Done() }

func (s *Sink) run(ctx context.Context) error {
	if err := migrations.RequireCurrent(ctx, s.deps.ClickHouse); err != nil {
		return err
	}
	if err := s.deps.Kafka.EnsureTopics(ctx); err != nil {
		return err
	}
	return s.consumer.Run(ctx, s.handle)
}

// Healthy reports what the sink is stuck on, if anything.
func (s *Sink) Healthy() error { return s.consumer.Healthy() }

// Stop ends the work, leaves the group, closes the dead-letter writer, and returns the error the
// work ended with, if any.
func (s *Sink) Stop() error {
	err := s.worker.Stop()
	s.consumer.Close()
	return errors.Join(err, s.dlq.Close())
}

// handle stores one batch exactly once. Every row carries the topic, partition and offset of its
// Kafka message, and ingest_offsets (kept by the same insert through a materialized view) holds
// the highest offset stored per partition. Messages at or below it were stored before a crash,
// a failed commit or a rebalance redelivered them, and are skipped, as are refused messages there.
func (s *Sink) handle(ctx context.Context, batch []kafka.Message) error {
	topic := batch[0].Topic
	stored, err := s.stored(ctx, topic)
	if err != nil {
		return err
	}
	var dead []kafka.Message
	// Sized for the whole batch up front: an Enriched is large, and growing the slice by
	// doubling copied every event several times (a quarter of the sink's CPU).
	events := make([]event.Enriched, 0, len(batch))
	msgs := make([]kafka.Message, 0, len(batch))
	skipped := 0
	suspect := s.suspects(batch)
	var suspects []event.Enriched
	for i, m := range batch {
		if last, ok := stored[m.Partition]; ok && m.Offset <= last {
			skipped++
			continue
		}
		e, err := event.DecodeEnriched(m.Value)
		if err != nil {
			dead = append(dead, s.dlq.Refuse(m, err.Error()))
			continue
		}
		events, msgs = append(events, e), append(msgs, m)
		if suspect[i] {
			suspects = append(suspects, e)
		}
	}
	if skipped > 0 {
		s.metrics.skipped.Add(float64(skipped))
		s.deps.Logger.Info("skipped messages already stored", "messages", skipped, "topic", topic)
	}
	known, err := s.known(ctx, "event_ids", events)
	if err != nil {
		return err
	}
	unfinished, err := s.findUnfinished(ctx, suspects, known)
	if err != nil {
		return err
	}
	var rows columns
	rows.grow(len(events))
	for i := range events {
		if unfinished[events[i].EventID] {
			// Stored already, and not a copy (a second one in the batch is).
			delete(unfinished, events[i].EventID)
			continue
		}
		if known[events[i].EventID] {
			s.metrics.duplicates.WithLabelValues(string(events[i].Collector)).Inc()
			continue
		}
		known[events[i].EventID] = true // the same event twice in one batch
		rows.add(&events[i], msgs[i])
	}
	if err := s.insert(ctx, &rows); err != nil {
		s.metrics.insertErrors.Inc()
		return err
	}
	return s.dlq.Deliver(ctx, dead, s.consumer.Failed)
}

// stretchGap splits a batch's receive times into the stretches the id lookup reads: live
// traffic is one stretch of seconds, a batch mixing a trap's spool or an archive with live
// traffic a few.
const (
	stretchGap   = time.Minute
	maxStretches = 16
)

// readPosition is the next offset the sink expects of a partition, and the end of the stretch
// whose messages it looks up in events too.
type readPosition struct{ next, checkEnd int64 }

// suspects marks the messages of batch that an insert cut short may have stored. ClickHouse 18.16
// writes an insert's block to events, then to each view in turn, so a server that dies in
// between leaves rows in events that event_ids lacks: a later copy would not be found. Such an
// insert held one batch, at most MaxMessages messages, starting at its partitions' committed
// offsets, and was not committed; whoever reads the partition next (this sink retrying the batch,
// or any sink after a restart or a rebalance) starts there again. So at every new read position
// of a partition (any offset but the one expected next), the next MaxMessages messages of it are
// suspects: looked up in events as well. Sinks of one group share --batch-rows.
func (s *Sink) suspects(batch []kafka.Message) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bool, len(batch))
	for i, m := range batch {
		r, ok := s.reads[m.Partition]
		if !ok || m.Offset != r.next {
			r.checkEnd = m.Offset + int64(s.cfg.Batch.MaxMessages)
		}
		r.next = m.Offset + 1
		s.reads[m.Partition] = r
		out[i] = m.Offset < r.checkEnd
	}
	return out
}

// findUnfinished returns the suspects that events holds but event_ids lacks, adds them to known,
// and adds their ids to event_ids, where the sink looks for the copies of them still to come (an
// enricher that published them twice, a resent hand-off). They are not stored again; the rollups
// they are missing from are what `spamgeo verify` reports and `spamgeo repair` rebuilds.
func (s *Sink) findUnfinished(ctx context.Context, suspects []event.Enriched, known map[string]bool) (map[string]bool, error) {
	suspects = slices.DeleteFunc(suspects, func(e event.Enriched) bool { return known[e.EventID] })
	if len(suspects) == 0 {
		return nil, nil
	}
	stored, err := s.known(ctx, "events", suspects)
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	// event_ids of the server the sink writes to: event_ids_local in cluster mode.
	b, err := s.deps.ClickHouse.PrepareBatch(ctx, "INSERT INTO event_ids"+strings.TrimPrefix(s.cfg.Table, "events")+" (received_at, event_id)")
	if err != nil {
		return nil, fmt.Errorf("prepare the ids of an unfinished insert: %w", err)
	}
	for _, e := range suspects {
		if stored[e.EventID] && !known[e.EventID] {
			known[e.EventID] = true // once, though the batch holds a copy
			if err := b.Append(e.ReceivedAt, uuid.MustParse(e.EventID)); err != nil {
				_ = b.Abort()
				return nil, fmt.Errorf("the ids of an unfinished insert: %w", err)
			}
		}
	}
	if err := b.Send(); err != nil {
		return nil, fmt.Errorf("store the ids of an unfinished insert: %w", err)
	}
	s.metrics.unfinished.Add(float64(len(stored)))
	s.deps.Logger.Warn("events stored by an insert that ClickHouse did not finish: not stored again; run spamgeo verify and repair",
		"events", len(stored))
	return stored, nil
}

// known returns which of the events' ids table holds already: event_ids, kept by every insert
// into events whatever collector stored them, or events itself. Every copy of an event keeps its id and
// its receive time, so a copy from any hop before the sink is found: a trap hand-off retried after
// its timeout, a writer's resent request, a batch an enricher published again after a crash, an
// archive imported twice. The batch's partition is the only one its events' copies can be on (the
// key is the source address), and a partition has one sink at a time, so no other sink can be
// storing one of them meanwhile.
func (s *Sink) known(ctx context.Context, table string, events []event.Enriched) (map[string]bool, error) {
	known := make(map[string]bool, len(events))
	if len(events) == 0 {
		return known, nil
	}
	// The ids travel as an external table (binary UUIDs, any number of them), not as literals:
	// a default batch's 50,000 ids would pass ClickHouse's 256 KiB max_query_size.
	ids, err := ext.NewTable("batch_ids", ext.Column("event_id", "UUID"))
	if err != nil {
		return nil, err
	}
	times := make([]time.Time, len(events))
	for i := range events {
		id, err := uuid.Parse(events[i].EventID)
		if err != nil {
			return nil, fmt.Errorf("event id %q: %w", events[i].EventID, err)
		}
		if err := ids.Append(id); err != nil {
			return nil, err
		}
		times[i] = events[i].ReceivedAt.UTC().Truncate(time.Second)
	}
	stretches := stretchesOf(times)
	args := make([]any, 0, 2*len(stretches))
	ranges := make([]string, len(stretches))
	for i, st := range stretches {
		ranges[i] = "received_at BETWEEN ? AND ?"
		args = append(args, st[0], st[1])
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithExternalTable(ids))
	sql := strings.NewReplacer("{table}", table, "{ranges}", strings.Join(ranges, " OR ")).Replace(queries.SinkKnownEvents)
	rows, err := s.deps.ClickHouse.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("look up stored event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("look up stored event ids: %w", err)
		}
		known[id] = true
	}
	return known, rows.Err()
}

// stretchesOf covers times with at most maxStretches [first, last] ranges, cut where
// consecutive times are more than stretchGap apart (the widest gaps first).
func stretchesOf(times []time.Time) [][2]time.Time {
	sorted := slices.Clone(times)
	slices.SortFunc(sorted, time.Time.Compare)
	var cuts []int // indexes i where a new stretch starts at sorted[i]
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Sub(sorted[i-1]) > stretchGap {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) >= maxStretches {
		slices.SortFunc(cuts, func(a, b int) int { return cmp.Compare(sorted[b].Sub(sorted[b-1]), sorted[a].Sub(sorted[a-1])) })
		cuts = cuts[:maxStretches-1]
		slices.Sort(cuts)
	}
	out := make([][2]time.Time, 0, len(cuts)+1)
	start := 0
	for _, c := range append(cuts, len(sorted)) {
		out = append(out, [2]time.Time{sorted[start], sorted[c-1]})
		start = c
	}
	return out
}

// stored returns the highest offset ClickHouse holds for each partition of topic it has rows of.
func (s *Sink) stored(ctx context.Context, topic string) (map[int]int64, error) {
	rows, err := s.deps.ClickHouse.Query(ctx, queries.SinkStoredOffsets, topic)
	if err != nil {
		return nil, fmt.Errorf("read stored offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var p uint32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, fmt.Errorf("read stored offsets of %s: %w", topic, err)
		}
		out[int(p)] = off
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored offsets of %s: %w", topic, err)
	}
	return out, nil
}
