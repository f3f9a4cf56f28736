package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/lifecycle"
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

// runComponent runs c, a long-running component, until ctx ends or c ends by itself (a drained
// topic, an error), serving reg's metrics and c's health on metricsListen meanwhile, and returns
// the error c ended with. Every long-running command runs its component this way.
func runComponent(ctx context.Context, c lifecycle.Component, metricsListen string, reg *prometheus.Registry, logger *slog.Logger) error {
	stop, err := startTelemetry(metricsListen, reg, c.Healthy, logger)
	if err != nil {
		return errors.Join(err, c.Stop())
	}
	defer stop()
	return lifecycle.Run(ctx, c)
}
