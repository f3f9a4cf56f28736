package telemetry

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServesMetricsAndHealth(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "spamgeo_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var failing atomic.Bool
	srv, err := Start("127.0.0.1:0", reg, func() error {
		if failing.Load() {
			return errors.New("insert batch: connection refused")
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	base := "http://" + srv.Addr().String()
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "spamgeo_test_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz healthy = %d %q", code, body)
	}
	failing.Store(true)
	if code, body := get(t, base+"/healthz"); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("/healthz failing = %d %q", code, body)
	}
	if _, err := Start(srv.Addr().String(), reg, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a second server on the same address started")
	}
}
