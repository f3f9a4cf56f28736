package main

import (
	"context"
	"time"

	"github.com/spamgeo/spamgeo/console/serve"
	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// ServeCmd is `spamgeo serve`.
type ServeCmd struct {
	Listen        string        `help:"Address of the dashboard (/) and the JSON API (/api/v1/)." default:"127.0.0.1:9560" env:"SPAMGEO_SERVE_LISTEN"`
	QueryTimeout  time.Duration `help:"Longest ClickHouse may take for one request (504 beyond)." default:"10s" env:"SPAMGEO_SERVE_QUERY_TIMEOUT"`
	CacheMaxAge   time.Duration `help:"How long clients may cache an answer about a past period (a tenth of it when the period includes today)." default:"5m" env:"SPAMGEO_SERVE_CACHE_MAX_AGE"`
	MetricsListen string        `help:"Serve Prometheus /metrics and /healthz on this address; empty turns it off." default:"127.0.0.1:9554" env:"SPAMGEO_SERVE_METRICS_LISTEN"`
}

// Help points at the dashboard and the API's description.
func (c *ServeCmd) Help() string {
	return "Open http://127.0.0.1:9560/ (the address of --listen) for the dashboard: a world map, the share " +
		"over time, the top rows and a period picker, every asset built in. Behind it, a read-only HTTP JSON " +
		"API over the stored statistics: GET /api/v1/report?period=2005Q2&compare=year " +
		"(&by=country|continent|asn|trap, &top=12, &publisher=sophos, &series=false) answers the report as " +
		"`spamgeo report --format json` does, with the share-over-time series. The API is described in " +
		"/api/openapi.yaml (console/serve/openapi.yaml)."
}

// Run serves until interrupted.
func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	reg := telemetry.NewRegistry()
	cfg := serve.Configuration{Listen: c.Listen, QueryTimeout: c.QueryTimeout, CacheMaxAge: c.CacheMaxAge}
	s := serve.New(cfg, serve.Dependencies{ClickHouse: conn, Registry: reg, Logger: g.logger})
	return runComponent(ctx, s, c.MetricsListen, reg, g.logger)
}
