package main

import (
	"bytes"
	"context"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// The private broker of TestTrapStartsWhileKafkaIsDown: ports of its own, state in a directory
// of the test's, never the shared broker. Below Linux's ephemeral range (32768-60999), where an
// outgoing connection of another test can hold a port the broker then fails to bind.
const privateKafkaPort, privateKafkaControllerPort = "19492", "19493"

// `spamgeo trap --spool-dir` started while Kafka is down answers 250 from its spool; once the
// broker is up it creates the topics and publishes every spooled message exactly once, and
// takes mail as usual. Without a spool it refuses to start and says why. Before, both exited 1
// with "create topics ... connection refused".
func TestTrapStartsWhileKafkaIsDown(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("starts a Kafka broker of its own; make test sets SPAMGEO_INTEGRATION=1")
	}
	const messages = 30
	bin := testenv.BuildSpamgeo(t)
	kcfg := kafka.DefaultConfiguration()
	kcfg.Brokers, kcfg.Partitions = []string{"127.0.0.1:" + privateKafkaPort}, 3
	kcfg.RawTopic, kcfg.EnrichedTopic, kcfg.DLQTopic = "spamgeo.raw.spooled", "spamgeo.enriched.spooled", "spamgeo.dlq.spooled"
	// The jars come from KAFKA_JARS when the caller sets it, else Maven resolves them.
	brokerEnv := append(os.Environ(), "SPAMGEO_LOCAL="+t.TempDir(), "KAFKA_PORT="+privateKafkaPort,
		"KAFKA_CONTROLLER_PORT="+privateKafkaControllerPort, "KAFKA_HEAP=256m")
	broker := func(action string) {
		t.Helper()
		cmd := exec.Command(testenv.Path(t, "deploy", "kafka.sh"), action)
		cmd.Env = brokerEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kafka.sh %s: %v\n%s", action, err, out)
		}
	}
	args := append([]string{"trap", "--listen", "127.0.0.1:0", "--metrics-listen", "", "--no-tls",
		"--domains", "trap.example", "--handoff-timeout", "1s"}, testenv.KafkaFlags(kcfg)...)

	out, err := exec.Command(bin, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "without --spool-dir") {
		t.Errorf("a trap without a spool started while Kafka was down, or did not say why (%v):\n%s", err, out)
	}

	spool := t.TempDir()
	trap := startTrapProcess(t, bin, append(args, "--spool-dir", spool)...)
	for i := range messages {
		if err := smtp.SendMail(trap.addr, nil, "bulk@sender.test", []string{"victim@trap.example"},
			fmt.Appendf(nil, "Subject: spooled %d\r\n\r\nwhile Kafka is down\r\n", i)); err != nil {
			t.Fatalf("message %d not accepted while Kafka was down: %v\n%s", i, err, trap.output())
		}
	}
	if files, _ := filepath.Glob(filepath.Join(spool, "*.json")); len(files) != messages {
		t.Fatalf("%d files in the spool for %d messages accepted while Kafka was down", len(files), messages)
	}

	broker("start")
	t.Cleanup(func() { broker("stop") })
	if err := testenv.Wait(2*time.Minute, 200*time.Millisecond, "the spool to empty once Kafka started", func() (bool, error) {
		files, _ := filepath.Glob(filepath.Join(spool, "*.json"))
		return len(files) == 0, fmt.Errorf("%d messages still in the spool", len(files))
	}); err != nil {
		t.Fatalf("%v\n%s", err, trap.output())
	}
	if err := smtp.SendMail(trap.addr, nil, "bulk@sender.test", []string{"victim@trap.example"},
		[]byte("Subject: live\r\n\r\nKafka is back\r\n")); err != nil {
		t.Fatalf("message refused once Kafka was back: %v", err)
	}

	var subjects []string
	ids := map[string]bool{}
	for _, m := range testenv.ReadAll(t, kcfg, kcfg.RawTopic, messages+1) {
		e, err := event.DecodeRaw(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		subjects, ids[e.EventID] = append(subjects, e.Mail.Subject), true
	}
	want := []string{"live"}
	for i := range messages {
		want = append(want, fmt.Sprintf("spooled %d", i))
	}
	slices.Sort(subjects)
	slices.Sort(want)
	if !slices.Equal(subjects, want) || len(ids) != messages+1 {
		t.Errorf("raw topic: %d events with %d ids, subjects %q; want each of %q once", len(subjects), len(ids), subjects, want)
	}
	partitions, err := kcfg.PartitionIDs(context.Background(), kcfg.RawTopic)
	if err != nil || len(partitions) != kcfg.Partitions {
		t.Errorf("the trap created the raw topic with partitions %v (%v), want %d", partitions, err, kcfg.Partitions)
	}
}

// trapProcess is `spamgeo trap` running as a child until the test ends.
type trapProcess struct {
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
}

func (p *trapProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *trapProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var listeningAt = regexp.MustCompile(`msg="trap listening" addr=(\S+)`)

// startTrapProcess runs the trap and waits for it to listen.
func startTrapProcess(t *testing.T, bin string, args ...string) *trapProcess {
	t.Helper()
	p := &trapProcess{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if m := listeningAt.FindStringSubmatch(p.output()); m != nil {
			p.addr = m[1]
			return p
		}
		select {
		case <-exited:
			t.Fatalf("spamgeo trap exited: %v\n%s", waitErr, p.output())
		case <-deadline:
			t.Fatalf("spamgeo trap did not listen within 30 s\n%s", p.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
