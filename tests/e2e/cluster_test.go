package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/consumers/sink"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/storage/addressspace"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// Cluster mode on real servers: ZooKeeper and two ClickHouse servers, one shard each, on
// loopback. The schema is migrated with ON CLUSTER DDL (starting from version 1, with data, so
// the per-shard backfills run); two sinks in one consumer group write to the two servers'
// local tables; the Distributed tables then answer for the whole cluster, exactly.
func TestClusterOnRealServers(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers; make test sets SPAMGEO_INTEGRATION=1")
	}
	ctx := context.Background()
	zkEnv := append(os.Environ(), "SPAMGEO_LOCAL="+t.TempDir(), "ZOOKEEPER_PORT=12181")
	runScript(t, zkEnv, "zookeeper.sh", "start")
	t.Cleanup(func() { runScript(t, zkEnv, "zookeeper.sh", "stop") })
	clusterEnv := []string{"CLICKHOUSE_ZOOKEEPER=127.0.0.1:12181", "CLICKHOUSE_CLUSTER=spamgeo_e2e",
		"CLICKHOUSE_CLUSTER_SHARDS=127.0.0.1:19401 127.0.0.1:19402"}
	nodes := []*privateClickHouse{
		startPrivateClickHouse(t, 19401, append(clusterEnv, "CLICKHOUSE_MACROS=shard=01 replica=a")...),
		startPrivateClickHouse(t, 19402, append(clusterEnv, "CLICKHOUSE_MACROS=shard=02 replica=a")...),
	}
	cfgs := make([]clickhousedb.Configuration, len(nodes))
	conns := make([]clickhousedb.Conn, len(nodes))
	for i, n := range nodes {
		cfgs[i] = n.cfg
		cfgs[i].Cluster = "spamgeo_e2e"
	}

	// Version 1 first, with rows on both shards, then the rest.
	m := migrations.New(cfgs[0], testenv.Logger(t))
	if _, err := m.ApplyUpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		var err error
		if conns[i], err = cfgs[i].Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
		b, err := conns[i].PrepareBatch(ctx, "INSERT INTO events_local (event_id, received_at, trap_id, country_code, source_ip, size)")
		if err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			if err := b.Append(uuid.New(), time.Date(2004, 6, 1+j, 0, 0, 0, 0, time.UTC), "t", "BR", string(make([]byte, 16)), uint32(10)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	// The shared ledger reaches the other server by replication, within moments.
	for i := range nodes {
		if err := testenv.Wait(30*time.Second, 200*time.Millisecond, "the replicated ledger", func() (bool, error) {
			err := migrations.RequireCurrent(ctx, conns[i])
			return err == nil, err
		}); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}

	// Two sinks, one per server, share the enriched topic; the events arrive once both have
	// joined the group, so each server receives some.
	kcfg := testenv.Kafka(t)
	group := "cluster-" + testenv.Suffix()
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range nodes {
		cfg := sink.DefaultConfiguration()
		cfg.Group, cfg.Table, cfg.Batch.MaxMessages = group, cfgs[i].EventsTable(), 500
		s, err := sink.New(cfg, sink.Dependencies{Kafka: kcfg, ClickHouse: conns[i], Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lifecycle.Run(sctx, s); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(8 * time.Second)
	w := kcfg.Writer(kcfg.EnrichedTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	const n = 6000
	var msgs []kafka.Message
	for i := range n {
		e := event.Enriched{Raw: event.Raw{SchemaVersion: 1, EventID: uuid.NewSHA1(uuid.Nil, fmt.Appendf(nil, "%d", i)).String(),
			ReceivedAt: time.Date(2005, 4, 1+i%30, 0, 0, 0, 0, time.UTC), TrapID: "t", Collector: event.CollectorSynth,
			SourceIP: netip.AddrFrom4([4]byte{30, byte(i >> 16), byte(i >> 8), byte(i)}), RcptCount: 1, Size: 100},
			Geo: event.Geo{CountryCode: []string{"US", "CN", "KR"}[i%3], GeoIPBuild: "c; a"}}
		v, _ := event.EncodeEnriched(&e)
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: v})
	}
	if err := kafka.Deliver(ctx, w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	_ = testenv.Wait(time.Minute, 200*time.Millisecond, "the sinks to store the events", func() (bool, error) { // counted below
		var stored uint64
		err := conns[0].QueryRow(ctx, "SELECT count() FROM events").Scan(&stored)
		return err == nil && stored >= n+20, nil
	})
	stop()
	wg.Wait()

	count := func(conn clickhousedb.Conn, q string) uint64 {
		var v uint64
		if err := conn.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	const fromKafka = "SELECT count() FROM events_local WHERE kafka_offset >= 0"
	local := []uint64{count(conns[0], fromKafka), count(conns[1], fromKafka)}
	t.Logf("rows from Kafka per shard: %v", local)
	if local[0]+local[1] != n || local[0] == 0 || local[1] == 0 {
		t.Errorf("shards hold %v rows from Kafka, want %d split over both", local, n)
	}
	for i, conn := range conns {
		for _, q := range []string{"SELECT count() FROM events", "SELECT countMerge(messages) FROM rollup_country_minute",
			"SELECT countMerge(messages) FROM rollup_country_day", "SELECT countMerge(messages) FROM rollup_asn_hour",
			"SELECT sum(messages) FROM daily_country"} {
			if got := count(conn, q); got != n+20 {
				t.Errorf("node %d: %s = %d, want %d", i+1, q, got, n+20)
			}
		}
		if got := count(conn, "SELECT toUInt64(sum(m + 1)) FROM (SELECT maxMerge(kafka_offset) AS m FROM ingest_offsets GROUP BY kafka_partition)"); got != n {
			t.Errorf("node %d: ingest_offsets cover %d messages, want %d", i+1, got, n)
		}
	}
	p, _ := period.Days(time.Date(2005, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2005, 4, 30, 0, 0, 0, 0, time.UTC))
	counts, err := query.NewReader(conns[1]).Counts(ctx, query.Request{Period: p, Grouping: query.ByCountry})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts.Groups) != 3 || counts.Groups[0].Messages != n/3 || counts.Total.Messages != n {
		t.Errorf("report query over the cluster = %+v", counts)
	}

	// The address space of build c stored twice, one copy on each shard (two enrichers writing
	// through the Distributed table can leave them so; FINAL merges within a server only): each
	// country's space counts once.
	space := []geoip.BuildSpace{{Build: "c", Kind: "country", Spaces: map[string]geoip.Space{"US": {IPv4: 1 << 16}, "CN": {IPv4: 1 << 16}, "KR": {IPv4: 1 << 16}}}}
	for i, conn := range conns {
		if err := addressspace.Store(ctx, &localTable{conn}, space, time.Now().Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := query.NewReader(conns[0]).AddressDensity(ctx, p, query.ByCountry)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range d.Groups {
		if g.IPv4Space != 1<<16 || g.IPv4Sources != n/3 {
			t.Errorf("address density over the cluster: %s has %d sources in %d addresses, want %d in 65536", g.Key, g.IPv4Sources, g.IPv4Space, n/3)
		}
	}
}

// localTable sends the inserts of addressspace.Store to a server's local table.
type localTable struct{ clickhousedb.Conn }

func (c *localTable) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	return c.Conn.PrepareBatch(ctx, strings.Replace(query, "INSERT INTO address_space ", "INSERT INTO address_space_local ", 1), opts...)
}
