package peers

import (
	"context"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// BenchmarkKafkaClients produces and consumes the same 500,000 raw events (about 250 bytes each,
// keyed by source address, in batches of 5,000 acknowledged by every in-sync replica) with
// kafka-go as spamgeo uses it (internal/kafka: its writer settings, Deliver, and the consumer-group
// Consumer with a handler that does nothing) and with franz-go (kgo, the same acknowledgements
// and batch bytes; a consumer group polled until everything arrived). Each consumption is also
// measured from its first message on (after the group join, which the broker paces) and per
// second of this process's CPU. Informational: it says what changing the client would buy.
func BenchmarkKafkaClients(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	const n, batch = 500_000, 5_000
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		ip := netip.AddrFrom4([4]byte{byte(30 + i%50), 0, byte(i >> 8), byte(i)})
		r := event.Raw{SchemaVersion: event.SchemaVersion, EventID: uuid.NewString(), ReceivedAt: time.Date(2005, 4, 1, 0, 0, i%86400, 0, time.UTC),
			TrapID: "clients", Collector: event.CollectorSynth, SourceIP: ip, HELO: "pc.example", MailFrom: "bulk@example.com", RcptCount: 1, Size: 1024}
		v, err := event.EncodeRaw(&r)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(ip.String()), Value: v}
	}
	ctx := context.Background()
	rate := map[string]float64{}
	timed := func(name string, f func()) {
		start, cpu := time.Now(), cpuSeconds(nil)[0]
		f()
		rate[name] += float64(n) / time.Since(start).Seconds()
		rate[name+"-per-cpu-s"] += float64(n) / (cpuSeconds(nil)[0] - cpu)
	}
	// steady is the rate from the first message to the last.
	steady := func(name string, first, last time.Time) {
		rate[name+"-steady"] += float64(n) / last.Sub(first).Seconds()
	}
	runs := 0
	for b.Loop() {
		runs++
		ours, theirs := testenv.KafkaPartitions(b, 3), testenv.KafkaPartitions(b, 3)
		timed("kafka-go-produce", func() {
			w := ours.Writer(ours.RawTopic, kafka.DefaultWriterOptions(), testenv.Logger(b))
			defer w.Close()
			for i := 0; i < n; i += batch {
				if err := kafka.Deliver(ctx, w, msgs[i:i+batch], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		cl, err := kgo.NewClient(kgo.SeedBrokers(theirs.Brokers...), kgo.DefaultProduceTopic(theirs.RawTopic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		timed("franz-go-produce", func() {
			records := make([]*kgo.Record, batch)
			for i := 0; i < n; i += batch {
				for j := range records {
					records[j] = &kgo.Record{Key: msgs[i+j].Key, Value: msgs[i+j].Value}
				}
				if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
		})
		cl.Close()
		timed("kafka-go-consume", func() {
			c := kafka.NewConsumer(ours, kafka.ConsumerOptions{Topic: ours.RawTopic, Group: "clients-" + testenv.Suffix(),
				Policy: kafka.BatchPolicy{MaxMessages: batch, MaxWait: 100 * time.Millisecond}, Drain: true},
				prometheus.NewRegistry(), testenv.Logger(b))
			defer c.Close()
			var got atomic.Int64
			var first, last time.Time
			if err := c.Run(ctx, func(_ context.Context, m []kafka.Message) error {
				if got.Add(int64(len(m))) == int64(len(m)) {
					first = time.Now()
				}
				last = time.Now()
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if got.Load() < n {
				b.Fatalf("kafka-go consumed %d of %d", got.Load(), n)
			}
			steady("kafka-go-consume", first, last)
		})
		timed("franz-go-consume", func() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(theirs.Brokers...), kgo.ConsumeTopics(theirs.RawTopic),
				kgo.ConsumerGroup("clients-"+testenv.Suffix()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			got := 0
			var first time.Time
			for got < n {
				fetches := cl.PollFetches(ctx)
				if err := fetches.Err(); err != nil {
					b.Fatal(err)
				}
				if got == 0 {
					first = time.Now()
				}
				got += fetches.NumRecords()
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					b.Fatal(err)
				}
			}
			steady("franz-go-consume", first, time.Now())
		})
	}
	for _, name := range []string{"kafka-go-produce", "franz-go-produce", "kafka-go-consume", "franz-go-consume",
		"kafka-go-consume-steady", "franz-go-consume-steady"} {
		b.ReportMetric(rate[name]/float64(runs), name+"-events/s")
	}
	for _, name := range []string{"kafka-go-produce", "franz-go-produce", "kafka-go-consume", "franz-go-consume"} {
		b.ReportMetric(rate[name+"-per-cpu-s"]/float64(runs), name+"-events/cpu-s")
	}
	b.Logf("franz-go / kafka-go: produce %.2f×, consume %.2f× (from the first message %.2f×, per CPU-second %.2f×)",
		rate["franz-go-produce"]/rate["kafka-go-produce"], rate["franz-go-consume"]/rate["kafka-go-consume"],
		rate["franz-go-consume-steady"]/rate["kafka-go-consume-steady"], rate["franz-go-consume-per-cpu-s"]/rate["kafka-go-consume-per-cpu-s"])
}
