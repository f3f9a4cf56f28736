package main

import (
	"context"
	"time"

	"github.com/spamgeo/spamgeo/consumers/sink"
	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// SinkCmd is `spamgeo sink`.
type SinkCmd struct {
	Group         string        `help:"Kafka consumer group." default:"spamgeo-sink" env:"SPAMGEO_SINK_GROUP"`
	Drain         bool          `help:"Exit once every enriched event has been stored and committed, instead of waiting for more." env:"SPAMGEO_SINK_DRAIN"`
	BatchRows     int           `help:"Most rows in one insert." default:"${sink_batch_rows}" env:"SPAMGEO_SINK_BATCH_ROWS"`
	BatchWait     time.Duration `help:"Longest a batch stays open after its first row." default:"${sink_batch_wait}" env:"SPAMGEO_SINK_BATCH_WAIT"`
	MetricsListen string        `help:"Serve Prometheus /metrics and /healthz on this address; empty turns it off." default:"127.0.0.1:9552" env:"SPAMGEO_SINK_METRICS_LISTEN"`
}

// Run stores events until interrupted (or drained).
func (c *SinkCmd) Run(ctx context.Context, g *Globals) error {
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := sink.DefaultConfiguration()
	cfg.Group, cfg.Drain = c.Group, c.Drain
	cfg.Batch.MaxMessages, cfg.Batch.MaxWait = c.BatchRows, c.BatchWait
	cfg.Table = g.clickhouse().EventsTable()
	reg := telemetry.NewRegistry()
	s, err := sink.New(cfg, sink.Dependencies{Kafka: g.kafka(), ClickHouse: conn, Registry: reg, Logger: g.logger})
	if err != nil {
		return err
	}
	return runComponent(ctx, s, c.MetricsListen, reg, g.logger)
}
