package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// kafkaCluster is a Kafka cluster of the test's own: three nodes on loopback, each both broker
// and KRaft controller, started by deploy/kafka.sh with its state in a temporary directory.
// Clients use ports base+1 to base+3, controllers base+5 to base+7. Each test takes its own base:
// kafka-go's default transport, shared by the test process, keeps idle connections to the brokers
// it talked to, and a new cluster on the same ports answers a kept one with EOF.
type kafkaCluster struct {
	t    *testing.T
	base int
	envs [][]string
	dirs []string
}

const clusterNodes = 3

func startKafkaCluster(t *testing.T, base int) *kafkaCluster {
	t.Helper()
	// The nodes share the jars of the local broker (make servers resolves them) and one cluster id.
	jars := testenv.Local(t, "kafka", "jars")
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	id[0] &= 0x7f // an id starting with '-' would be read as an option by the storage tool
	var voters []string
	for n := 1; n <= clusterNodes; n++ {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", n, base+4+n))
	}
	c := &kafkaCluster{t: t, base: base}
	for n := 1; n <= clusterNodes; n++ {
		dir := t.TempDir()
		c.dirs = append(c.dirs, dir)
		c.envs = append(c.envs, append(os.Environ(), "SPAMGEO_LOCAL="+dir, "KAFKA_JARS="+jars,
			"KAFKA_NODE_ID="+strconv.Itoa(n), fmt.Sprintf("KAFKA_PORT=%d", base+n), fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", base+4+n),
			"KAFKA_QUORUM_VOTERS="+strings.Join(voters, ","), "KAFKA_CLUSTER_ID="+base64.RawURLEncoding.EncodeToString(id),
			"KAFKA_REPLICATION=3", "KAFKA_HEAP=384m"))
	}
	runScript(t, c.envs[0], "kafka.sh", "jars")
	// The cluster's data is thrown away: killing is quicker than two nodes' controlled shutdowns.
	t.Cleanup(func() {
		for n := 1; n <= clusterNodes; n++ {
			if err := c.kill(n); err != nil {
				t.Error(err)
			}
		}
	})
	// No node finishes starting before a majority of the controllers is up: start them together.
	if err := c.all("start"); err != nil {
		t.Fatal(err)
	}
	return c
}

// all runs deploy/kafka.sh action for every node at once.
func (c *kafkaCluster) all(action string) error {
	errs := make([]error, clusterNodes)
	script := testenv.Path(c.t, "deploy", "kafka.sh")
	var wg sync.WaitGroup
	for i := range clusterNodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(script, action)
			cmd.Env = c.envs[i]
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("kafka node %d %s: %v\n%s", i+1, action, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *kafkaCluster) brokers() []string {
	var out []string
	for n := 1; n <= clusterNodes; n++ {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", c.base+n))
	}
	return out
}

// pid is the process id of node n (1-based), or 0 when it is not running.
func (c *kafkaCluster) pid(n int) int {
	b, err := os.ReadFile(filepath.Join(c.dirs[n-1], "kafka", "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The recorded process must still be this node's broker, whose arguments name its directory.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), c.dirs[n-1]) {
		return 0
	}
	return pid
}

// kill kills node n with SIGKILL and waits until it is gone.
func (c *kafkaCluster) kill(n int) error {
	pid := c.pid(n)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	return testenv.Wait(10*time.Second, 50*time.Millisecond, fmt.Sprintf("kafka node %d (pid %d) to end after SIGKILL", n, pid),
		func() (bool, error) { return c.pid(n) == 0, nil })
}

// residentMiB is node n's peak resident memory so far.
func (c *kafkaCluster) residentMiB(n int) int {
	pid := c.pid(n)
	if pid == 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(b)) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return -1
}

// Scale-out on real servers, on a three-broker Kafka cluster (replication factor 3,
// min.insync.replicas 2) with 6-partition topics, three enricher and two sink processes, in two
// phases over one cluster start.
//
// Phase 1, exactly once: mid-run one enricher is stopped (SIGTERM) and one sink is killed
// (SIGKILL); then the enriched topic holds every event once, the events table and every rollup
// equal the ground truth exactly, and nothing was dead-lettered.
//
// Phase 2, exactly once through a broker's death: a replacement sink joins, more events are
// published while the stages run, and halfway through the broker coordinating the enrichers'
// group, which also leads a third of the partitions, is killed (SIGKILL). A writer whose request
// was in flight to the dying leader resends it (kafka-go has no idempotent producer), so the
// topics may hold copies; the test reports how many. Every event is then stored once (rows =
// distinct event ids = the ground truth per country: the sink skips the copies by event id),
// the rollups agree with the events table, and nothing was dead-lettered.
//
// SPAMGEO_SCALEOUT_EVENTS sets the events per phase (default 100,000). SPAMGEO_SCALEOUT_ENRICHER_SIGNAL=KILL
// stops the enricher of phase 1 with SIGKILL instead, to see what a crash between writing a batch
// and committing it duplicates.
func TestScaleOutOnThreeBrokers(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers and processes; make test sets SPAMGEO_INTEGRATION=1")
	}
	events := int64(100_000)
	if v := os.Getenv("SPAMGEO_SCALEOUT_EVENTS"); v != "" {
		events, _ = strconv.ParseInt(v, 10, 64)
	}
	stop := syscall.SIGTERM
	if os.Getenv("SPAMGEO_SCALEOUT_ENRICHER_SIGNAL") == "KILL" {
		stop = syscall.SIGKILL
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("events %d per phase, seed %d", events, seed)
	ctx := context.Background()
	began := time.Now()

	cluster := startKafkaCluster(t, 19190)
	t.Logf("three-node Kafka cluster started in %v", time.Since(began).Round(100*time.Millisecond))
	kcfg := kafka.DefaultConfiguration()
	kcfg.Brokers, kcfg.Partitions, kcfg.ReplicationFactor = cluster.brokers(), 6, 3
	chcfg, conn := testenv.MigratedClickHouse(t)
	country, asn := geoiptest.Files(t)
	// publish publishes events in the background and adds them to want; the channel says when
	// it is done. A test that ends first stops it.
	want := map[string]uint64{}
	publish := func(seed uint64) <-chan error {
		scfg := synth.DefaultConfiguration()
		scfg.Profile, scfg.Events, scfg.Seed, scfg.CountryDatabase = "sophos-2005-apr-sep", events, seed, country
		pctx, cancel := context.WithCancel(ctx)
		done, finished := make(chan error, 1), make(chan struct{})
		t.Cleanup(func() { cancel(); <-finished })
		go func() {
			defer close(finished)
			plan, err := synth.Run(pctx, scfg, synth.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
			if err == nil {
				for c, n := range groundTruth(plan) {
					want[c] += n
				}
			}
			done <- err
		}()
		return done
	}
	if err := <-publish(seed); err != nil {
		t.Fatal(err)
	}

	bin := testenv.BuildSpamgeo(t)
	common := slices.Concat([]string{"--log-format", "json"}, testenv.KafkaFlags(kcfg), testenv.ClickHouseFlags(chcfg))
	const enrichGroup, sinkGroup = "scaleout-enrich", "scaleout-sink"
	enrichArgs := append(slices.Clone(common), "enrich", "--metrics-listen", "", "--group", enrichGroup,
		"--geoip-country", country, "--geoip-asn", asn, "--batch-rows", "1000")
	sinkArgs := append(slices.Clone(common), "sink", "--metrics-listen", "", "--group", sinkGroup,
		"--batch-rows", "5000", "--batch-wait", "200ms")
	deadline := time.Now().Add(4 * time.Minute)
	procs := map[string]*process{}
	for _, name := range []string{"enrich-1", "enrich-2", "enrich-3"} {
		procs[name] = start(t, bin, enrichArgs...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range slices.Sorted(maps.Keys(procs)) {
				t.Logf("%s:\n%s", name, procs[name].tail())
			}
		}
	})
	w := &watch{t: t, kcfg: kcfg, conn: conn, enrichGroup: enrichGroup, sinkGroup: sinkGroup}
	waitFor := func(what string, done func(progress) bool) progress {
		t.Helper()
		var p progress
		testenv.Eventually(t, time.Until(deadline), 100*time.Millisecond, what, func() (bool, error) {
			p = w.now()
			return done(p), fmt.Errorf("%s", p)
		})
		return p
	}
	drained := func(total int64) func(progress) bool {
		return func(p progress) bool { return p.raw >= total && p.enrichLag == 0 && p.sinkLag == 0 }
	}

	// Phase 1.
	waitFor("a quarter enriched", func(p progress) bool { return p.enriched >= events/4 })
	_ = procs["enrich-1"].cmd.Process.Signal(stop)
	select {
	case err := <-procs["enrich-1"].done:
		if err != nil && stop == syscall.SIGTERM {
			t.Fatalf("enrich-1 did not stop cleanly: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("enrich-1 did not stop within a minute")
	}
	t.Logf("enrich-1 stopped (%v) at %s", stop, w.now())
	// The sinks start behind, so they have work in hand when sink-1 is killed: just after one of
	// its inserts landed, aiming at the moment before it commits the offsets.
	for _, name := range []string{"sink-1", "sink-2"} {
		procs[name] = start(t, bin, sinkArgs...)
	}
	waitFor("a fifth stored", func(p progress) bool { return p.stored >= events/5 })
	var ours []int
	before := storedOffsets(t, conn)
	for landed := false; !landed; {
		if time.Now().After(deadline) {
			t.Fatal("sink-1 stored nothing in time")
		}
		ours = assigned(procs["sink-1"])
		now := storedOffsets(t, conn)
		for _, part := range ours {
			landed = landed || now[part] > before[part]
		}
	}
	_ = procs["sink-1"].cmd.Process.Signal(syscall.SIGKILL)
	<-procs["sink-1"].done
	t.Logf("sink-1 (partitions %v) killed (SIGKILL) at %s", ours, w.now())
	p := waitFor("phase 1 stored", drained(events))
	t.Logf("phase 1 done in %v: %s; sink-2 skipped redelivered messages %d times", time.Since(began).Round(100*time.Millisecond), p,
		procs["sink-2"].logged("skipped messages already stored"))
	checkExact(t, conn, want, events)
	if n := testenv.TopicCount(t, kcfg, kcfg.EnrichedTopic); n != events {
		t.Errorf("phase 1: the enriched topic holds %d messages, want %d", n, events)
	}

	// Phase 2.
	procs["sink-3"] = start(t, bin, sinkArgs...)
	second := publish(seed + 1)
	waitFor("half of phase 2 published", func(p progress) bool { return p.raw >= events+events/2 })
	victim := coordinator(t, kcfg, enrichGroup)
	waitForOffsetsReplicas(t, kcfg, victim)
	t.Logf("killing broker %d, coordinator of %s (of %s: broker %d), at %s", victim, enrichGroup, sinkGroup, coordinator(t, kcfg, sinkGroup), w.now())
	rss := make([]int, clusterNodes)
	for n := range rss {
		rss[n] = cluster.residentMiB(n + 1)
	}
	killed := time.Now()
	if err := cluster.kill(victim); err != nil {
		t.Fatal(err)
	}
	var published bool
	p = waitFor("phase 2 stored", func(p progress) bool {
		select {
		case err := <-second:
			if err != nil {
				t.Fatal(err)
			}
			published = true
		default:
		}
		return published && drained(2*events)(p)
	})
	t.Logf("phase 2 drained %v after the broker was killed (%s); no enriched event for %v, none stored for %v; the brokers' peak resident memory before: %v MiB",
		time.Since(killed).Round(100*time.Millisecond), p,
		w.stall(killed, func(p progress) int64 { return p.enriched }, func(p progress) bool { return p.enrichLag != 0 }),
		w.stall(killed, func(p progress) int64 { return p.stored }, func(p progress) bool { return p.sinkLag != 0 }), rss)
	w.report(killed)
	for _, name := range []string{"enrich-2", "enrich-3", "sink-2", "sink-3"} {
		_ = procs[name].cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-procs[name].done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s did not stop within a minute of SIGTERM", name)
		}
	}

	if got := testenv.Counts(t, conn, "SELECT country_code, uniqExact(event_id) FROM events GROUP BY country_code"); !maps.Equal(got, want) {
		t.Errorf("distinct events stored per country\n got %v\nwant %v", got, want)
	}
	raw, enriched := testenv.TopicCount(t, kcfg, kcfg.RawTopic), testenv.TopicCount(t, kcfg, kcfg.EnrichedTopic)
	var rows, ids uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(2*events) || ids != rows {
		t.Errorf("the enriched topic holds %d messages of %d events; the events table %d rows of %d distinct ids: want each event stored once", enriched, 2*events, rows, ids)
	}
	stored := testenv.Counts(t, conn, "SELECT country_code, count() FROM events GROUP BY country_code")
	for _, q := range rollups {
		if got := testenv.Counts(t, conn, q); !maps.Equal(got, stored) {
			t.Errorf("%s\n got %v\nwant %v (the events table)", q, got, stored)
		}
	}
	if n := testenv.TopicCount(t, kcfg, kcfg.DLQTopic); n != 0 {
		t.Errorf("the dead-letter topic holds %d messages, want none", n)
	}
	uncommitted := 0
	for _, name := range []string{"enrich-2", "enrich-3"} {
		uncommitted += procs[name].logged("could not be committed in time")
	}
	if !t.Failed() {
		fmt.Fprintf(os.Stderr, "scale-out test: %d events through 3 enrichers and 2 sinks on 3 brokers, one of each stopped: exact; "+
			"broker %d killed: nothing lost, %d copies in the topics (%d resent by the producer, %d by the enrichers, %d uncommitted batches), none stored; %v\n",
			2*events, victim, enriched-2*events, raw-2*events, enriched-raw, uncommitted, time.Since(began).Round(time.Second))
	}
}

// assigned is the partitions a consumer process was last assigned, from its log.
func assigned(p *process) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range slices.Backward(p.log) {
		var rec struct {
			Msg        string
			Partitions []int
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "partitions assigned" {
			return rec.Partitions
		}
	}
	return nil
}

// storedOffsets is the highest offset the events table holds per partition.
func storedOffsets(t *testing.T, conn clickhousedb.Conn) map[int]int64 {
	t.Helper()
	rs, err := conn.Query(context.Background(), "SELECT kafka_partition, maxMerge(kafka_offset) FROM ingest_offsets GROUP BY kafka_partition")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int]int64{}
	for rs.Next() {
		var part uint32
		var off int64
		if err := rs.Scan(&part, &off); err != nil {
			t.Fatal(err)
		}
		out[int(part)] = off
	}
	return out
}

var rollups = []string{
	"SELECT country_code, countMerge(messages) FROM rollup_country_minute GROUP BY country_code",
	"SELECT country_code, countMerge(messages) FROM rollup_country_hour GROUP BY country_code",
	"SELECT country_code, countMerge(messages) FROM rollup_country_day GROUP BY country_code",
	"SELECT country_code, countMerge(messages) FROM rollup_asn_hour GROUP BY country_code",
	"SELECT country_code, countMerge(messages) FROM rollup_asn_day GROUP BY country_code",
	"SELECT country_code, sum(messages) FROM daily_country GROUP BY country_code",
}

// checkExact fails unless the events table holds events distinct events and it and every
// rollup count want per country.
func checkExact(t *testing.T, conn clickhousedb.Conn, want map[string]uint64, events int64) {
	t.Helper()
	var rows, ids uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(events) || ids != uint64(events) {
		t.Errorf("events table: %d rows, %d distinct ids; want %d of each", rows, ids, events)
	}
	for _, q := range append([]string{"SELECT country_code, count() FROM events GROUP BY country_code"}, rollups...) {
		if got := testenv.Counts(t, conn, q); !maps.Equal(got, want) {
			t.Errorf("%s\n got %v\nwant %v", q, got, want)
		}
	}
}

// waitForOffsetsReplicas waits until every partition of __consumer_offsets that node leads has
// all its replicas in sync. A broker killed while it is alone in a partition's ISR (its
// followers fell behind under this test's load) leaves that partition, and the groups it
// coordinates, without a leader until it returns: Kafka's design, not a client's failover to
// test.
func waitForOffsetsReplicas(t *testing.T, kcfg kafka.Configuration, node int) {
	t.Helper()
	cl := &kafkago.Client{Addr: kafkago.TCP(kcfg.Brokers...)}
	start := time.Now()
	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, fmt.Sprintf("the followers of broker %d's __consumer_offsets partitions", node), func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		meta, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{"__consumer_offsets"}})
		cancel()
		behind := -1
		if err == nil && len(meta.Topics) == 1 {
			behind = 0
			for _, p := range meta.Topics[0].Partitions {
				if p.Leader.ID == node && len(p.Isr) < len(p.Replicas) {
					behind++
				}
			}
		}
		return behind == 0, fmt.Errorf("%d partitions still lack in-sync followers (%v)", behind, err)
	})
	if d := time.Since(start); d > time.Second {
		t.Logf("waited %s for the followers of broker %d's __consumer_offsets partitions to catch up", d.Round(time.Second), node)
	}
}

// coordinator is the node id of the broker coordinating group.
func coordinator(t *testing.T, kcfg kafka.Configuration, group string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(kcfg.Brokers...)}
	resp, err := cl.FindCoordinator(ctx, &kafkago.FindCoordinatorRequest{Key: group, KeyType: kafkago.CoordinatorKeyTypeConsumer})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	return resp.Coordinator.NodeID
}

// progress is the pipeline's state at one moment; a value the cluster could not tell (a broker
// just died) is -1.
type progress struct {
	at                                        time.Time
	raw, enriched, enrichLag, sinkLag, stored int64
}

func (p progress) String() string {
	return fmt.Sprintf("published %d, enriched %d, enrich lag %d, sink lag %d, stored %d", p.raw, p.enriched, p.enrichLag, p.sinkLag, p.stored)
}

// watch samples the pipeline's progress.
type watch struct {
	t                      *testing.T
	kcfg                   kafka.Configuration
	conn                   clickhousedb.Conn
	enrichGroup, sinkGroup string
	samples                []progress
}

func (w *watch) now() progress {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p := progress{at: time.Now(), raw: -1, enriched: -1, enrichLag: -1, sinkLag: -1, stored: -1}
	if n, err := w.kcfg.Lag(ctx, "never-committed", w.kcfg.RawTopic); err == nil {
		p.raw = n
	}
	if n, err := w.kcfg.Lag(ctx, "never-committed", w.kcfg.EnrichedTopic); err == nil {
		p.enriched = n
	}
	if n, err := w.kcfg.Lag(ctx, w.enrichGroup, w.kcfg.RawTopic); err == nil {
		p.enrichLag = n
	}
	if n, err := w.kcfg.Lag(ctx, w.sinkGroup, w.kcfg.EnrichedTopic); err == nil {
		p.sinkLag = n
	}
	var stored uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&stored); err == nil {
		p.stored = int64(stored)
	}
	w.samples = append(w.samples, p)
	return p
}

// report logs the samples taken since from, one a second.
func (w *watch) report(from time.Time) {
	var last time.Time
	for _, p := range w.samples {
		if p.at.Before(from.Add(-2*time.Second)) || p.at.Sub(last) < time.Second {
			continue
		}
		last = p.at
		w.t.Logf("%+6.1fs %s", p.at.Sub(from).Seconds(), p)
	}
}

// stall is the longest time after from that value (-1: unknown) did not grow while pending
// said there was work.
func (w *watch) stall(from time.Time, value func(progress) int64, pending func(progress) bool) time.Duration {
	var longest time.Duration
	since, last := from, int64(-1)
	for _, p := range w.samples {
		v := value(p)
		switch {
		case p.at.Before(from):
			last = v
		case !pending(p):
			since, last = p.at, v
		case v >= 0 && v != last:
			longest = max(longest, p.at.Sub(since))
			since, last = p.at, v
		}
	}
	return longest
}
