package kafka

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// DeadLetterQueue takes the messages a stage refuses: each is counted, logged with its reason
// (at most ten lines a minute, so hostile input cannot flood the logs) and delivered to the
// dead-letter topic with where it came from and why in headers, followed by its own headers.
//
// A dead letter is bounded, whatever it was refused for, so that no message can hold up its
// stage: a value, key or headers over the bounds of stubLimits[0] are cut to them (a stub),
// and a letter the dead-letter topic still refuses as too large (its max.message.bytes may be
// far below the broker's 1 MiB default) is cut further, down to its spamgeo headers alone.
type DeadLetterQueue struct {
	writer  *kafkago.Writer
	stage   string
	logger  *slog.Logger
	limit   *telemetry.Limiter
	refused prometheus.Counter
	stubs   *prometheus.CounterVec
}

// Headers of a dead letter, before the original message's own.
const (
	headerStage     = "spamgeo.stage"
	headerReason    = "spamgeo.reason"
	headerTopic     = "spamgeo.topic"
	headerPartition = "spamgeo.partition"
	headerOffset    = "spamgeo.offset"
	headerSize      = "spamgeo.size" // bytes of the original value
	ownHeaders      = 6
	// headerStub follows them on stubs only: why the letter was cut (stubOversized, stubRefused).
	headerStub = "spamgeo.stub"
)

const (
	stubOversized = "oversized"
	stubRefused   = "refused"
)

// stubLimits are the bounds of a dead letter in bytes: the first always apply; each next one
// when the dead-letter topic refused the letter as too large. The first keep a letter well
// under the broker's default message.max.bytes (1 MiB).
var stubLimits = []struct{ value, key, headers, reason int }{
	{value: 64 << 10, key: 1 << 10, headers: 16 << 10, reason: 1 << 10},
	{value: 1 << 10, key: 1 << 10, headers: 1 << 10, reason: 1 << 10},
	{value: 0, key: 0, headers: 0, reason: 256},
}

// NewDeadLetterQueue returns the queue of one stage, its counters registered on reg.
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
		stubs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "spamgeo_dead_letter_stubs_total",
			Help:        "Dead letters cut to a stub, by cause: oversized (over the fixed bounds), refused (the dead-letter topic refused it as too large).",
			ConstLabels: prometheus.Labels{"stage": stage},
		}, []string{"cause"}),
	}
	q.stubs.WithLabelValues(stubOversized)
	q.stubs.WithLabelValues(stubRefused)
	reg.MustRegister(q.refused, q.stubs)
	return q
}

// Refuse records why m cannot be used and returns the dead letter to deliver with its batch.
func (q *DeadLetterQueue) Refuse(m Message, reason string) Message {
	q.refused.Inc()
	letter := Message{
		Key:   m.Key,
		Value: m.Value,
		Headers: append([]Header{
			{Key: headerStage, Value: []byte(q.stage)},
			{Key: headerReason, Value: []byte(reason)},
			{Key: headerTopic, Value: []byte(m.Topic)},
			{Key: headerPartition, Value: []byte(strconv.Itoa(m.Partition))},
			{Key: headerOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: headerSize, Value: []byte(strconv.Itoa(len(m.Value)))},
		}, m.Headers...),
	}
	letter, cut := q.bound(letter, 0, stubOversized)
	if ok, held := q.limit.Allow(); ok {
		q.logger.Warn("message dead-lettered", "reason", HeaderValue(letter, headerReason), "topic", m.Topic,
			"partition", m.Partition, "offset", m.Offset, "bytes", len(m.Value), "stub", cut, "similar_lines_held_back", held)
	}
	return letter
}

// bound cuts letter to stubLimits[level] and reports whether anything was cut; a cut letter is
// a stub, counted and marked with cause.
func (q *DeadLetterQueue) bound(letter Message, level int, cause string) (Message, bool) {
	lim := stubLimits[level]
	own, original := letter.Headers[:ownHeaders], letter.Headers[ownHeaders:]
	if len(original) > 0 && original[0].Key == headerStub { // cut before
		original = original[1:]
	}
	out := Message{Key: prefix(letter.Key, lim.key), Value: prefix(letter.Value, lim.value),
		Headers: make([]Header, 0, len(letter.Headers)+1)}
	cut := len(out.Key) < len(letter.Key) || len(out.Value) < len(letter.Value)
	for _, h := range own {
		if h.Key == headerReason && len(h.Value) > lim.reason {
			h.Value, cut = h.Value[:lim.reason], true
		}
		out.Headers = append(out.Headers, h)
	}
	out.Headers = append(out.Headers, Header{Key: headerStub, Value: []byte(cause)})
	budget := lim.headers
	for _, h := range original {
		// Each header counts for its bytes and some overhead, so that many empty ones are bounded too.
		if n := len(h.Key) + len(h.Value) + headerOverhead; n <= budget {
			budget -= n
			out.Headers = append(out.Headers, h)
		} else {
			cut = true
		}
	}
	if !cut {
		return letter, false
	}
	q.stubs.WithLabelValues(cause).Inc()
	return out, true
}

const headerOverhead = 8

func prefix(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n:n]
}

// Deliver sends dead letters (none is fine) like Deliver does. When the dead-letter topic refuses
// some as too large, which it may do for a whole batch of small letters as well, the rest are
// sent one at a time, and each letter still refused alone is cut to the next stubLimits.
func (q *DeadLetterQueue) Deliver(ctx context.Context, letters []Message, failed func(error)) error {
	var b backoff
	for len(letters) > 0 {
		left, err := write(ctx, q.writer, letters)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case tooLarge(err):
			return q.deliverAlone(ctx, left, failed)
		}
		report(failed, q.writer, left, err)
		letters = left
		if !b.wait(ctx) {
			return ctx.Err()
		}
	}
	return nil
}

func (q *DeadLetterQueue) deliverAlone(ctx context.Context, letters []Message, failed func(error)) error {
	for _, l := range letters {
		level := 0
		var b backoff
		for {
			_, err := write(ctx, q.writer, []Message{l})
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if tooLarge(err) && level+1 < len(stubLimits) {
				level++
				l, _ = q.bound(l, level, stubRefused)
				continue
			}
			report(failed, q.writer, []Message{l}, err)
			if !b.wait(ctx) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// tooLarge tells whether err is a refusal of some message for its size, by the broker or by
// kafka-go's own check against the writer's batch bytes.
func tooLarge(err error) bool {
	var we kafkago.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && tooLarge(e) {
				return true
			}
		}
		return false
	}
	var mtl kafkago.MessageTooLargeError
	return errors.As(err, &mtl) || errors.Is(err, kafkago.MessageSizeTooLarge) || errors.Is(err, kafkago.RecordListTooLarge)
}

// Close flushes and closes the writer.
func (q *DeadLetterQueue) Close() error { return q.writer.Close() }
