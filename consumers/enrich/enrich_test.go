package enrich

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// newEnricher builds the enricher's in-process part (no Kafka) over the given GeoIP files.
func newEnricher(tb testing.TB, cfg geoip.Configuration) *Enricher {
	tb.Helper()
	reg := prometheus.NewRegistry()
	geo, err := geoip.NewReloader(cfg, time.Hour, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Skipf("GeoIP files unavailable: %v", err)
	}
	tb.Cleanup(geo.Close)
	return &Enricher{geo: geo, metrics: newMetrics(reg),
		dlq: kafka.NewDeadLetterQueue(kafka.DefaultConfiguration(), Stage, reg, slog.New(slog.DiscardHandler))}
}

// rawBatch synthesizes n raw events from the networks of a country database.
func rawBatch(tb testing.TB, countryDB string, n int) []kafka.Message {
	tb.Helper()
	p, _ := synth.LoadProfile("sophos-2005-apr-sep")
	networks, err := geoip.CountryNetworks(countryDB, false)
	if err != nil {
		tb.Fatal(err)
	}
	plan, err := synth.NewPlan(p, int64(n), slices.Collect(maps.Keys(networks)), 1)
	if err != nil {
		tb.Fatal(err)
	}
	gen, _ := synth.NewGenerator(p, plan, networks, 1, "bench")
	var out []kafka.Message
	for e := range gen.Events() {
		v, _ := event.EncodeRaw(&e)
		out = append(out, kafka.Message{Key: []byte(e.SourceIP.String()), Value: v, Partition: 1, Offset: int64(len(out))})
	}
	return out
}

func TestEnrichBatch(t *testing.T) {
	country, asn := geoiptest.Files(t)
	e := newEnricher(t, geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}})
	batch := rawBatch(t, country, 500)
	private, _ := event.EncodeRaw(&event.Raw{SchemaVersion: 1, EventID: "6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60",
		ReceivedAt: time.Date(2005, 5, 1, 0, 0, 0, 0, time.UTC), TrapID: "t", Collector: "trap",
		SourceIP: netip.MustParseAddr("192.168.7.7")})
	batch = append(batch, kafka.Message{Value: []byte("garbage")}, kafka.Message{Value: private})
	out, dead := e.Enrich(batch)
	if len(out) != 501 || len(dead) != 1 || !strings.Contains(kafka.HeaderValue(dead[0], "spamgeo.reason"), "not an event") {
		t.Fatalf("%d enriched, %d dead letters", len(out), len(dead))
	}
	for i, m := range out[:500] {
		got, err := event.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatalf("event %d: %v: %s", i, err, m.Value)
		}
		raw, _ := event.DecodeRaw(batch[i].Value)
		if got.Raw != raw || got.CountryCode == "ZZ" || got.AddressClass != "public" || got.ASN == 0 || string(m.Key) != string(batch[i].Key) {
			t.Fatalf("event %d enriched as %+v from %+v", i, got, raw)
		}
	}
	last, _ := event.DecodeEnriched(out[500].Value)
	if last.CountryCode != "XR" || last.AddressClass != "private" || last.ASN != 0 {
		t.Errorf("private source enriched as %+v", last.Geo)
	}
}

// BenchmarkEnrich is the enricher's in-process work per event: decode, look up, encode.
func BenchmarkEnrich(b *testing.B) {
	country, asn := geoiptest.Files(b)
	real := testenv.Local(b)
	for _, tc := range []struct {
		name string
		cfg  geoip.Configuration
	}{
		{"test-world-geoip2+asn.mmdb", geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}}},
		{"dbip-country+asn-csv", geoip.Configuration{CountryDatabase: filepath.Join(real, "geoip/dbip-country.mmdb"),
			ASNDatabases: []string{filepath.Join(real, "geoip/asn-ipv4.csv"), filepath.Join(real, "geoip/asn-ipv6.csv")}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnricher(b, tc.cfg)
			batch := rawBatch(b, tc.cfg.CountryDatabase, 5000)
			e.Enrich(batch) // warm the record caches
			b.ResetTimer()
			events := 0
			for b.Loop() {
				out, dead := e.Enrich(batch)
				if len(dead) != 0 {
					b.Fatalf("%d dead letters", len(dead))
				}
				events += len(out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkLookupRealDBIP(b *testing.B) {
	real := testenv.Local(b, "geoip") + "/"
	db, err := geoip.Open(geoip.Configuration{CountryDatabase: real + "dbip-country.mmdb",
		ASNDatabases: []string{real + "asn-ipv4.csv", real + "asn-ipv6.csv"}})
	if err != nil {
		b.Skip(err)
	}
	defer db.Close()
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(1 + i%200), byte(i * 7), byte(i * 13), byte(i)})
	}
	i := 0
	for b.Loop() {
		if _, err := db.Lookup(addrs[i%len(addrs)], time.Time{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Issue 18, findings 8 and 9 at the enricher: fe80::1%eth0 was enriched public/ZZ, a size of
// 2^63-1 and an unknown collector went on to the sink. They are dead-lettered with the reason,
// and a link-local source (as collectors write it, without zone) is link-local, country XR.
func TestEnrichRefusesEventsTheTableCannotHold(t *testing.T) {
	country, asn := geoiptest.Files(t)
	e := newEnricher(t, geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}})
	base := event.Raw{SchemaVersion: 1, EventID: "6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60",
		ReceivedAt: time.Date(2005, 5, 1, 0, 0, 0, 0, time.UTC), TrapID: "t", Collector: event.CollectorTrap,
		SourceIP: netip.MustParseAddr("fe80::1"), Size: 100}
	var batch []kafka.Message
	for _, change := range []func(r *event.Raw){
		func(r *event.Raw) {},
		func(r *event.Raw) { r.SourceIP = netip.MustParseAddr("fe80::1%eth0") },
		func(r *event.Raw) { r.SourceIP = netip.MustParseAddr("2a00:1::1%eth0") },
		func(r *event.Raw) { r.Size = math.MaxInt64 },
		func(r *event.Raw) { r.Collector = "mx" },
	} {
		r := base
		change(&r)
		v, _ := event.EncodeRaw(&r)
		batch = append(batch, kafka.Message{Value: v, Offset: int64(len(batch))})
	}
	out, dead := e.Enrich(batch)
	if len(out) != 1 || len(dead) != 4 {
		t.Fatalf("%d enriched, %d dead letters; want 1 and 4", len(out), len(dead))
	}
	got, err := event.DecodeEnriched(out[0].Value)
	if err != nil || got.AddressClass != "link-local" || got.CountryCode != "XR" {
		t.Errorf("fe80::1 enriched as %+v (%v), want link-local XR", got.Geo, err)
	}
	for i, want := range []string{"fe80::1%eth0 has a zone", "2a00:1::1%eth0 has a zone", "size 9223372036854775807 is outside", `collector "mx"`} {
		if reason := kafka.HeaderValue(dead[i], "spamgeo.reason"); !strings.Contains(reason, want) {
			t.Errorf("dead letter %d: reason %q, want %q", i, reason, want)
		}
	}
}

// Issue 18, finding 1 at the enricher: a raw message larger than the dead-letter topic takes
// was refused by the broker on every attempt, and the enricher retried that batch forever,
// enriching nothing new; once restarted it published the batch's events again. Now the message
// is dead-lettered as a stub, the topic drains, and every event is enriched exactly once.
func TestOversizedMessageDoesNotBlockEnricherOnRealBroker(t *testing.T) {
	kcfg := testenv.Kafka(t)
	kcfg.DLQTopic += ".small"
	testenv.CreateTopic(t, kcfg, kcfg.DLQTopic, map[string]string{"max.message.bytes": "4096"})
	country, asn := geoiptest.Files(t)
	batch := rawBatch(t, country, 1000)
	huge := kafka.Message{Key: batch[0].Key, Value: bytes.Repeat([]byte("x"), 300<<10),
		Headers: []kafka.Header{{Key: "origin", Value: []byte("attacker")}}}
	msgs := slices.Concat(batch[:500], []kafka.Message{huge}, batch[500:])
	for i := range msgs {
		msgs[i].Partition, msgs[i].Offset = 0, 0
	}
	w := kcfg.Writer(kcfg.RawTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Group, cfg.Drain = "enrich-"+testenv.Suffix(), true
	cfg.GeoIP = geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}}
	reg := prometheus.NewRegistry()
	e, err := New(cfg, Dependencies{Kafka: kcfg, Registry: reg, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lifecycle.Run(ctx, e); err != nil || ctx.Err() != nil {
		t.Fatalf("the enricher did not drain the raw topic: %v, %v (stuck on: %v)", err, ctx.Err(), e.Healthy())
	}
	ids := map[string]int{}
	for _, m := range testenv.ReadAll(t, kcfg, kcfg.EnrichedTopic, 1000) {
		got, err := event.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids[got.EventID]++
	}
	if len(ids) != 1000 {
		t.Errorf("%d distinct events enriched, want 1000", len(ids))
	}
	dead := testenv.ReadAll(t, kcfg, kcfg.DLQTopic, 1)[0]
	if kafka.HeaderValue(dead, "spamgeo.stub") != "refused" || kafka.HeaderValue(dead, "spamgeo.size") != "307200" ||
		kafka.HeaderValue(dead, "spamgeo.topic") != kcfg.RawTopic || kafka.HeaderValue(dead, "spamgeo.offset") == "" ||
		!strings.Contains(kafka.HeaderValue(dead, "spamgeo.reason"), "exceeds") || kafka.HeaderValue(dead, "origin") != "attacker" ||
		len(dead.Value) != 1<<10 || !bytes.Equal(dead.Value, huge.Value[:1<<10]) {
		t.Errorf("dead letter: headers %v, %d value bytes", dead.Headers, len(dead.Value))
	}
	if e.Healthy() != nil {
		t.Errorf("unhealthy after draining: %v", e.Healthy())
	}
}
