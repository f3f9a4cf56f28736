package kafka

import "testing"

// The intake batches responses across partitions without splitting or losing messages, and
// calls the assignment drained only when every partition was read to its high-water mark and
// nothing is left pending or queued.
func TestIntake(t *testing.T) {
	responses := make(chan fetched, 2)
	in := newIntake(responses)
	in.caughtUp[0], in.caughtUp[1] = false, false
	msgs := func(p, from, n int) []Message {
		out := make([]Message, n)
		for i := range out {
			out[i] = Message{Partition: p, Offset: int64(from + i)}
		}
		return out
	}
	in.add(fetched{partition: 0, msgs: msgs(0, 0, 5), next: 5, highWaterMark: 5})
	if in.drained() {
		t.Fatal("drained with partition 1 never fetched")
	}
	in.add(fetched{partition: 1, msgs: msgs(1, 10, 4), next: 14, highWaterMark: 20})
	batch := in.take(nil, 6)
	if len(batch) != 6 || len(in.pending) != 3 || batch[5].Partition != 1 || batch[5].Offset != 10 {
		t.Fatalf("first batch %v, pending %d", batch, len(in.pending))
	}
	batch = in.take(nil, 6)
	if len(batch) != 3 || batch[2].Offset != 13 || in.drained() {
		t.Fatalf("second batch %v; drained %v with partition 1 behind its high-water mark", batch, in.drained())
	}
	in.add(fetched{partition: 1, next: 20, highWaterMark: 20, msgs: msgs(1, 14, 6)})
	responses <- fetched{partition: 0, next: 5, highWaterMark: 5}
	if in.drained() {
		t.Fatal("drained with messages pending and a response queued")
	}
	in.take(nil, 100)
	in.add(<-responses)
	if !in.drained() {
		t.Fatal("not drained with every partition at its high-water mark and nothing pending")
	}
}
