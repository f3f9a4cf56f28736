package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// Issue 18, finding 1: a refused message larger than the dead-letter topic's max.message.bytes
// was refused by the broker ("[10] Message Size Too Large") on every attempt, and its stage
// retried it forever, processing nothing new. Dead letters are now bounded stubs: cut to fixed
// bounds (a long reason, a header of 20 KiB), and cut further when the topic still refuses
// them (a 200 KiB value, against a topic taking 4 KiB); letters the topic refuses only
// together are sent one by one, unchanged. Each keeps where it came from and its size.
func TestDeadLetterStubsOnRealBroker(t *testing.T) {
	cfg := testenv.Kafka(t)
	cfg.DLQTopic += ".small"
	testenv.CreateTopic(t, cfg, cfg.DLQTopic, map[string]string{"max.message.bytes": "4096"})
	reg := prometheus.NewRegistry()
	q := kafka.NewDeadLetterQueue(cfg, "test", reg, testenv.Logger(t))
	defer q.Close()
	trace := kafka.Header{Key: "trace", Value: []byte("t-1")}
	original := func(offset int64, key string, value []byte, headers ...kafka.Header) kafka.Message {
		return kafka.Message{Topic: "spamgeo.raw", Partition: 2, Offset: offset, Key: []byte(key), Value: value,
			Headers: append([]kafka.Header{trace}, headers...)}
	}
	letters := []kafka.Message{
		q.Refuse(original(1, "a", bytes.Repeat([]byte("a"), 200<<10)), "too big"),
		q.Refuse(original(2, "same", bytes.Repeat([]byte("b"), 1500)), "garbage"),
		q.Refuse(original(3, "same", bytes.Repeat([]byte("c"), 1500)), "garbage"),
		q.Refuse(original(4, "same", []byte("d")), strings.Repeat("long reason ", 500)),
		q.Refuse(original(5, "e", []byte("e"), kafka.Header{Key: "huge", Value: bytes.Repeat([]byte("h"), 20<<10)}), "huge header"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var failures atomic.Int32
	if err := q.Deliver(ctx, letters, func(error) { failures.Add(1) }); err != nil {
		t.Fatalf("dead letters not delivered: %v (%d failed attempts)", err, failures.Load())
	}
	got := map[string]kafka.Message{}
	for _, m := range testenv.ReadAll(t, cfg, cfg.DLQTopic, len(letters)) {
		got[kafka.HeaderValue(m, "spamgeo.offset")] = m
	}
	for _, want := range []struct {
		offset, stub, size string
		value              int
		reason             int
		headers            []string
	}{
		{"1", "refused", "204800", 1 << 10, len("too big"), []string{"trace"}},
		{"2", "", "1500", 1500, len("garbage"), []string{"trace"}},
		{"3", "", "1500", 1500, len("garbage"), []string{"trace"}},
		{"4", "oversized", "1", 1, 1 << 10, []string{"trace"}},
		{"5", "oversized", "1", 1, len("huge header"), []string{"trace"}},
	} {
		m, ok := got[want.offset]
		if !ok {
			t.Errorf("no dead letter of offset %s", want.offset)
			continue
		}
		var own, others []string
		for _, h := range m.Headers {
			if strings.HasPrefix(h.Key, "spamgeo.") {
				own = append(own, h.Key)
			} else {
				others = append(others, h.Key)
			}
		}
		if kafka.HeaderValue(m, "spamgeo.stub") != want.stub || kafka.HeaderValue(m, "spamgeo.size") != want.size ||
			len(m.Value) != want.value || len(kafka.HeaderValue(m, "spamgeo.reason")) != want.reason ||
			kafka.HeaderValue(m, "spamgeo.topic") != "spamgeo.raw" || kafka.HeaderValue(m, "spamgeo.partition") != "2" ||
			kafka.HeaderValue(m, "spamgeo.stage") != "test" || !slices.Equal(others, want.headers) {
			t.Errorf("dead letter of offset %s: stub %q, size %s, %d value bytes, %d reason bytes, headers %v %v; want %+v",
				want.offset, kafka.HeaderValue(m, "spamgeo.stub"), kafka.HeaderValue(m, "spamgeo.size"), len(m.Value),
				len(kafka.HeaderValue(m, "spamgeo.reason")), own, others, want)
		}
	}
	stubs := map[string]float64{}
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == "spamgeo_dead_letter_stubs_total" {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "cause" {
						stubs[l.GetValue()] = m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	// The 200 KiB value is cut to 64 KiB (oversized), refused, then cut to 1 KiB (refused).
	if stubs["oversized"] != 3 || stubs["refused"] != 1 {
		t.Errorf("stub counters %v, want 3 oversized and 1 refused", stubs)
	}
	if got := testenv.CounterValue(t, reg, "spamgeo_dead_lettered_total"); got != 5 {
		t.Errorf("dead-lettered counter %v, want 5", got)
	}
}

// Headers are bounded by count as well as by bytes: a message with 100,000 empty headers is
// dead-lettered with 2,048 of them, after the spamgeo headers.
func TestDeadLetterBoundsManyHeaders(t *testing.T) {
	q := kafka.NewDeadLetterQueue(kafka.DefaultConfiguration(), "test", prometheus.NewRegistry(), testenv.Logger(t))
	defer q.Close()
	m := kafka.Message{Value: []byte("v"), Headers: make([]kafka.Header, 100_000)}
	letter := q.Refuse(m, "many headers")
	if n := len(letter.Headers); n != 7+2048 || kafka.HeaderValue(letter, "spamgeo.stub") != "oversized" {
		t.Errorf("%d headers, stub %q; want 7 + 2048, oversized", n, kafka.HeaderValue(letter, "spamgeo.stub"))
	}
	if small := q.Refuse(kafka.Message{Value: []byte("v")}, "small"); len(small.Headers) != 6 || kafka.HeaderValue(small, "spamgeo.stub") != "" {
		t.Errorf("a small letter has headers %v", small.Headers)
	}
}
