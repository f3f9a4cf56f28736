package e2e

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Two enricher processes share a 4-partition raw topic in one consumer group; one is stopped
// (SIGTERM) mid-run and the other takes over its partitions. The enriched topic then holds
// every input event exactly once, and per source address in the input's order.
func TestTwoEnrichersOnRealBroker(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers and processes; make test sets SPAMGEO_INTEGRATION=1")
	}
	const events = 60_000
	ctx := context.Background()
	kcfg := testenv.KafkaPartitions(t, 4)
	country, asn := geoiptest.Files(t)
	scfg := synth.DefaultConfiguration()
	scfg.Profile, scfg.Events, scfg.Seed, scfg.CountryDatabase, scfg.IPv6 = "sophos-2004-apr-sep", events, 9, country, true
	if _, err := synth.Run(ctx, scfg, synth.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)}); err != nil {
		t.Fatal(err)
	}
	input := testenv.ReadAll(t, kcfg, kcfg.RawTopic, events)

	bin := testenv.BuildSpamgeo(t)
	args := slices.Concat([]string{"--log-format", "json"}, testenv.KafkaFlags(kcfg), []string{
		"enrich", "--metrics-listen", "", "--geoip-country", country, "--geoip-asn", asn,
		"--group", "two-" + testenv.Suffix(), "--batch-rows", "20"}) // small batches: the hand-over happens mid-run
	first, second := start(t, bin, args...), start(t, bin, args...)
	for testenv.TopicCount(t, kcfg, kcfg.EnrichedTopic) < events/4 {
		time.Sleep(50 * time.Millisecond)
	}
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-first.done; err != nil {
		t.Fatalf("first enricher did not stop cleanly: %v\n%s", err, first.tail())
	}
	midway := testenv.TopicCount(t, kcfg, kcfg.EnrichedTopic)
	_ = testenv.Wait(2*time.Minute, 100*time.Millisecond, "the second enricher to finish", func() (bool, error) { // ReadAll below counts
		return testenv.TopicCount(t, kcfg, kcfg.EnrichedTopic) >= events, nil
	})
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-second.done; err != nil {
		t.Fatalf("second enricher: %v\n%s", err, second.tail())
	}
	t.Logf("the first enricher stopped with %d of %d events enriched", midway, events)
	if midway >= events {
		t.Error("the first enricher was stopped after the work was done; the test proves nothing")
	}

	output := testenv.ReadAll(t, kcfg, kcfg.EnrichedTopic, events) // fails on more or fewer
	order := func(msgs []kafka.Message) map[string][]string {
		byKey := map[string][]string{}
		for _, m := range msgs {
			id := eventID(t, m.Value)
			byKey[string(m.Key)] = append(byKey[string(m.Key)], id)
		}
		return byKey
	}
	in, out := order(input), order(output)
	seen := map[string]bool{}
	for key, ids := range out {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("event %s enriched twice", id)
			}
			seen[id] = true
		}
		if !slices.Equal(ids, in[key]) {
			t.Fatalf("events of %s out of order or missing:\n in %v\nout %v", key, in[key], ids)
		}
	}
	if len(seen) != events {
		t.Errorf("%d distinct events enriched, want %d", len(seen), events)
	}
}

// eventID reads the event id of a raw or enriched message (an enriched event is a raw one
// with more fields).
func eventID(t *testing.T, v []byte) string {
	t.Helper()
	r, err := event.DecodeRaw(v)
	if err != nil {
		t.Fatalf("%v: %s", err, v)
	}
	return r.EventID
}
