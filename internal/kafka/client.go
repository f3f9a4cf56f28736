package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Message is a Kafka message as the stages see it.
type Message = kafkago.Message

// Header is a Kafka record header.
type Header = kafkago.Header

func (c Configuration) client() *kafkago.Client {
	return &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: c.roundTripper()}
}

// EnsureTopics creates those of spamgeo's topics that do not exist yet. Writes right after
// creation may bounce once while the broker takes up leadership; writers retry them.
func (c Configuration) EnsureTopics(ctx context.Context) error {
	var topics []kafkago.TopicConfig
	for _, t := range []string{c.RawTopic, c.EnrichedTopic, c.DLQTopic} {
		topics = append(topics, kafkago.TopicConfig{
			Topic: t, NumPartitions: c.Partitions, ReplicationFactor: c.ReplicationFactor,
		})
	}
	resp, err := c.client().CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: topics})
	if err != nil {
		// kafka-go's pooled transport reports a failed TLS or SASL handshake as an unavailable
		// broker; a direct connection says what went wrong.
		if cerr := c.connect(ctx); cerr != nil {
			err = cerr
		}
		return fmt.Errorf("create topics on %v: %w", c.Brokers, err)
	}
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	return nil
}

// maxRequestBytes keeps each produce request under the broker's default message.max.bytes
// (1 MiB); a larger batch is refused by the broker on every attempt.
const maxRequestBytes = 1 << 20

// WriterOptions tune a writer for its traffic.
type WriterOptions struct {
	// BatchSize is the most messages sent to a partition in one request.
	BatchSize int
	// BatchTimeout is how long a partly filled batch waits for more messages. kafka-go's default
	// of one second would add a second of latency to every quiet moment; stages hand the writer
	// whole batches, so a short wait loses nothing.
	BatchTimeout time.Duration
	// WriteTimeout bounds each produce request; zero is kafka-go's 10 s. kafka-go gives the
	// broker half of it to gather the in-sync replicas' acknowledgements, and a killed broker's
	// replicas stay in sync until the broker is fenced (9 s by default): a request that times out
	// before then is stored all the same, and retrying it stores its messages twice.
	WriteTimeout time.Duration
}

// DefaultWriterOptions suit stages that write a batch of events at a time.
func DefaultWriterOptions() WriterOptions {
	return WriterOptions{BatchSize: 5000, BatchTimeout: 5 * time.Millisecond, WriteTimeout: 30 * time.Second}
}

// Writer returns a writer to topic whose WriteMessages returns only once every in-sync replica
// holds every message. Messages with the same key go to the same partition.
func (c Configuration) Writer(topic string, opts WriterOptions, logger *slog.Logger) *kafkago.Writer {
	return &kafkago.Writer{
		Addr:         kafkago.TCP(c.Brokers...),
		Transport:    c.roundTripper(),
		Topic:        topic,
		Balancer:     &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll,
		BatchSize:    opts.BatchSize,
		BatchBytes:   maxRequestBytes,
		BatchTimeout: opts.BatchTimeout,
		MaxAttempts:  3,
		WriteTimeout: opts.WriteTimeout,
		// Failed attempts are retried; Deliver logs what still fails after them.
		ErrorLogger: kafkaLogger(logger, slog.LevelDebug, "writer", topic),
	}
}

// consumerGroup joins group on topic. A group with no committed offsets starts at the
// beginning of the topic.
func (c Configuration) consumerGroup(topic, group string, rebalanceTimeout time.Duration, logger *slog.Logger) (*kafkago.ConsumerGroup, error) {
	return kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:      group,
		Brokers: c.Brokers,
		Dialer:  c.dialer,
		Topics:  []string{topic},
		// A member that dies without leaving (kill -9, a lost host) holds its partitions until
		// the session times out; kafka-go's 30 s default stalls the group that long.
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout:  rebalanceTimeout,
		// Partitions added to a topic are picked up by the next rebalance.
		WatchPartitionChanges: true,
		StartOffset:           kafkago.FirstOffset,
		// The group retries a lost broker by itself, so its complaints are the only sign of
		// trouble and are kept as warnings.
		ErrorLogger: kafkaLogger(logger, slog.LevelWarn, "group", topic),
	})
}

func kafkaLogger(logger *slog.Logger, level slog.Level, role, topic string) kafkago.Logger {
	l := logger.With("kafka", role, "topic", topic)
	return kafkago.LoggerFunc(func(format string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	})
}

// PartitionIDs lists the partition ids of topic.
func (c Configuration) PartitionIDs(ctx context.Context, topic string) ([]int, error) {
	meta, err := c.client().Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	var partitions []int
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			partitions = append(partitions, p.ID)
		}
	}
	return partitions, nil
}

// Committed returns the offset group committed for each partition of topic, -1 where it never
// committed: the next message the group will read there.
func (c Configuration) Committed(ctx context.Context, group, topic string) (map[int]int64, error) {
	partitions, err := c.PartitionIDs(ctx, topic)
	if err != nil {
		return nil, err
	}
	res, err := c.client().OffsetFetch(ctx, &kafkago.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: partitions},
	})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	if res.Error != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, res.Error)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// Ends returns the first and the next-to-be-written offset of each partition of topic.
func (c Configuration) Ends(ctx context.Context, topic string) (first, next map[int]int64, err error) {
	partitions, err := c.PartitionIDs(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	var requests []kafkago.OffsetRequest
	for _, p := range partitions {
		requests = append(requests, kafkago.FirstOffsetOf(p), kafkago.LastOffsetOf(p))
	}
	ends, err := c.client().ListOffsets(ctx, &kafkago.ListOffsetsRequest{
		Topics: map[string][]kafkago.OffsetRequest{topic: requests},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	first, next = map[int]int64{}, map[int]int64{}
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		first[p.Partition], next[p.Partition] = p.FirstOffset, p.LastOffset
	}
	return first, next, nil
}

// Lag returns how many messages of topic the group has not committed yet, summed over
// partitions. A partition the group never committed counts from its first offset.
func (c Configuration) Lag(ctx context.Context, group, topic string) (int64, error) {
	done, err := c.Committed(ctx, group, topic)
	if err != nil {
		return 0, err
	}
	first, next, err := c.Ends(ctx, topic)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, end := range next {
		from, ok := done[p]
		if !ok || from < first[p] {
			from = first[p]
		}
		lag += end - from
	}
	return lag, nil
}

// Deliver writes msgs and returns once every one is acknowledged, or ctx ends. When a write
// fails for some messages only, it retries just those (with backoff), so a partial failure does
// not duplicate the messages that did arrive. Each failed attempt is passed to failed, which
// may be nil.
func Deliver(ctx context.Context, w *kafkago.Writer, msgs []Message, failed func(error)) error {
	var b backoff
	for len(msgs) > 0 {
		left, err := write(ctx, w, msgs)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msgs = left
		report(failed, w, msgs, err)
		if !b.wait(ctx) {
			return ctx.Err()
		}
	}
	return nil
}

// write makes one attempt at writing msgs and returns those that failed: all of them unless
// the error says which.
func write(ctx context.Context, w *kafkago.Writer, msgs []Message) ([]Message, error) {
	err := w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil, nil
	}
	var we kafkago.WriteErrors
	if !errors.As(err, &we) || len(we) != len(msgs) {
		return msgs, err
	}
	var left []Message
	for i, e := range we {
		if e != nil {
			left = append(left, msgs[i])
		}
	}
	return left, err
}

func report(failed func(error), w *kafkago.Writer, msgs []Message, err error) {
	if failed != nil {
		failed(fmt.Errorf("write %d messages to %s: %w", len(msgs), w.Topic, summarize(err)))
	}
}

// summarize shortens kafka-go's per-message error lists, which repeat one cause thousands of times.
func summarize(err error) error {
	var we kafkago.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	for _, e := range we {
		if e != nil {
			return fmt.Errorf("%d failed, the first with: %w", we.Count(), e)
		}
	}
	return err
}

// HeaderValue returns the value of the first header named key, or "".
func HeaderValue(m Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// GroupMembers returns how many members group has now: 0 when no consumer of it is running.
func (c Configuration) GroupMembers(ctx context.Context, group string) (int, error) {
	res, err := c.client().DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return 0, fmt.Errorf("describe group %s: %w", group, err)
	}
	for _, g := range res.Groups {
		if g.Error != nil {
			return 0, fmt.Errorf("describe group %s: %w", group, g.Error)
		}
		if g.GroupID == group {
			return len(g.Members), nil
		}
	}
	return 0, nil
}
