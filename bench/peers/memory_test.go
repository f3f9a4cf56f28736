package peers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap/traptest"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// queryEvents is the size of the database that report, serve and export read: the query
// benchmark's 10-million-event year (make bench fills it there first).
const queryEvents = 10_000_000

// BenchmarkResidentMemory runs each role of the built spamgeo binary as a child process against
// the real local servers, under a stated load, and reports its peak resident set (VmHWM) and,
// for roles with a metrics port, its peak Go heap in use. One op is one run of the child:
//
//   - enrich: drains the stream of SPAMGEO_PEERS_EVENTS raw events (default 300,000) with its
//     default batching, real DB-IP country file and both ip-location-db ASN files loaded;
//   - sink: stores the same stream, enriched, into a fresh database with its default batching;
//   - trap: Postfix smtp-source's load of the trap benchmark (4,000 messages of 1 KiB from 100
//     parallel sessions), each message published to Kafka;
//   - serve: 320 API requests, 32 at a time, over varied periods and groupings of the
//     10-million-event year (each may take up to a minute);
//   - report: the HTML report (charts included) of that year against the year before;
//   - export: January of that year (about 850,000 events) to Parquet.
//
// The benchmark fails if a role exits with an error or leaves work undone.
func BenchmarkResidentMemory(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	bin := testenv.BuildSpamgeo(b)
	country, asn := geoipFiles(b)
	geo := []string{"--geoip-country", country, "--geoip-asn", strings.Join(asn, ",")}
	events := streamLength()
	// The raw stream is published once, when a role first needs it; enrich's last output feeds the sink.
	var kcfg *kafka.Configuration
	raw := func(b *testing.B) kafka.Configuration {
		if kcfg == nil {
			c := testenv.KafkaPartitions(b, 3)
			publishRaw(b, c, country, events)
			kcfg = &c
		}
		return *kcfg
	}
	var enriched *kafka.Configuration
	runEnrich := func(b *testing.B) *child {
		k := raw(b)
		k.EnrichedTopic += "-" + testenv.Suffix()
		k.DLQTopic += "-" + testenv.Suffix()
		if err := k.EnsureTopics(context.Background()); err != nil {
			b.Fatal(err)
		}
		c := startChild(b, bin, true, append(append([]string{"enrich", "--drain", "--group", "memory-" + testenv.Suffix()}, geo...), testenv.KafkaFlags(k)...)...)
		c.wait(b, 5*time.Minute)
		if n := testenv.TopicCount(b, k, k.EnrichedTopic); n != events {
			b.Fatalf("enrich published %d enriched events of %d", n, events)
		}
		enriched = &k
		return c
	}

	b.Run("enrich", func(b *testing.B) {
		raw(b)
		var peak peaks
		for b.Loop() {
			peak.add(runEnrich(b))
		}
		peak.report(b)
	})
	b.Run("sink", func(b *testing.B) {
		if enriched == nil {
			runEnrich(b)
		}
		var peak peaks
		for b.Loop() {
			ch, _ := testenv.MigratedClickHouse(b)
			c := startChild(b, bin, true, append(append([]string{"sink", "--drain", "--group", "memory-" + testenv.Suffix()},
				testenv.KafkaFlags(*enriched)...), testenv.ClickHouseFlags(ch)...)...)
			c.wait(b, 5*time.Minute)
			if n := count(b, ch, "SELECT count() FROM events"); n != uint64(events) {
				b.Fatalf("sink stored %d events of %d", n, events)
			}
			peak.add(c)
		}
		peak.report(b)
	})
	b.Run("trap", func(b *testing.B) {
		var peak peaks
		for b.Loop() {
			k := testenv.Kafka(b)
			addr := freeAddr(b)
			c := startChild(b, bin, true, append([]string{"trap", "--listen", addr, "--no-tls", "--max-connections-per-ip", "1000"}, testenv.KafkaFlags(k)...)...)
			c.listening(b, addr)
			b.ReportMetric(traptest.SMTPSource(b, addr), "msgs/s")
			c.stop(b)
			if n := testenv.TopicCount(b, k, k.RawTopic); n != traptest.SourceMessages {
				b.Fatalf("the trap published %d events for %d messages", n, traptest.SourceMessages)
			}
			peak.add(c)
		}
		peak.report(b)
	})
	b.Run("serve", func(b *testing.B) {
		ch := testenv.BenchEvents(b, queryEvents)
		var peak peaks
		for b.Loop() {
			addr := freeAddr(b)
			// Requests queue in ClickHouse on two cores: the default 10 s per request can run out.
			c := startChild(b, bin, true, append([]string{"serve", "--listen", addr, "--query-timeout", "1m"}, testenv.ClickHouseFlags(ch)...)...)
			c.listening(b, addr)
			start := time.Now()
			requests := serveLoad(b, "http://"+addr)
			b.ReportMetric(float64(requests)/time.Since(start).Seconds(), "requests/s")
			c.stop(b)
			peak.add(c)
		}
		peak.report(b)
	})
	b.Run("report", func(b *testing.B) {
		ch := testenv.BenchEvents(b, queryEvents)
		var peak peaks
		for b.Loop() {
			out := filepath.Join(b.TempDir(), "report.html")
			c := startChild(b, bin, false, append([]string{"report", "--period", "2005", "--compare", "previous",
				"--publisher", "sophos", "--format", "html", "-o", out}, testenv.ClickHouseFlags(ch)...)...)
			c.wait(b, time.Minute)
			if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
				b.Fatalf("no report written: %v", err)
			}
			peak.add(c)
		}
		peak.report(b)
	})
	b.Run("export", func(b *testing.B) {
		ch := testenv.BenchEvents(b, queryEvents)
		var peak peaks
		for b.Loop() {
			out := filepath.Join(b.TempDir(), "january.parquet")
			c := startChild(b, bin, false, append([]string{"export", "--period", "2005-01", "-o", out}, testenv.ClickHouseFlags(ch)...)...)
			c.wait(b, 5*time.Minute)
			if fi, err := os.Stat(out); err != nil || fi.Size() < 1<<20 {
				b.Fatalf("no export written: %v", err)
			}
			peak.add(c)
		}
		peak.report(b)
	})
}

// serveLoad sends 320 report requests, 32 at a time, cycling through periods from a day to the
// year, every grouping and comparison; every answer must be 200. It returns the requests made.
func serveLoad(b *testing.B, base string) int {
	var urls []string
	periods := []string{"2005", "2005H1", "2005H2", "2005Q1", "2005Q2", "2005Q3", "2005Q4", "2005-04-01..2005-09-30"}
	for m := 1; m <= 12; m++ {
		periods = append(periods, fmt.Sprintf("2005-%02d", m), fmt.Sprintf("2005-%02d-15", m))
	}
	for _, p := range periods {
		for _, by := range []string{"country&publisher=sophos", "continent", "asn", "trap"} {
			for _, compare := range []string{"none", "previous", "year"} {
				urls = append(urls, fmt.Sprintf("%s/api/v1/report?period=%s&by=%s&compare=%s", base, p, by, compare))
			}
		}
	}
	const total, clients = 320, 32
	work := make(chan string)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for u := range work {
				res, err := http.Get(u)
				if err == nil {
					var body bytes.Buffer
					_, err = body.ReadFrom(res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s: %.200s", u, res.Status, body.String())
					}
				}
				if err != nil {
					errs <- err
					for range work { // let the sender finish
					}
					return
				}
			}
		})
	}
	for i := range total {
		work <- urls[i%len(urls)]
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return total
}

// child is a spamgeo role running as a child process, its memory sampled until it exits.
type child struct {
	cmd     *exec.Cmd
	log     bytes.Buffer // standard error, read after exit
	metrics string       // its metrics address, or ""
	done    chan struct{}
	err     error
	mu      sync.Mutex
	rss     int64 // VmHWM, bytes
	heap    float64
}

// startChild starts bin with args (and, if withMetrics, a metrics port of its own) and samples
// its peak resident set from /proc every 10 ms — the rusage of a child is no use here, since on
// Linux it counts the peak of the forking test process too — and its Go heap in use from
// /metrics every 100 ms.
func startChild(b *testing.B, bin string, withMetrics bool, args ...string) *child {
	var metrics string
	if withMetrics {
		metrics = freeAddr(b)
		args = append(args, "--metrics-listen", metrics)
	}
	c, exited := launch(b, bin, args...)
	c.metrics = metrics
	go func() {
		defer close(c.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-exited:
				return
			case <-tick.C:
				c.sample(i%10 == 0)
			}
		}
	}()
	return c
}

// startProcess starts bin with args and watches nothing, so that the benchmark adds no CPU of its
// own to what it measures.
func startProcess(b *testing.B, bin string, args ...string) *child {
	c, exited := launch(b, bin, append(args, "--metrics-listen", "")...)
	go func() {
		<-exited
		close(c.done)
	}()
	return c
}

// launch starts bin with args, killed at the end of the benchmark if still running; exited is
// closed when it has.
func launch(b *testing.B, bin string, args ...string) (c *child, exited chan struct{}) {
	c = &child{done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stderr = &c.log
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	exited = make(chan struct{})
	go func() {
		c.err = c.cmd.Wait()
		close(exited)
	}()
	return c, exited
}

func (c *child) sample(heap bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64); err == nil {
				c.mu.Lock()
				c.rss = max(c.rss, v*1024)
				c.mu.Unlock()
			}
		}
	}
	if !heap || c.metrics == "" {
		return
	}
	res, err := http.Get("http://" + c.metrics + "/metrics")
	if err != nil {
		return
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				c.mu.Lock()
				c.heap = max(c.heap, f)
				c.mu.Unlock()
			}
		}
	}
}

// wait waits for the child to exit by itself and fails unless it succeeded.
func (c *child) wait(b *testing.B, limit time.Duration) {
	select {
	case <-c.done:
	case <-time.After(limit):
		_ = c.cmd.Process.Kill()
		<-c.done
		b.Fatalf("%s did not finish in %s:\n%s", c.cmd.Args[1], limit, c.tail())
	}
	if c.err != nil {
		b.Fatalf("%s: %v\n%s", c.cmd.Args[1], c.err, c.tail())
	}
}

// stop ends a serving child with SIGTERM, as an orchestrator would, after a last sample.
func (c *child) stop(b *testing.B) {
	c.sample(true)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	c.wait(b, 30*time.Second)
}

// cpuSeconds is the user and system CPU time the child used, once it has exited.
func (c *child) cpuSeconds() float64 {
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// listening returns once the child accepts connections on addr.
func (c *child) listening(b *testing.B, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return
		}
		select {
		case <-c.done:
			b.Fatalf("%s exited before listening (%v):\n%s", c.cmd.Args[1], c.err, c.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not listen on %s", c.cmd.Args[1], addr)
		}
	}
}

func (c *child) tail() string {
	lines := strings.Split(strings.TrimSpace(c.log.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// peaks keeps the highest figures over a benchmark's runs.
type peaks struct {
	rss  int64
	heap float64
}

func (p *peaks) add(c *child) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.rss, p.heap = max(p.rss, c.rss), max(p.heap, c.heap)
}

func (p *peaks) report(b *testing.B) {
	b.ReportMetric(float64(p.rss)/(1<<20), "peak-RSS-MB")
	if p.heap > 0 {
		b.ReportMetric(p.heap/(1<<20), "peak-heap-MB")
	}
}

// freeAddr is a loopback address nothing listens on at the moment.
func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func count(b *testing.B, ch clickhousedb.Configuration, q string) uint64 {
	conn, err := ch.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
