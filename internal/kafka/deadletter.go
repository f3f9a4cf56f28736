package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// DeadLetterQueue takes the messages a stage refuses: each is counted, logged with its reason
// (at most ten lines a minute, so hostile input cannot flood the logs) and delivered to the
// dead-letter topic unchanged, with where it came from and why in headers.
type DeadLetterQueue struct {
	writer  *kafkago.Writer
	stage   string
	logger  *slog.Logger
	limit   *telemetry.Limiter
	refused prometheus.Counter
}

// NewDeadLetterQueue returns the queue of one stage, its counter registered on reg.
func NewDeadLetterQueue(cfg Configuration, stage string, reg prometheus.Registerer, logger *slog.Logger) *DeadLetterQueue {
	q := &DeadLetterQueue{
		writer: cfg.Writer(cfg.DLQTopic, DefaultWriterOptions(), logger),
		stage:  stage,
		logger: logger,
		limit:  telemetry.NewLimiter(10, time.Minute),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_dead_lettered_total", Help: "Messages refused and sent to the dead-letter topic.",
			ConstLabels: prometheus.Labels{"stage": stage},
		}),
	}
	reg.MustRegister(q.refused)
	return q
}

// Refuse records why m cannot be used and returns the dead letter to deliver with its batch.
func (q *DeadLetterQueue) Refuse(m Message, reason string) Message {
	q.refused.Inc()
	if ok, held := q.limit.Allow(); ok {
		q.logger.Warn("message dead-lettered", "reason", reason, "topic", m.Topic, "partition", m.Partition,
			"offset", m.Offset, "similar_lines_held_back", held)
	}
	return Message{
		Key:   m.Key,
		Value: m.Value,
		Headers: []Header{
			{Key: "spamgeo.stage", Value: []byte(q.stage)},
			{Key: "spamgeo.reason", Value: []byte(reason)},
			{Key: "spamgeo.topic", Value: []byte(m.Topic)},
			{Key: "spamgeo.partition", Value: []byte(strconv.Itoa(m.Partition))},
			{Key: "spamgeo.offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
		},
	}
}

// Deliver sends dead letters (none is fine) like Deliver does.
func (q *DeadLetterQueue) Deliver(ctx context.Context, letters []Message, failed func(error)) error {
	return Deliver(ctx, q.writer, letters, failed)
}

// Close flushes and closes the writer.
func (q *DeadLetterQueue) Close() error { return q.writer.Close() }
