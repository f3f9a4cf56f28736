// Package publish hands raw events from any collector to the raw topic: encoded as JSON, keyed
// by source IP, and acknowledged by every in-sync replica before Publish returns.
package publish

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Publisher writes raw events to the raw topic.
type Publisher struct {
	writer    *kafkago.Writer
	published prometheus.Counter
	failed    prometheus.Counter
	logger    *slog.Logger
}

// New returns a publisher to cfg.RawTopic writing with opts, its counters registered on reg.
func New(cfg kafka.Configuration, opts kafka.WriterOptions, reg prometheus.Registerer, logger *slog.Logger) *Publisher {
	p := &Publisher{
		writer: cfg.Writer(cfg.RawTopic, opts, logger),
		logger: logger,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_raw_events_published_total", Help: "Raw events acknowledged by Kafka.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_raw_publish_retries_total", Help: "Failed attempts to publish raw events (the unacknowledged ones are sent again).",
		}),
	}
	reg.MustRegister(p.published, p.failed)
	return p
}

// Publish returns nil once Kafka has acknowledged every event, retrying those that fail for as
// long as ctx allows; an error means ctx ended first and some events may not have arrived.
func (p *Publisher) Publish(ctx context.Context, events []event.Raw) error {
	msgs := make([]kafkago.Message, len(events))
	for i := range events {
		v, err := event.EncodeRaw(&events[i])
		if err != nil {
			return fmt.Errorf("encode event %s: %w", events[i].EventID, err)
		}
		msgs[i] = kafkago.Message{Key: []byte(events[i].SourceIP.String()), Value: v}
	}
	if err := kafka.Deliver(ctx, p.writer, msgs, p.retry); err != nil {
		return fmt.Errorf("publish %d raw events: %w", len(msgs), err)
	}
	p.published.Add(float64(len(events)))
	return nil
}

func (p *Publisher) retry(err error) {
	p.failed.Inc()
	p.logger.Warn("retrying", "error", err)
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.writer.Close() }
