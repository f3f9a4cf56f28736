package main

import (
	"context"
	"time"

	"github.com/spamgeo/spamgeo/consumers/enrich"
	"github.com/spamgeo/spamgeo/internal/telemetry"
)

// EnrichCmd is `spamgeo enrich`.
type EnrichCmd struct {
	Group string `help:"Kafka consumer group." default:"spamgeo-enrich" env:"SPAMGEO_ENRICH_GROUP"`
	Drain bool   `help:"Exit once every raw event has been enriched and committed, instead of waiting for more." env:"SPAMGEO_ENRICH_DRAIN"`
	GeoIPFlags
	BatchRows     int           `help:"Most events enriched and written together." default:"${enrich_batch_rows}" env:"SPAMGEO_ENRICH_BATCH_ROWS"`
	BatchWait     time.Duration `help:"Longest a batch stays open after its first event." default:"${enrich_batch_wait}" env:"SPAMGEO_ENRICH_BATCH_WAIT"`
	MetricsListen string        `help:"Serve Prometheus /metrics and /healthz on this address; empty turns it off." default:"127.0.0.1:9551" env:"SPAMGEO_ENRICH_METRICS_LISTEN"`
	AddressSpace  bool          `help:"Walk the networks of every GeoIP build loaded or reloaded and store the address space it places in each country and network in ClickHouse (table address_space, for report --per address-space and SQL), once per build; failures are logged, counted and retried every --geoip-reload. --no-address-space leaves ClickHouse alone." default:"true" negatable:"" env:"SPAMGEO_ENRICH_ADDRESS_SPACE"`
}

// Run enriches until interrupted (or drained).
func (c *EnrichCmd) Run(ctx context.Context, g *Globals) error {
	cfg := enrich.DefaultConfiguration()
	cfg.Group, cfg.Drain, cfg.GeoIP = c.Group, c.Drain, c.configuration()
	cfg.Batch.MaxMessages, cfg.Batch.MaxWait = c.BatchRows, c.BatchWait
	cfg.ReloadInterval = c.GeoipReload
	if c.AddressSpace {
		ch := g.clickhouse()
		cfg.AddressSpace = &ch
	}
	reg := telemetry.NewRegistry()
	e, err := enrich.New(cfg, enrich.Dependencies{Kafka: g.kafka(), Registry: reg, Logger: g.logger})
	if err != nil {
		return err
	}
	return runComponent(ctx, e, c.MetricsListen, reg, g.logger)
}
