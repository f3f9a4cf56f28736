package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// startTelemetry serves reg on /metrics and health on /healthz when addr is set (each
// long-running command has its own default port); the returned stop is always safe to call.
func startTelemetry(addr string, reg *prometheus.Registry, health func() error, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	srv, err := telemetry.Start(addr, reg, health, logger)
	if err != nil {
		return nil, err
	}
	return srv.Stop, nil
}
