package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
)

// ConsumerOptions say what a Consumer reads and how it batches.
type ConsumerOptions struct {
	Topic  string
	Group  string
	Policy BatchPolicy
	// Drain makes Run return once the group has committed everything the topic holds (lag 0),
	// instead of waiting for new messages: batch runs, demos and tests.
	Drain bool
	// Grace is how long a batch in hand may still take to finish (handled and committed) after
	// Run's context ends, so a stopped member hands its partitions over without leaving
	// half-written output behind. Zero means 30 s.
	Grace time.Duration
}

// Handler handles one batch. It returns an error only for failures worth retrying the whole
// batch for, such as an unreachable dependency; a message that can never be used is the
// handler's to dead-letter. Handlers must tolerate seeing a batch again after an error.
type Handler func(ctx context.Context, batch []Message) error

// Consumer reads a topic in a consumer group and hands batches of messages to a stage. It
// commits a batch's offsets only after the handler returned nil, retrying a failing handler
// with backoff for as long as it takes, so nothing is skipped; redelivery after a crash or a
// rebalance is possible, so delivery is at least once.
type Consumer struct {
	cfg     Configuration
	opts    ConsumerOptions
	reader  *kafkago.Reader
	logger  *slog.Logger
	metrics consumerMetrics
	failing atomic.Pointer[error]
	lagAt   time.Time
}

// idleCheck is how long a consumer waits for a first message before it looks at its lag.
const idleCheck = time.Second

var errDrained = errors.New("drained")

// NewConsumer joins opts.Group on opts.Topic. Its metrics are registered on reg.
func NewConsumer(cfg Configuration, opts ConsumerOptions, reg prometheus.Registerer, logger *slog.Logger) *Consumer {
	logger = logger.With("topic", opts.Topic, "group", opts.Group)
	return &Consumer{
		cfg:     cfg,
		opts:    opts,
		reader:  cfg.GroupReader(opts.Topic, opts.Group, logger),
		logger:  logger,
		metrics: newConsumerMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"topic": opts.Topic, "group": opts.Group}, reg)),
	}
}

// Run consumes until ctx is done (or, with Drain, until the topic is drained) and returns nil
// then. The batch in hand when ctx ends is finished within the grace period; one that cannot
// finish by then is left uncommitted and delivered again later.
func (c *Consumer) Run(ctx context.Context, handle Handler) error {
	grace := c.opts.Grace
	if grace == 0 {
		grace = 30 * time.Second
	}
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancelWork) })
	defer stop()
	for {
		batch, err := c.fetch(ctx)
		switch {
		case errors.Is(err, errDrained):
			c.logger.Info("topic drained")
			return nil
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		if !c.retry(work, "handle batch", func() error { return handle(work, batch) }) {
			return nil
		}
		if !c.retry(work, "commit offsets", func() error { return c.reader.CommitMessages(work, batch...) }) {
			return nil
		}
		c.failing.Store(nil)
		c.metrics.messages.Add(float64(len(batch)))
		c.metrics.batches.Inc()
		c.metrics.batchSize.Observe(float64(len(batch)))
		if time.Since(c.lagAt) > 5*time.Second {
			c.updateLag(ctx)
		}
	}
}

// Healthy returns the error the consumer is currently retrying on, if any.
func (c *Consumer) Healthy() error {
	if err := c.failing.Load(); err != nil {
		return *err
	}
	return nil
}

// Failed records a failure the handler is retrying by itself (see Deliver): it shows in
// Healthy and in the retries metric until the batch completes.
func (c *Consumer) Failed(err error) {
	c.failing.Store(&err)
	c.metrics.retries.WithLabelValues("deliver").Inc()
	c.logger.Warn("retrying", "error", err)
}

// Close leaves the group.
func (c *Consumer) Close() error { return c.reader.Close() }

// fetch waits for a first message, then collects more until the batch is full or MaxWait has
// passed since the first one.
func (c *Consumer) fetch(ctx context.Context) ([]Message, error) {
	var first Message
	for {
		fctx, cancel := context.WithTimeout(ctx, idleCheck)
		m, err := c.reader.FetchMessage(fctx)
		cancel()
		if err == nil {
			first = m
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			c.metrics.fetchErrors.Inc()
			c.logger.Warn("fetch failed", "error", err)
			if !sleep(ctx, time.Second) {
				return nil, ctx.Err()
			}
			continue
		}
		if lag, ok := c.updateLag(ctx); ok && lag == 0 && c.opts.Drain {
			return nil, errDrained
		}
	}
	batch := []Message{first}
	deadline := time.Now().Add(c.opts.Policy.MaxWait)
	for len(batch) < c.opts.Policy.MaxMessages {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		m, err := c.reader.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

func (c *Consumer) updateLag(ctx context.Context) (int64, bool) {
	c.lagAt = time.Now()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lag, err := c.cfg.Lag(lctx, c.opts.Group, c.opts.Topic)
	if err != nil {
		c.logger.Debug("lag unknown", "error", err)
		return 0, false
	}
	c.metrics.lag.Set(float64(lag))
	return lag, true
}

// retry runs f until it succeeds, backing off from 100 ms to 30 s; false means ctx ended first.
func (c *Consumer) retry(ctx context.Context, what string, f func() error) bool {
	var b backoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				c.logger.Info(what+" succeeded again", "attempts", attempt)
			}
			c.failing.Store(nil)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		err = fmt.Errorf("%s: %w", what, err)
		c.failing.Store(&err)
		c.metrics.retries.WithLabelValues(what).Inc()
		c.logger.Warn("retrying", "error", err, "attempt", attempt)
		if !b.wait(ctx) {
			return false
		}
	}
}

// backoff waits 100 ms, then twice as long each time, up to 30 s.
type backoff struct{ next time.Duration }

func (b *backoff) wait(ctx context.Context) bool {
	b.next = min(max(2*b.next, 100*time.Millisecond), 30*time.Second)
	return sleep(ctx, b.next)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type consumerMetrics struct {
	messages    prometheus.Counter
	batches     prometheus.Counter
	batchSize   prometheus.Histogram
	retries     *prometheus.CounterVec
	fetchErrors prometheus.Counter
	lag         prometheus.Gauge
}

func newConsumerMetrics(reg prometheus.Registerer) consumerMetrics {
	m := consumerMetrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_consumer_messages_committed_total", Help: "Messages handled and committed.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_consumer_batches_total", Help: "Batches handled and committed.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spamgeo_consumer_batch_messages", Help: "Messages per handled batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_consumer_retries_total", Help: "Failed attempts to handle or commit a batch, by step.",
		}, []string{"step"}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_consumer_fetch_errors_total", Help: "Failed fetches from Kafka.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_consumer_lag_messages", Help: "Messages in the topic the group has not committed yet, as last measured.",
		}),
	}
	reg.MustRegister(m.messages, m.batches, m.batchSize, m.retries, m.fetchErrors, m.lag)
	return m
}
