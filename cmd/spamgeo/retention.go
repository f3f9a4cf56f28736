package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spamgeo/spamgeo/storage/retention"
)

// RetentionCmd is `spamgeo retention`.
type RetentionCmd struct {
	EventsDays   int  `help:"Days the events table keeps; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_EVENTS_DAYS"`
	MinuteDays   int  `help:"Days the minute rollup keeps; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_MINUTE_DAYS"`
	HourDays     int  `help:"Days the hour rollups keep; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_HOUR_DAYS"`
	DayDays      int  `help:"Days the day rollups keep; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_DAY_DAYS"`
	MonthDays    int  `help:"Days the month rollups keep; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_MONTH_DAYS"`
	CampaignDays int  `help:"Days the saved campaign generations (campaign_keys, campaign_days) and host lookups (host_addresses) keep; 0 keeps everything." default:"0" env:"SPAMGEO_RETENTION_CAMPAIGN_DAYS"`
	DryRun       bool `help:"Print the statements instead of running them." env:"SPAMGEO_RETENTION_DRY_RUN"`
}

// Help explains the two ways retention works.
func (c *RetentionCmd) Help() string {
	return "On ClickHouse 19.6 and later this sets a TTL on each table once and ClickHouse expires rows " +
		"itself. On older servers (the 18.16 of Debian) it drops the monthly (day rollups: yearly) " +
		"partitions that lie wholly before the cutoff; run it daily there."
}

// Run plans and applies (or prints) the retention statements.
func (c *RetentionCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	actions, err := retention.Plan(ctx, conn, retention.Policy{
		Events: c.EventsDays, MinuteRollups: c.MinuteDays, HourRollups: c.HourDays, DayRollups: c.DayDays, MonthRollups: c.MonthDays,
		Campaigns: c.CampaignDays,
	}, time.Now(), g.ClickhouseCluster)
	if err != nil {
		return err
	}
	if c.DryRun {
		for _, a := range actions {
			fmt.Fprintf(stdout, "%s;\n", a.SQL)
		}
		return nil
	}
	if err := retention.Apply(ctx, conn, actions, g.logger); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d retention statement(s) applied\n", len(actions))
	return nil
}
