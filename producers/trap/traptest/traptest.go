// Package traptest runs a spamgeo trap inside a test, on a free loopback port.
package traptest

import (
	"context"
	"testing"

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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; tr.Stop() })
	return tr.Addrs()[0].String()
}
