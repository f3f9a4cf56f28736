// Package sink stores enriched events in ClickHouse: it reads the enriched topic in batches,
// inserts each batch with one native-protocol insert into the events table (whose materialized
// views maintain the rollups), and commits the batch's offsets only after the insert succeeded.
// While ClickHouse is unreachable it retries the same batch and reads nothing new, so memory
// stays bounded by one batch. Delivery is at least once.
package sink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/schemas/event"
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
func New(cfg Configuration, deps Dependencies) *Sink {
	return &Sink{
		cfg:  cfg,
		deps: deps,
		consumer: kafka.NewConsumer(deps.Kafka, kafka.ConsumerOptions{
			Topic: deps.Kafka.EnrichedTopic, Group: cfg.Group, Policy: cfg.Batch, Drain: cfg.Drain,
		}, deps.Registry, deps.Logger),
		dlq:     kafka.NewDeadLetterQueue(deps.Kafka, Stage, deps.Registry, deps.Logger),
		metrics: newMetrics(deps.Registry),
	}
}

// Run stores events until ctx ends (or, when draining, until the enriched topic is done).
func (s *Sink) Run(ctx context.Context) error {
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

const insert = `INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, helo, mail_from,
	rcpt_count, size, country_code, continent_code, asn, as_org, geoip_build)`

func (s *Sink) handle(ctx context.Context, batch []kafka.Message) error {
	rows := make([]event.Enriched, 0, len(batch))
	var dead []kafka.Message
	for _, m := range batch {
		e, err := event.DecodeEnriched(m.Value)
		if err != nil {
			dead = append(dead, s.dlq.Refuse(m, err.Error()))
			continue
		}
		rows = append(rows, e)
	}
	if err := s.insert(ctx, rows); err != nil {
		s.metrics.insertErrors.Inc()
		return err
	}
	return s.dlq.Deliver(ctx, dead, s.consumer.Failed)
}

func (s *Sink) insert(ctx context.Context, rows []event.Enriched) error {
	if len(rows) == 0 {
		return nil
	}
	start := time.Now()
	batch, err := s.deps.ClickHouse.PrepareBatch(ctx, insert)
	if err != nil {
		return fmt.Errorf("prepare insert of %d rows: %w", len(rows), err)
	}
	for i := range rows {
		e := &rows[i]
		ip := e.SourceIP.As16()
		if err := batch.Append(e.EventID, e.ReceivedAt, e.TrapID, string(e.Collector), string(ip[:]), e.HELO,
			e.MailFrom, uint16(min(e.RcptCount, 65535)), uint32(min(e.Size, 1<<32-1)), e.CountryCode,
			e.ContinentCode, e.ASN, e.ASOrg, e.GeoIPBuild); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append row %d of %d: %w", i, len(rows), err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert batch of %d rows: %w", len(rows), err)
	}
	s.metrics.inserted.Add(float64(len(rows)))
	s.metrics.insertSeconds.Observe(time.Since(start).Seconds())
	s.metrics.batchRows.Observe(float64(len(rows)))
	return nil
}
