package trap_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/producers/trap/traptest"
)

// benchMessages is what one smtp-source run sends; -s sessions run in parallel.
const benchMessages, benchSessions = 4000, "100"

// smtpSource sends benchMessages of 1 KiB to addr and returns the messages per second.
func smtpSource(b *testing.B, addr string) float64 {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(requireTool(b, "smtp-source"), "-s", benchSessions, "-m", fmt.Sprint(benchMessages), "-l", "1024",
		"-f", "bulk@sender.test", "-t", "victim@trap.example", addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("smtp-source: %v\n%s", err, out)
	}
	return benchMessages / time.Since(start).Seconds()
}

// The trap under Postfix's smtp-source, beside Postfix's smtp-sink (which accepts and discards
// everything: the ceiling) in the same run. Each op is one smtp-source run; msgs/s is the figure
// to compare. The trap really publishes every message to the local Kafka broker before its 250.
func BenchmarkSMTPSource(b *testing.B) {
	b.Run("smtp-sink", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		args := []string{"-c", addr, "256"}
		if os.Geteuid() == 0 {
			args = append([]string{"-u", "nobody"}, args...) // it refuses to run as root
		}
		sink := exec.Command(requireTool(b, "smtp-sink"), args...)
		if err := sink.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { sink.Process.Kill(); sink.Wait() }()
		for i := 0; ; i++ { // until it listens
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if i == 50 {
				b.Fatal("smtp-sink does not listen")
			}
			time.Sleep(100 * time.Millisecond)
		}
		var rate float64
		for b.Loop() {
			rate += smtpSource(b, addr)
		}
		b.ReportMetric(rate/float64(b.N), "msgs/s")
	})
	b.Run("trap", func(b *testing.B) {
		r := startTrapB(b)
		var rate float64
		for b.Loop() {
			rate += smtpSource(b, r)
		}
		b.ReportMetric(rate/float64(b.N), "msgs/s")
	})
}

func startTrapB(b *testing.B) string {
	cfg := trap.DefaultConfiguration()
	cfg.NoTLS, cfg.MaxConnectionsPerIP = true, 1000
	return traptest.Start(b, cfg, testenv.Kafka(b), prometheus.NewRegistry())
}
