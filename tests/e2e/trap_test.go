package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/producers/trap/traptest"
)

// Kafka stopped in the middle of a stream of mail: a trap with a spool keeps answering 250 and
// spools; one without answers 451; once Kafka is back, every message that got a 250 is on the
// raw topic exactly once.
func TestTrapWhileKafkaIsAway(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers and processes; make test sets SPAMGEO_INTEGRATION=1")
	}
	const messages = 3000
	env := append(os.Environ(), "SPAMGEO_LOCAL="+t.TempDir(), "KAFKA_PORT=19192", "KAFKA_CONTROLLER_PORT=19193", "KAFKA_HEAP=256m")
	runScript(t, env, "kafka.sh", "start")
	t.Cleanup(func() { runScript(t, env, "kafka.sh", "stop") })
	kcfg := kafka.DefaultConfiguration()
	kcfg.Brokers, kcfg.Partitions = []string{"127.0.0.1:19192"}, 3
	if err := kcfg.EnsureTopics(context.Background()); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	spooling := runTrap(t, kcfg, reg, t.TempDir())
	source := exec.Command("/usr/sbin/smtp-source", "-s", "5", "-m", fmt.Sprint(messages), "-l", "1024",
		"-f", "bulk@sender.test", "-t", "victim@trap.example", spooling)
	out := &strings.Builder{}
	source.Stdout, source.Stderr = out, out
	if err := source.Start(); err != nil {
		t.Fatalf("smtp-source (deploy/smtp-tools.sh install): %v", err)
	}
	waitFor(t, "a third of the messages accepted", func() bool { return testenv.CounterValue(t, reg, "spamgeo_trap_messages_accepted_total") >= messages/3 })
	runScript(t, env, "kafka.sh", "stop")

	strict := runTrap(t, kcfg, prometheus.NewRegistry(), "")
	transcript, err := exec.Command("swaks", "--server", strings.Split(strict, ":")[0], "--port", strings.Split(strict, ":")[1],
		"--to", "victim@trap.example", "--timeout", "30").CombinedOutput()
	if err == nil || !strings.Contains(string(transcript), "451 4.3.0") {
		t.Errorf("a trap without a spool did not answer 451 while Kafka was away:\n%s", transcript)
	}

	waitFor(t, "messages spooled", func() bool { return testenv.CounterValue(t, reg, "spamgeo_trap_spooled_total") >= 300 })
	runScript(t, env, "kafka.sh", "start")
	if err := source.Wait(); err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	waitFor(t, "the spool replayed", func() bool {
		return testenv.CounterValue(t, reg, "spamgeo_trap_spool_replayed_total") == testenv.CounterValue(t, reg, "spamgeo_trap_spooled_total")
	})
	accepted := testenv.CounterValue(t, reg, "spamgeo_trap_messages_accepted_total")
	if accepted != messages {
		t.Errorf("%v messages got 250, want all %d (smtp-source retries nothing)", accepted, messages)
	}
	got := testenv.ReadAll(t, kcfg, kcfg.RawTopic, int(accepted))
	ids := map[string]bool{}
	for _, m := range got {
		ids[eventID(t, m.Value)] = true
	}
	if len(ids) != int(accepted) {
		t.Errorf("%d distinct events on the topic for %v accepted messages", len(ids), accepted)
	}
	t.Logf("%v accepted, %v of them spooled while Kafka was away", accepted, testenv.CounterValue(t, reg, "spamgeo_trap_spooled_total"))
}

// runTrap serves a trap with the given spool (none when empty) until the test ends.
func runTrap(t *testing.T, kcfg kafka.Configuration, reg *prometheus.Registry, spoolDir string) string {
	cfg := trap.DefaultConfiguration()
	cfg.SpoolDir, cfg.HandoffTimeout = spoolDir, time.Second
	return traptest.Start(t, cfg, kcfg, reg)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, 100*time.Millisecond, what, func() (bool, error) { return cond(), nil })
}
