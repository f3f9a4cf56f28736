// Package sink stores enriched events in ClickHouse: it reads the enriched topic in batches,
// inserts each batch with one native-protocol insert into the events table (whose materialized
// views maintain the rollups), and commits the batch's offsets only after the insert succeeded.
// While ClickHouse is unreachable it retries the same batch and reads nothing new, so memory
// stays bounded by one batch. Kafka delivers at least once; handle stores each message once.
package sink

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/schemas/migrations"
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
}

// New joins the consumer group; Run starts the work.
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
	}, nil
}

// Run stores events until ctx ends (or, when draining, until the enriched topic is done).
func (s *Sink) Run(ctx context.Context) error {
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

// Stop leaves the group and closes the dead-letter writer.
func (s *Sink) Stop() error {
	s.consumer.Close()
	return s.dlq.Close()
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
	var events []event.Enriched
	var msgs []kafka.Message
	skipped := 0
	for _, m := range batch {
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
	}
	if skipped > 0 {
		s.metrics.skipped.Add(float64(skipped))
		s.deps.Logger.Info("skipped messages already stored", "messages", skipped, "topic", topic)
	}
	known, err := s.knownReplays(ctx, events)
	if err != nil {
		return err
	}
	var rows columns
	rows.grow(len(events))
	for i := range events {
		if events[i].Collector == event.CollectorReplay {
			if known[events[i].EventID] {
				s.metrics.replayDuplicates.Inc()
				continue
			}
			known[events[i].EventID] = true // the same message twice in one batch
		}
		rows.add(&events[i], msgs[i])
	}
	if err := s.insert(ctx, &rows); err != nil {
		s.metrics.insertErrors.Inc()
		return err
	}
	return s.dlq.Deliver(ctx, dead, s.consumer.Failed)
}

// knownEvents is a file so the modern-engine tests (tests/modern) run it too.
//
//go:embed known_events.sql
var knownEvents string

// knownReplays returns which of the replayed events among events ClickHouse already holds (by
// event id, whatever collector stored them): importing an archive twice, or the archive of a
// live trap, stores each message once.
func (s *Sink) knownReplays(ctx context.Context, events []event.Enriched) (map[string]bool, error) {
	known := map[string]bool{}
	var ids []any
	var from, to time.Time
	for i := range events {
		e := &events[i]
		if e.Collector != event.CollectorReplay {
			continue
		}
		if len(ids) == 0 || e.ReceivedAt.Before(from) {
			from = e.ReceivedAt
		}
		if len(ids) == 0 || e.ReceivedAt.After(to) {
			to = e.ReceivedAt
		}
		ids = append(ids, e.EventID)
	}
	if len(ids) == 0 {
		return known, nil
	}
	rows, err := s.deps.ClickHouse.Query(ctx, knownEvents, from.UTC().Truncate(time.Second), to.UTC(), clickhouse.GroupSet{Value: ids})
	if err != nil {
		return nil, fmt.Errorf("look up replayed events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("look up replayed events: %w", err)
		}
		known[id] = true
	}
	return known, rows.Err()
}

// storedOffsets is a file so the modern-engine tests (tests/modern) run it too.
//
//go:embed stored_offsets.sql
var storedOffsets string

// stored returns the highest offset ClickHouse holds for each partition of topic it has rows of.
func (s *Sink) stored(ctx context.Context, topic string) (map[int]int64, error) {
	rows, err := s.deps.ClickHouse.Query(ctx, storedOffsets, topic)
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
