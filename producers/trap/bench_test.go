package trap_test

import (
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
		sink := exec.Command(traptest.Tool(b, "smtp-sink"), args...)
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
			rate += traptest.SMTPSource(b, addr)
		}
		b.ReportMetric(rate/float64(b.N), "msgs/s")
	})
	b.Run("trap", func(b *testing.B) {
		r := startTrapB(b)
		var rate float64
		for b.Loop() {
			rate += traptest.SMTPSource(b, r)
		}
		b.ReportMetric(rate/float64(b.N), "msgs/s")
	})
}

func startTrapB(b *testing.B) string {
	cfg := trap.DefaultConfiguration()
	cfg.NoTLS, cfg.MaxConnectionsPerIP = true, 1000
	return traptest.Start(b, cfg, testenv.Kafka(b), prometheus.NewRegistry())
}
