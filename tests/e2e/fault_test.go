// Package e2e holds tests that run spamgeo as separate processes against the real servers and
// break things on purpose: kill -9, servers stopped mid-stream.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
	"github.com/spamgeo/spamgeo/producers/trap/traptest"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// privateClickHouse starts a ClickHouse server of this test's own (on other ports, state in a
// temporary directory), so the test can stop and restart it without disturbing other tests.
type privateClickHouse struct {
	t   *testing.T
	env []string
	cfg clickhousedb.Configuration
}

func startPrivateClickHouse(t *testing.T, tcpPort int, env ...string) *privateClickHouse {
	ch := &privateClickHouse{t: t, env: append(append(os.Environ(), "SPAMGEO_LOCAL="+t.TempDir(),
		fmt.Sprintf("CLICKHOUSE_TCP_PORT=%d", tcpPort), fmt.Sprintf("CLICKHOUSE_HTTP_PORT=%d", tcpPort+10),
		fmt.Sprintf("CLICKHOUSE_INTERSERVER_PORT=%d", tcpPort+20)), env...)}
	ch.cfg = clickhousedb.DefaultConfiguration()
	ch.cfg.Addrs = []string{fmt.Sprintf("127.0.0.1:%d", tcpPort)}
	ch.cfg.Database = "spamgeo_e2e"
	ch.script("start")
	t.Cleanup(func() { ch.script("stop") })
	return ch
}

// kill9 kills the server with SIGKILL, as a power loss would, and waits until it is gone.
func (ch *privateClickHouse) kill9() {
	ch.t.Helper()
	local := ""
	for _, e := range ch.env {
		if v, ok := strings.CutPrefix(e, "SPAMGEO_LOCAL="); ok {
			local = v
		}
	}
	b, err := os.ReadFile(filepath.Join(local, "clickhouse", "clickhouse.pid"))
	if err != nil {
		ch.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		ch.t.Fatal(err)
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

func (ch *privateClickHouse) script(action string) {
	ch.t.Helper()
	runScript(ch.t, ch.env, "clickhouse.sh", action)
}

func runScript(t *testing.T, env []string, script, action string) {
	t.Helper()
	cmd := exec.Command(testenv.Path(t, "deploy", script), action)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, action, err, out)
	}
}

// process is a spamgeo command running as a child, its log lines collected. One still running
// when the test ends is killed.
type process struct {
	cmd    *exec.Cmd
	done   chan error
	exited chan struct{}
	mu     sync.Mutex
	log    []string
}

func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan error, 1), exited: make(chan struct{})}
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
		}
		p.done <- p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *process) logged(substr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.log {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (p *process) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log[max(0, len(p.log)-15):], "\n")
}

// chaosSize is the size of the chaos test: make test's by default, make soak's from the
// environment (SPAMGEO_CHAOS_EVENTS, _TRAP_MESSAGES, _ENRICH_KILLS, _SINK_KILLS, _TRAP_KILLS,
// _CLICKHOUSE_KILLS).
type chaosSize struct {
	events                                             int64 // synthetic events published before the stages start
	trapMessages                                       int   // about how many messages the trap accepts from smtp-source meanwhile
	enrichKills, sinkKills, trapKills, clickhouseKills int
}

func chaosSizeFromEnv() chaosSize {
	c := chaosSize{events: 300_000, trapMessages: 10_000, enrichKills: 4, sinkKills: 6, trapKills: 3}
	if n, err := strconv.ParseInt(os.Getenv("SPAMGEO_CHAOS_EVENTS"), 10, 64); err == nil {
		c.events = n
	}
	for name, v := range map[string]*int{"TRAP_MESSAGES": &c.trapMessages, "ENRICH_KILLS": &c.enrichKills,
		"SINK_KILLS": &c.sinkKills, "TRAP_KILLS": &c.trapKills, "CLICKHOUSE_KILLS": &c.clickhouseKills} {
		if n, err := strconv.Atoi(os.Getenv("SPAMGEO_CHAOS_" + name)); err == nil {
			*v = n
		}
	}
	return c
}

// The delivery guarantee under chaos, every stage a separate process on real servers: a
// three-broker Kafka cluster (replication 3), a ClickHouse of the test's own, synthetic events
// with known counts, a share of them published twice as timed-out trap hand-offs are, and a trap
// fed by Postfix's smtp-source. The trap is killed (SIGKILL) under load and started again on its
// spool; each enricher is killed once it has published (at once, aiming between publishing a batch
// and committing it, or a moment later); the broker coordinating the enrichers is killed while
// they and the trap publish; each sink is killed once an insert landed (at once, aiming between
// the insert and its commit, or later); ClickHouse is stopped and started under a sink, and with
// SPAMGEO_CHAOS_CLICKHOUSE_KILLS also killed (kill -9) the moment an insert's block lands in
// events, before its views are written. Afterwards the events table holds every event once (rows
// = distinct ids = the ground truth per country, and every message the trap accepted), every
// rollup agrees, and spamgeo verify agrees, after a spamgeo repair where ClickHouse was killed.
func TestChaosOnRealServers(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers and processes; make test sets SPAMGEO_INTEGRATION=1")
	}
	size := chaosSizeFromEnv()
	seed := uint64(time.Now().UnixNano())
	t.Logf("%+v, seed %d", size, seed)
	ctx := context.Background()
	began := time.Now()
	// Random delays before kills, one stream per goroutine; they grow with the size, so that a
	// soak's kills spread over its run.
	delays := func(stream uint64) func(time.Duration) time.Duration {
		rng := rand.New(rand.NewPCG(seed, stream))
		return func(most time.Duration) time.Duration {
			return time.Duration(rng.Int64N(int64(most) * max(1, size.events/300_000)))
		}
	}
	delay := delays(1)

	cluster := startKafkaCluster(t, 19390)
	kcfg := kafka.DefaultConfiguration()
	kcfg.Brokers, kcfg.Partitions, kcfg.ReplicationFactor = cluster.brokers(), 6, 3
	ch := startPrivateClickHouse(t, 19300)
	if _, err := migrations.New(ch.cfg, testenv.Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	bin := testenv.BuildSpamgeo(t)
	country, asn := geoiptest.Files(t)
	common := slices.Concat([]string{"--log-format", "json"}, testenv.KafkaFlags(kcfg), testenv.ClickHouseFlags(ch.cfg))

	scfg := synth.DefaultConfiguration()
	scfg.Profile, scfg.Events, scfg.Seed, scfg.CountryDatabase = "sophos-2005-apr-sep", size.events, seed, country
	plan, err := synth.Run(ctx, scfg, synth.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := groundTruth(plan)
	handOffCopies := republish(t, kcfg, size.events/20)
	t.Logf("%d events and %d copies published in %v", size.events, handOffCopies, time.Since(began).Round(time.Second))

	trapArgs := append(slices.Clone(common), "--log-level", "debug", "trap", "--listen", "127.0.0.1:19325", "--metrics-listen", "",
		"--trap-id", "chaos-trap", "--spool-dir", t.TempDir(), "--handoff-timeout", "1s")
	traps := trapUnderLoad(t, bin, trapArgs, size.trapMessages, size.trapKills, delays(2))

	enrichGroup, sinkGroup := "chaos-enrich-"+testenv.Suffix(), "chaos-sink-"+testenv.Suffix()
	enrichArgs := append(slices.Clone(common), "enrich", "--metrics-listen", "", "--batch-rows", "2000",
		"--geoip-country", country, "--geoip-asn", asn, "--group", enrichGroup)
	sinkArgs := append(slices.Clone(common), "sink", "--metrics-listen", "", "--group", sinkGroup,
		"--batch-rows", "3000", "--batch-wait", "200ms")

	enrichedNow := func() int64 { return topicCount(t, kcfg, kcfg.EnrichedTopic) }
	deadline := time.Now().Add(4 * time.Minute * time.Duration(max(1, size.events/300_000)))
	overran := func(what string) {
		if time.Now().After(deadline) {
			t.Fatalf("%s overran its time bound", what)
		}
	}
	victim := 0
	for kill := 0; kill < size.enrichKills; kill++ {
		before := enrichedNow()
		p := start(t, bin, enrichArgs...)
		for enrichedNow() == before {
			overran("the enricher phase")
			time.Sleep(20 * time.Millisecond)
		}
		if kill == size.enrichKills/2 {
			// The broker coordinating the enrichers, also the leader of a third of the partitions
			// the enricher and the trap write to.
			victim = coordinator(t, kcfg, enrichGroup)
			if err := cluster.kill(victim); err != nil {
				t.Fatal(err)
			}
			t.Logf("broker %d killed under the enricher and the trap", victim)
		}
		if kill%2 == 1 {
			time.Sleep(delay(300 * time.Millisecond))
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	if err := <-traps.done; err != nil {
		t.Fatal(err)
	}
	enricher := start(t, bin, append(enrichArgs, "--drain")...)

	watch, err := ch.cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	stored := func() uint64 {
		var n uint64
		_ = watch.QueryRow(ctx, "SELECT count() FROM events").Scan(&n)
		return n
	}
	var sinks []*process
	clickhouseKills := 0
	for kill := 0; kill < size.sinkKills; kill++ {
		before := stored()
		p := start(t, bin, sinkArgs...)
		sinks = append(sinks, p)
		for stored() == before {
			overran("the sink phase")
			time.Sleep(time.Millisecond)
		}
		switch {
		case kill == 2:
			// ClickHouse goes away under a running sink and comes back.
			ch.script("stop")
			time.Sleep(2 * time.Second)
			ch.script("start")
		case clickhouseKills < size.clickhouseKills && kill%2 == 0:
			// ClickHouse dies the moment an insert's block is in events, while its views are
			// being written.
			for now := stored(); stored() == now; time.Sleep(time.Millisecond) {
				overran("the sink phase")
			}
			ch.kill9()
			clickhouseKills++
			ch.script("start")
		}
		if kill%2 == 1 {
			time.Sleep(delay(1500 * time.Millisecond))
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	if err := <-enricher.done; err != nil {
		t.Fatalf("enricher: %v\n%s", err, enricher.tail())
	}
	last := start(t, bin, append(sinkArgs, "--drain")...)
	sinks = append(sinks, last)
	select {
	case err := <-last.done:
		if err != nil {
			t.Fatalf("final sink: %v\n%s", err, last.tail())
		}
	case <-time.After(5 * time.Minute * time.Duration(max(1, size.events/500_000))):
		_ = last.cmd.Process.Kill()
		t.Fatalf("final sink did not drain in time\n%s", last.tail())
	}
	drained := time.Since(began)
	var skips, unfinished int
	for _, p := range sinks {
		skips += min(1, p.logged("skipped messages already stored"))
		unfinished += p.logged("events stored by an insert that ClickHouse did not finish")
	}

	conn, err := ch.cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	trapStored := traps.check(t, conn)
	for c, n := range testenv.Counts(t, conn, "SELECT country_code, count() FROM events WHERE trap_id = 'chaos-trap' GROUP BY country_code") {
		want[c] += n
	}
	verify := func() (string, error) {
		out, err := exec.Command(bin, append(slices.Concat(testenv.KafkaFlags(kcfg), testenv.ClickHouseFlags(ch.cfg)), "verify", "--sink-group", sinkGroup)...).CombinedOutput()
		return string(out), err
	}
	repaired := "no repair needed"
	if out, err := verify(); err != nil {
		if clickhouseKills == 0 {
			t.Errorf("spamgeo verify: %v\n%s", err, out)
		}
		t.Logf("spamgeo verify after %d ClickHouse kills:\n%s", clickhouseKills, out)
		rep, err := exec.Command(bin, append(slices.Concat(testenv.KafkaFlags(kcfg), testenv.ClickHouseFlags(ch.cfg)), "repair", "--sink-group", sinkGroup)...).CombinedOutput()
		if err != nil {
			t.Fatalf("spamgeo repair: %v\n%s", err, rep)
		}
		repaired = "spamgeo verify found damage, spamgeo repair rebuilt " + strconv.Itoa(strings.Count(string(rep), "rebuilt ")) + " partitions"
		t.Logf("spamgeo repair:\n%s", rep)
		if out, err := verify(); err != nil {
			t.Errorf("spamgeo verify after spamgeo repair: %v\n%s", err, out)
		}
	}
	checkExact(t, conn, want, size.events+int64(trapStored))
	copies := topicCount(t, kcfg, kcfg.EnrichedTopic) - size.events - int64(trapStored)
	if !t.Failed() {
		fmt.Fprintf(os.Stderr, "chaos test: %d synthetic events (%d published twice) and %d trap messages under smtp-source; killed: trap %d, enricher %d, broker %d of 3, sink %d, ClickHouse %d (and stopped once); "+
			"%d copies on the enriched topic, none stored; %d sinks skipped redeliveries, rows of unfinished inserts found %d times; %s; drained in %v; exact, and spamgeo verify agrees\n",
			size.events, handOffCopies, trapStored, traps.kills, size.enrichKills, victim, len(sinks)-1, clickhouseKills,
			copies, skips, unfinished, repaired, drained.Round(time.Second))
	}
}

// topicCount is the number of messages topic holds, asked again for up to 30 s while the cluster
// does not answer (a broker just died and the client still asks it).
func topicCount(t *testing.T, kcfg kafka.Configuration, topic string) int64 {
	t.Helper()
	var n int64
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "the count of "+topic, func() (bool, error) {
		var err error
		n, err = kcfg.Lag(context.Background(), "never-committed", topic)
		return err == nil, err
	})
	return n
}

// trapLoad is a trap served by `spamgeo trap` processes, one at a time on one port and spool,
// under Postfix's smtp-source.
type trapLoad struct {
	mu    sync.Mutex
	procs []*process
	kills int
	done  chan error
}

// trapUnderLoad starts the trap and smtp-source, kills the trap kills times (SIGKILL, after an
// even share of messages each and a random delay) and starts it again, and once about messages
// messages were accepted stops the load, waits for the spool to empty and stops the trap.
func trapUnderLoad(t *testing.T, bin string, args []string, messages, kills int, delay func(time.Duration) time.Duration) *trapLoad {
	tl := &trapLoad{done: make(chan error, 1)}
	addr, spool := args[slices.Index(args, "--listen")+1], args[slices.Index(args, "--spool-dir")+1]
	run := func() *process {
		p := start(t, bin, args...)
		tl.mu.Lock()
		tl.procs = append(tl.procs, p)
		tl.mu.Unlock()
		return p
	}
	stopLoad, loadDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	endLoad := func() { once.Do(func() { close(stopLoad) }); <-loadDone }
	go func() {
		defer close(loadDone)
		for {
			select {
			case <-stopLoad:
				return
			default:
			}
			// A run fails when the trap dies under it; the next one meets the new trap.
			if err := exec.Command(traptest.Tool(t, "smtp-source"), "-s", "4", "-m", "500", "-l", "1024",
				"-f", "bulk@sender.test", "-t", "victim@trap.example", addr).Run(); err != nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer endLoad()
		p := run()
		waitAccepted := func(n int) error {
			return testenv.Wait(5*time.Minute, 100*time.Millisecond, fmt.Sprintf("the trap to accept %d messages", n), func() (bool, error) {
				got := tl.accepted()
				return got >= n, fmt.Errorf("it accepted %d", got)
			})
		}
		for k := range kills {
			if err := waitAccepted(messages * (k + 1) / (kills + 1)); err != nil {
				tl.done <- err
				return
			}
			time.Sleep(delay(200 * time.Millisecond))
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
			tl.kills++
			time.Sleep(300 * time.Millisecond) // the load meets a closed port
			p = run()
		}
		if err := waitAccepted(messages); err != nil {
			tl.done <- err
			return
		}
		endLoad()
		if err := testenv.Wait(2*time.Minute, 100*time.Millisecond, "the trap's spool to empty", func() (bool, error) {
			files, _ := os.ReadDir(spool)
			return len(files) == 0, nil
		}); err != nil {
			tl.done <- err
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-p.done; err != nil {
			tl.done <- fmt.Errorf("trap: %v\n%s", err, p.tail())
			return
		}
		tl.done <- nil
	}()
	return tl
}

// accepted is how many messages the traps logged as handed on (and so answered 250).
func (tl *trapLoad) accepted() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for _, p := range tl.procs {
		n += p.logged(`"msg":"message accepted"`)
	}
	return n
}

// check compares the trap's events in ClickHouse with what its processes accepted: each stored
// once, every accepted one stored, and no more others than the kills can explain (a message
// handed on the moment its trap died, its 250 never sent: each of smtp-source's four sessions
// can have one in flight). It returns how many are stored.
func (tl *trapLoad) check(t *testing.T, conn clickhousedb.Conn) int {
	t.Helper()
	accepted, spooled := map[string]bool{}, 0
	for _, p := range tl.procs {
		p.mu.Lock()
		for _, l := range p.log {
			var rec struct {
				Msg     string
				EventID string `json:"event_id"`
				To      string
			}
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "message accepted" {
				accepted[rec.EventID] = true
				if rec.To == "spool" {
					spooled++
				}
			}
		}
		p.mu.Unlock()
	}
	rows, err := conn.Query(context.Background(), "SELECT toString(event_id), count() FROM events WHERE trap_id = 'chaos-trap' GROUP BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored, extra := 0, 0
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("trap event %s stored %d times", id, n)
		}
		stored++
		if !accepted[id] {
			extra++
		}
		delete(accepted, id)
	}
	if len(accepted) > 0 {
		t.Errorf("%d messages the trap accepted are not stored", len(accepted))
	}
	if extra > 4*tl.kills {
		t.Errorf("%d trap events stored that no trap logged as accepted, more than its %d kills explain", extra, tl.kills)
	}
	t.Logf("trap: %d messages stored, %d of them spooled while Kafka did not answer, %d handed on as their trap died", stored, spooled, extra)
	return stored
}

// republish publishes again the first n messages of the raw topic, as a trap whose hand-off timed
// out after the broker had stored it sends it again: copies with the same event ids, at new offsets.
func republish(t *testing.T, kcfg kafka.Configuration, n int64) int64 {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: kcfg.Brokers, GroupID: "republish-" + testenv.Suffix(), Topic: kcfg.RawTopic})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs := make([]kafka.Message, 0, n)
	for int64(len(msgs)) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read the raw topic: %v", err)
		}
		msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value})
	}
	w := kcfg.Writer(kcfg.RawTopic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	if err := kafka.Deliver(ctx, w, msgs, nil); err != nil {
		t.Fatal(err)
	}
	return n
}

// groundTruth is the number of events per country a synth plan published.
func groundTruth(plan synth.Plan) map[string]uint64 {
	want := map[string]uint64{}
	codes, counts := plan.Totals()
	for i, c := range codes {
		want[c] = uint64(counts[i])
	}
	return want
}
