package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

func deliver(t *testing.T, cfg kafka.Configuration, n int) {
	t.Helper()
	w := cfg.Writer(cfg.RawTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "m%d", i)}
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
}

// A batch whose handler fails is handed over again and nothing is committed until it
// succeeds; draining stops once the group has committed the whole topic.
func TestConsumerRetriesThenCommitsOnRealBroker(t *testing.T) {
	cfg := testenv.Kafka(t)
	deliver(t, cfg, 3000)
	reg := prometheus.NewRegistry()
	group := "g-" + testenv.Suffix()
	c := kafka.NewConsumer(cfg, kafka.ConsumerOptions{
		Topic: cfg.RawTopic, Group: group,
		Policy: kafka.BatchPolicy{MaxMessages: 500, MaxWait: 50 * time.Millisecond}, Drain: true,
	}, reg, testenv.Logger(t))
	defer c.Close()
	seen := map[string]int{}
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Run(ctx, func(ctx context.Context, batch []kafka.Message) error {
		if calls.Add(1) == 2 {
			if c.Healthy() != nil {
				t.Error("unhealthy before any failure")
			}
			return errors.New("dependency down")
		}
		for _, m := range batch {
			seen[string(m.Value)]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not drain before the deadline")
	}
	if len(seen) != 3000 {
		t.Errorf("handled %d distinct messages, want 3000", len(seen))
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", v, n)
		}
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_consumer_messages_committed_total"); got != 3000 {
		t.Errorf("committed counter %v, want 3000", got)
	}
	if c.Healthy() != nil {
		t.Errorf("still unhealthy after recovering: %v", c.Healthy())
	}
	lag, err := cfg.Lag(context.Background(), group, cfg.RawTopic)
	if err != nil || lag != 0 {
		t.Errorf("lag after drain = %d, %v", lag, err)
	}
}

// A consumer stopped while its handler keeps failing commits nothing: the next consumer of the
// group receives every message.
func TestNothingCommittedWithoutSuccessOnRealBroker(t *testing.T) {
	cfg := testenv.Kafka(t)
	deliver(t, cfg, 200)
	group := "g-" + testenv.Suffix()
	opts := kafka.ConsumerOptions{Topic: cfg.RawTopic, Group: group,
		Policy: kafka.BatchPolicy{MaxMessages: 50, MaxWait: 50 * time.Millisecond}, Drain: true, Grace: time.Second}
	failing := kafka.NewConsumer(cfg, opts, prometheus.NewRegistry(), testenv.Logger(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	var attempts atomic.Int32
	if err := failing.Run(ctx, func(context.Context, []kafka.Message) error {
		attempts.Add(1)
		return errors.New("always down")
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if failing.Healthy() == nil {
		t.Error("a consumer whose handler keeps failing reports healthy")
	}
	failing.Close()
	if attempts.Load() < 2 {
		t.Errorf("handler tried %d times in 5 s, want retries", attempts.Load())
	}
	if lag, err := cfg.Lag(context.Background(), group, cfg.RawTopic); err != nil || lag != 200 {
		t.Errorf("lag after failures = %d, %v; want 200", lag, err)
	}

	next := kafka.NewConsumer(cfg, opts, prometheus.NewRegistry(), testenv.Logger(t))
	defer next.Close()
	n := 0
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := next.Run(ctx, func(_ context.Context, b []kafka.Message) error { n += len(b); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Errorf("the next consumer got %d messages, want 200", n)
	}
}
