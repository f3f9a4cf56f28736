package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
// with backoff for as long as it takes, so nothing is skipped.
//
// When the group rebalances, the batch in hand is finished and committed before the partitions
// are given up (the group waits for it, up to its rebalance timeout), so a clean hand-over
// between members, or a member joining, delivers nothing twice. Only a member that dies, or one
// whose batch outlasts the rebalance timeout, leaves handled but uncommitted messages behind:
// delivery is at least once.
type Consumer struct {
	cfg     Configuration
	opts    ConsumerOptions
	logger  *slog.Logger
	metrics consumerMetrics
	failing atomic.Pointer[error]
	group   atomic.Pointer[kafkago.ConsumerGroup]
	lagAt   time.Time
}

// idleCheck is how long a consumer waits for a first message before it looks at its lag.
const idleCheck = time.Second

var errDrained = errors.New("drained")

// NewConsumer prepares to join opts.Group on opts.Topic; Run joins. Its metrics are registered
// on reg.
func NewConsumer(cfg Configuration, opts ConsumerOptions, reg prometheus.Registerer, logger *slog.Logger) *Consumer {
	if opts.Grace == 0 {
		opts.Grace = 30 * time.Second
	}
	return &Consumer{
		cfg:     cfg,
		opts:    opts,
		logger:  logger.With("topic", opts.Topic, "group", opts.Group),
		metrics: newConsumerMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"topic": opts.Topic, "group": opts.Group}, reg)),
	}
}

// Run consumes until ctx is done (or, with Drain, until the topic is drained) and returns nil
// then. The batch in hand when ctx ends is finished within the grace period; one that cannot
// finish by then is left uncommitted and delivered again later.
func (c *Consumer) Run(ctx context.Context, handle Handler) error {
	group, err := c.cfg.consumerGroup(c.opts.Topic, c.opts.Group, rebalanceTimeout(c.opts.Grace), c.logger)
	if err != nil {
		return err
	}
	c.group.Store(group)
	for {
		gen, err := group.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed):
			return nil
		case err != nil:
			c.metrics.groupErrors.Inc()
			c.logger.Warn("joining the group failed", "error", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		c.metrics.generations.Inc()
		done := make(chan error, 1)
		gen.Start(func(genCtx context.Context) { done <- c.consume(ctx, genCtx, gen, handle) })
		if err := <-done; errors.Is(err, errDrained) {
			c.logger.Info("topic drained")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// rebalanceTimeout leaves a member the grace period to finish its batch when the group
// rebalances, and some time to rejoin after it.
func rebalanceTimeout(grace time.Duration) time.Duration { return grace + 30*time.Second }

// consume works through the partitions one generation of the group assigned to this member,
// until the generation ends (a rebalance) or ctx does.
func (c *Consumer) consume(ctx, genCtx context.Context, gen *kafkago.Generation, handle Handler) error {
	end, stopEnd := context.WithCancel(genCtx)
	defer stopEnd()
	defer context.AfterFunc(ctx, stopEnd)()
	work, cancelWork := context.WithCancel(context.WithoutCancel(end))
	defer cancelWork()
	defer context.AfterFunc(end, func() { time.AfterFunc(c.opts.Grace, cancelWork) })()

	// A fetcher per partition, each about one response ahead of the handler.
	assigned := gen.Assignments[c.opts.Topic]
	responses := make(chan fetched, len(assigned))
	var fetchers sync.WaitGroup
	defer func() { stopEnd(); fetchers.Wait() }()
	in := newIntake(responses)
	partitions := make([]int, 0, len(assigned))
	for _, a := range assigned {
		partitions = append(partitions, a.ID)
		in.caughtUp[a.ID] = false
		f := &partitionFetcher{cfg: c.cfg, topic: c.opts.Topic, partition: a.ID, logger: c.logger, metrics: &c.metrics}
		fetchers.Go(func() { f.run(end, a.Offset, responses) })
	}
	c.logger.Info("partitions assigned", "generation", gen.ID, "partitions", partitions)

	for {
		batch, err := c.fetch(end, in)
		if err != nil {
			return err
		}
		if !c.retry(work, "handle batch", func() error { return handle(work, batch) }) {
			return nil
		}
		offsets := map[int]int64{}
		for _, m := range batch {
			offsets[m.Partition] = max(offsets[m.Partition], m.Offset+1)
		}
		commit := func() error { return c.commit(work, gen, offsets) }
		if !c.retry(work, "commit offsets", commit) {
			c.metrics.uncommitted.Add(float64(len(batch)))
			c.logger.Warn("a handled batch could not be committed in time; it will be delivered again", "messages", len(batch))
			return nil
		}
		c.metrics.messages.Add(float64(len(batch)))
		c.metrics.batches.Inc()
		c.metrics.batchSize.Observe(float64(len(batch)))
		if time.Since(c.lagAt) > 5*time.Second {
			c.updateLag(ctx)
		}
	}
}

// commit commits offsets for gen. It finds the group's coordinator for every attempt rather than
// use the generation's connection (kafka-go's Generation.CommitOffsets): when the coordinator's
// broker dies that connection stays broken, while the broker that takes the group over accepts
// the generation's commits until the group has rebalanced. Committing on the broken connection
// until the grace period ran out left the batch to be handled again.
func (c *Consumer) commit(ctx context.Context, gen *kafkago.Generation, offsets map[int]int64) error {
	commits := make([]kafkago.OffsetCommit, 0, len(offsets))
	for p, o := range offsets {
		commits = append(commits, kafkago.OffsetCommit{Partition: p, Offset: o})
	}
	resp, err := c.cfg.client().OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		GroupID: gen.GroupID, GenerationID: int(gen.ID), MemberID: gen.MemberID,
		Topics: map[string][]kafkago.OffsetCommit{c.opts.Topic: commits},
	})
	if err != nil {
		return err
	}
	for _, p := range resp.Topics[c.opts.Topic] {
		if p.Error != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
	}
	return nil
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
func (c *Consumer) Close() error {
	if g := c.group.Load(); g != nil {
		return g.Close()
	}
	return nil
}

// intake holds what the partition fetchers of one generation sent and the consumer has not yet
// put in a batch.
type intake struct {
	responses <-chan fetched
	pending   []Message
	caughtUp  map[int]bool // per assigned partition: read up to its high-water mark
}

func newIntake(responses <-chan fetched) *intake {
	return &intake{responses: responses, caughtUp: map[int]bool{}}
}

func (in *intake) add(r fetched) {
	in.pending = append(in.pending, r.msgs...)
	in.caughtUp[r.partition] = r.caughtUp()
}

// drained says whether everything the assigned partitions held when last fetched is in a
// batch already.
func (in *intake) drained() bool {
	if len(in.pending) > 0 || len(in.responses) > 0 {
		return false
	}
	for _, done := range in.caughtUp {
		if !done {
			return false
		}
	}
	return true
}

// take moves up to n pending messages into batch.
func (in *intake) take(batch []Message, n int) []Message {
	k := min(n, len(in.pending))
	batch = append(batch, in.pending[:k]...)
	in.pending = in.pending[k:]
	return batch
}

// fetch waits for a first message, then collects more until the batch is full or MaxWait has
// passed since the first one. With Drain, once every assigned partition is read to its end, it
// asks the group's lag at once instead of after an idle second.
func (c *Consumer) fetch(ctx context.Context, in *intake) ([]Message, error) {
	idle := time.NewTimer(idleCheck)
	defer idle.Stop()
	for len(in.pending) == 0 {
		if c.opts.Drain && in.drained() && time.Since(c.lagAt) > 200*time.Millisecond {
			if lag, ok := c.updateLag(ctx); ok && lag == 0 {
				return nil, errDrained
			}
		}
		select {
		case r := <-in.responses:
			in.add(r)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-idle.C:
			if lag, ok := c.updateLag(ctx); ok && lag == 0 && c.opts.Drain {
				return nil, errDrained
			}
			idle.Reset(idleCheck)
		}
	}
	limit := c.opts.Policy.MaxMessages
	batch := in.take(make([]Message, 0, min(limit, len(in.pending)+1024)), limit)
	full := time.NewTimer(c.opts.Policy.MaxWait)
	defer full.Stop()
	for len(batch) < limit {
		select {
		case r := <-in.responses:
			in.add(r)
			batch = in.take(batch, limit-len(batch))
		case <-full.C:
			return batch, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
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
	deleted     prometheus.Counter
	groupErrors prometheus.Counter
	generations prometheus.Counter
	uncommitted prometheus.Counter
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
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_consumer_deleted_unread_total", Help: "Messages the topic's retention deleted before the group read them: lost to this stage.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_consumer_lag_messages", Help: "Messages in the topic the group has not committed yet, as last measured.",
		}),
	}
	m.groupErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spamgeo_consumer_group_errors_total", Help: "Failed attempts to join the consumer group.",
	})
	m.generations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spamgeo_consumer_generations_total", Help: "Group generations (rebalances) this member took part in.",
	})
	m.uncommitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spamgeo_consumer_uncommitted_handled_total",
		Help: "Messages handled whose offsets could not be committed before the partition was given up; they are delivered again.",
	})
	reg.MustRegister(m.messages, m.batches, m.batchSize, m.retries, m.fetchErrors, m.deleted, m.groupErrors, m.generations, m.uncommitted, m.lag)
	return m
}
