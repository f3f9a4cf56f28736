// Package traptest runs a spamgeo trap inside a test, on a free loopback port.
package traptest

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
)

// Start serves a trap with cfg (its Listen replaced by a free loopback port) until the test
// ends, publishing to kcfg, its metrics on reg; it returns the trap's address.
func Start(t testing.TB, cfg trap.Configuration, kcfg kafka.Configuration, reg *prometheus.Registry) string {
	t.Helper()
	cfg.Listen = []string{"127.0.0.1:0"}
	tr, err := trap.New(cfg, trap.Dependencies{Kafka: kcfg, Registry: reg, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Stop() })
	return tr.Addrs()[0].String()
}

// Tool returns the path of an SMTP test tool (Postfix's smtp-source and smtp-sink, swaks),
// failing the test when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		path, err = exec.LookPath("/usr/sbin/" + name)
	}
	if err != nil {
		t.Fatalf("%s is not installed: deploy/smtp-tools.sh install (make test runs it)", name)
	}
	return path
}

// SourceMessages is what one SMTPSource run sends, from SourceSessions parallel sessions.
const SourceMessages, SourceSessions = 4000, 100

// SMTPSource is the trap benchmarks' load: Postfix's smtp-source sends SourceMessages messages
// of 1 KiB to addr, one per connection. It returns the messages per second.
func SMTPSource(t testing.TB, addr string) float64 {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(Tool(t, "smtp-source"), "-s", fmt.Sprint(SourceSessions), "-m", fmt.Sprint(SourceMessages), "-l", "1024",
		"-f", "bulk@sender.test", "-t", "victim@trap.example", addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	return SourceMessages / time.Since(start).Seconds()
}
