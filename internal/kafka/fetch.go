package kafka

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// fetched is one fetch response of one partition: its messages (none when the broker had
// nothing new within fetchWait), the offset to read next and the partition's high-water mark
// when the broker answered.
type fetched struct {
	partition     int
	msgs          []Message
	next          int64
	highWaterMark int64
}

// caughtUp says whether the partition held nothing beyond this response when it was sent.
func (f fetched) caughtUp() bool { return f.next >= f.highWaterMark }

// Fetch sizes: a response holds up to fetchMaxBytes of one partition (a few thousand events;
// the broker still sends a larger record batch whole), and the broker answers after fetchWait
// when it has less than a byte. A consumer holds at most about three responses per partition
// (one queued, one being read, one pending), which bounds its memory.
const (
	fetchMaxBytes = 1 << 20
	fetchWait     = 250 * time.Millisecond
	// readTimeout bounds reading one response off the wire once the broker answers.
	readTimeout = 30 * time.Second
)

// partitionFetcher reads one partition by whole fetch responses, with kafka-go's connection
// API (Conn.ReadBatch), and hands each response on as one slice: no per-message channel hop or
// goroutine switch, which kafka-go's Reader costs (it reads batches too, then passes their
// messages one by one). It follows the partition's leader as the Reader does: a broken
// connection or a leader change redials; an offset before the first one the partition still
// holds (retention deleted the messages) moves to the first one, logged and counted.
type partitionFetcher struct {
	cfg       Configuration
	topic     string
	partition int
	logger    *slog.Logger
	metrics   *consumerMetrics
	conn      *kafkago.Conn
}

// run sends the partition's responses to out from offset (or kafkago.FirstOffset /
// LastOffset) on, until ctx ends.
func (f *partitionFetcher) run(ctx context.Context, offset int64, out chan<- fetched) {
	defer f.close()
	failures := 0
	for ctx.Err() == nil {
		if failures > 0 && !sleep(ctx, min(time.Duration(failures)*250*time.Millisecond, 5*time.Second)) {
			return
		}
		if f.conn == nil {
			var err error
			if offset, err = f.dial(ctx, offset); err != nil {
				failures++
				f.metrics.fetchErrors.Inc()
				f.logger.Warn("cannot reach the partition's leader", "partition", f.partition, "error", err)
				continue
			}
		}
		r, err := f.fetch(offset)
		ended := err == nil || errors.Is(err, io.EOF)
		if ended || r.next > offset {
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
			offset = r.next
		}
		switch {
		case ended, errors.Is(err, kafkago.RequestTimedOut):
			failures = 0
		case errors.Is(err, kafkago.OffsetOutOfRange):
			if offset, err = f.outOfRange(offset); err != nil {
				f.logger.Warn("fetch failed", "partition", f.partition, "offset", offset, "error", err)
				f.close()
			}
			failures = 1 // past the last offset: wait a little for it
		default:
			if ctx.Err() != nil {
				return
			}
			failures++
			f.metrics.fetchErrors.Inc()
			f.logger.Warn("fetch failed", "partition", f.partition, "offset", offset, "error", err)
			f.close() // a leader change, a broken connection: redial
		}
	}
}

// dial connects to the partition's leader and resolves a logical offset.
func (f *partitionFetcher) dial(ctx context.Context, offset int64) (int64, error) {
	dialer := f.cfg.dialer
	if dialer == nil { // plaintext, no authentication
		dialer = kafkago.DefaultDialer
	}
	var err error
	for _, broker := range f.cfg.Brokers {
		var conn *kafkago.Conn
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err = dialer.DialLeader(dctx, "tcp", broker, f.topic, f.partition)
		cancel()
		if err != nil {
			continue
		}
		f.conn = conn
		if offset >= 0 {
			return offset, nil
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, last, err := conn.ReadOffsets()
		conn.SetDeadline(time.Time{})
		if err != nil {
			f.close()
			return offset, err
		}
		if offset == kafkago.LastOffset {
			return last, nil
		}
		return first, nil
	}
	return offset, err
}

// fetch reads one response from offset. Its messages are valid even with an error, which is
// then the reason the response ended early (io.EOF when it simply ended).
func (f *partitionFetcher) fetch(offset int64) (fetched, error) {
	r := fetched{partition: f.partition, next: offset}
	if _, err := f.conn.Seek(offset, kafkago.SeekAbsolute|kafkago.SeekDontCheck); err != nil {
		return r, err
	}
	f.conn.SetReadDeadline(time.Now().Add(fetchWait + readTimeout))
	defer f.conn.SetReadDeadline(time.Time{})
	batch := f.conn.ReadBatchWith(kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: fetchWait})
	r.highWaterMark = batch.HighWaterMark()
	for {
		m, err := batch.ReadMessage()
		if err != nil {
			break
		}
		r.msgs = append(r.msgs, m)
	}
	err := batch.Close()
	// The batch's offset is past compacted records and control batches too, which carry no
	// message.
	r.next = max(batch.Offset(), offset)
	return r, err
}

// outOfRange finds where to read after the broker refused offset: at the partition's first
// offset when retention removed the messages before it (they are lost: counted and logged as an
// error), or at offset again, later, when it is past the last one.
func (f *partitionFetcher) outOfRange(offset int64) (int64, error) {
	f.conn.SetDeadline(time.Now().Add(10 * time.Second))
	first, _, err := f.conn.ReadOffsets()
	f.conn.SetDeadline(time.Time{})
	if err != nil {
		return offset, err
	}
	if offset < first {
		f.metrics.deleted.Add(float64(first - offset))
		f.logger.Error("messages were deleted by the topic's retention before they were read; reading on from the first one kept",
			"partition", f.partition, "offset", offset, "first", first, "lost", first-offset)
		return first, nil
	}
	return offset, nil
}

func (f *partitionFetcher) close() {
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}
