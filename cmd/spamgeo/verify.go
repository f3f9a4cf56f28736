package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/audit"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// VerifyCmd is `spamgeo verify`.
type VerifyCmd struct {
	Period      string `help:"The days to check, as report takes them (2005, 2005Q2, 2005-04, 2005-04-01..2005-09-30); every day with messages when empty." env:"SPAMGEO_VERIFY_PERIOD"`
	SinkGroup   string `help:"The sinks' Kafka consumer group, whose committed offsets are shown beside what ClickHouse stored." default:"spamgeo-sink" env:"SPAMGEO_VERIFY_SINK_GROUP"`
	MetricsFile string `help:"Also write the result as Prometheus metrics to this file (spamgeo_verify_differences, spamgeo_verify_last_run_timestamp_seconds), replaced atomically: point it into node_exporter's textfile directory and deploy/prometheus/alerts.yml alerts on it." placeholder:"FILE" env:"SPAMGEO_VERIFY_METRICS_FILE"`
}

// Help says what verify compares.
func (c *VerifyCmd) Help() string {
	return "Checks, day by day and trap by trap, that events holds every event id once, and compares, day by day " +
		"(month by month for the month rollups) and trap by trap, the messages of the events table with every rollup, the daily views and event_ids, and the highest stored offset per partition " +
		"with ingest_offsets. Prints each difference and exits with status 1 when there is one; " +
		"it also shows, per partition of the enriched topic, the sink group's committed offset beside where ClickHouse's " +
		"rows end (information: the sink skips what it stored and did not commit, and commits past copies it skipped). " +
		"`spamgeo repair` removes the copies and rebuilds the rollups of the days concerned."
}

// errDifferences makes verify exit non-zero after printing what differs.
var errDifferences = errors.New("events stored twice or derived tables that differ from events: see above; spamgeo repair --period ... repairs them")

// Run verifies and prints the result.
func (c *VerifyCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	conn, p, err := openAudit(ctx, g, c.Period)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := audit.Verify(ctx, conn, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d messages in events; checked %d tables and views.\n", p, res.Events, len(res.Checked))
	c.printOffsets(ctx, g, conn, stdout)
	if c.MetricsFile != "" {
		if err := writeVerifyMetrics(c.MetricsFile, res); err != nil {
			return err
		}
	}
	if res.OK() {
		fmt.Fprintln(stdout, "Every event is stored once, and every rollup, view, event_ids and ingest_offsets agrees with events.")
		return nil
	}
	if len(res.Duplicates) > 0 {
		t := table.NewWriter()
		t.SetTitle("Events stored more than once")
		t.AppendHeader(table.Row{"Day", "Trap", "Rows", "Distinct event ids"})
		for _, d := range res.Duplicates {
			t.AppendRow(table.Row{d.Day.Format(time.DateOnly), d.Trap, d.Rows, d.Distinct})
		}
		fmt.Fprintln(stdout, t.Render())
	}
	if len(res.Differences) > 0 {
		t := table.NewWriter()
		t.AppendHeader(table.Row{"Table", "Day", "Trap", "Events", "Table has"})
		for _, d := range res.Differences {
			bucket := d.Bucket.Format(time.DateOnly)
			if d.Monthly {
				bucket = d.Bucket.Format("2006-01")
			}
			t.AppendRow(table.Row{d.Table, bucket, d.Trap, d.Events, d.Derived})
		}
		fmt.Fprintln(stdout, t.Render())
	}
	if len(res.Offsets) > 0 {
		t := table.NewWriter()
		t.AppendHeader(table.Row{"Topic", "Partition", "Highest offset in events", "In ingest_offsets", "Meaning"})
		for _, o := range res.Offsets {
			meaning := "the sink looks up again messages it holds (harmless)"
			if o.Ledger > o.Events {
				meaning = "the sink skips messages events lacks: reset the sink group's offset to the events' + 1"
			}
			t.AppendRow(table.Row{o.Topic, o.Partition, o.Events, o.Ledger, meaning})
		}
		fmt.Fprintln(stdout, t.Render())
	}
	return errDifferences
}

// writeVerifyMetrics writes the result for node_exporter's textfile collector.
func writeVerifyMetrics(file string, res audit.Result) error {
	reg := prometheus.NewRegistry()
	differences := prometheus.NewGauge(prometheus.GaugeOpts{Name: "spamgeo_verify_differences",
		Help: "Days and traps with events stored more than once, days (or months) and traps where a derived table differs from events, and partitions whose ledger differs, at the last run of spamgeo verify."})
	ran := prometheus.NewGauge(prometheus.GaugeOpts{Name: "spamgeo_verify_last_run_timestamp_seconds",
		Help: "When spamgeo verify last completed."})
	reg.MustRegister(differences, ran)
	differences.Set(float64(len(res.Duplicates) + len(res.Differences) + len(res.Offsets)))
	ran.SetToCurrentTime()
	if err := prometheus.WriteToTextfile(file, reg); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}

// printOffsets shows, per partition of the enriched topic, the sink group's committed offset,
// where ClickHouse's rows end, and the topic's end. Kafka being away is said, not an error:
// the counts are ClickHouse's.
func (c *VerifyCmd) printOffsets(ctx context.Context, g *Globals, conn clickhousedb.Conn, stdout io.Writer) {
	k, topic := g.kafka(), g.KafkaEnrichedTopic
	stored, err := audit.LedgerOffsets(ctx, conn, topic)
	var committed, next map[int]int64
	if err == nil {
		committed, err = k.Committed(ctx, c.SinkGroup, topic)
	}
	if err == nil {
		_, next, err = k.Ends(ctx, topic)
	}
	if err != nil {
		fmt.Fprintf(stdout, "Kafka offsets not compared: %v\n", err)
		return
	}
	t := table.NewWriter()
	t.AppendHeader(table.Row{"Partition", "Committed by " + c.SinkGroup, "Stored up to", "Topic end", ""})
	for p := range len(next) {
		note := "in step"
		switch s, c := stored[p], committed[p]; {
		case c < 0:
			note = "never committed"
		case c < s:
			note = fmt.Sprintf("%d stored, not committed: skipped on restart", s-c)
		case c > s:
			note = fmt.Sprintf("%d read past the last stored: copies or dead letters", c-s)
		}
		if committed[p] < next[p] {
			note += fmt.Sprintf("; %d to read", next[p]-max(committed[p], 0))
		}
		t.AppendRow(table.Row{p, committed[p], stored[p], next[p], note})
	}
	fmt.Fprintln(stdout, t.Render())
}

// RepairCmd is `spamgeo repair`.
type RepairCmd struct {
	Period    string `help:"The days to repair, as for verify; every day with messages when empty." env:"SPAMGEO_REPAIR_PERIOD"`
	SinkGroup string `help:"The sinks' Kafka consumer group: repair refuses to run while it has members." default:"spamgeo-sink" env:"SPAMGEO_REPAIR_SINK_GROUP"`
}

// Help says what repair changes and when it refuses.
func (c *RepairCmd) Help() string {
	return "Runs verify over the period, rewrites without its copies every month of events that holds an event more " +
		"than once, and rebuilds from events every partition (a month, a year for the day " +
		"and month rollups) of a rollup or of event_ids that differs, built aside and swapped in, then verifies again. " +
		"Idempotent. It refuses to run while the sink group has members: events stored meanwhile would be missing " +
		"from a rebuilt partition. Stop the sinks, repair, start them."
}

// Run checks that no sink runs, repairs and prints what changed.
func (c *RepairCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	if g.ClickhouseCluster != "" {
		// The tables there are Distributed over each shard's replicated _local tables.
		return errors.New("repair rebuilds one server's tables; in cluster mode rebuild a shard's *_local partitions on it by hand (docs/operations.md)")
	}
	members, err := g.kafka().GroupMembers(ctx, c.SinkGroup)
	if err != nil {
		return fmt.Errorf("cannot tell whether a sink is running: %w", err)
	}
	if members > 0 {
		return fmt.Errorf("the sink group %s has %d member(s): stop the sinks first (events stored during a repair would be missing from the rebuilt partitions)", c.SinkGroup, members)
	}
	conn, p, err := openAudit(ctx, g, c.Period)
	if err != nil {
		return err
	}
	defer conn.Close()
	rebuilt, err := audit.Repair(ctx, conn, p, g.logger)
	for _, r := range rebuilt {
		if r.Table == "events" {
			fmt.Fprintf(stdout, "rewrote events partition %s without its copies: %d rows, was %d\n", r.Partition, r.After, r.Before)
			continue
		}
		fmt.Fprintf(stdout, "rebuilt %s partition %s from events: %d messages, was %d\n", r.Table, r.Partition, r.After, r.Before)
	}
	if err != nil {
		return err
	}
	if len(rebuilt) == 0 {
		fmt.Fprintf(stdout, "%s: nothing to rebuild\n", p)
	}
	after, err := audit.Verify(ctx, conn, p)
	if err != nil {
		return err
	}
	if n := len(after.Duplicates) + len(after.Differences); n > 0 {
		return fmt.Errorf("%d difference(s) remain after the repair: run spamgeo verify", n)
	}
	if len(after.Offsets) > 0 {
		fmt.Fprintln(stdout, "ingest_offsets still differs from events (repair does not change it): see spamgeo verify")
	}
	return nil
}

// openAudit connects to ClickHouse and resolves the period: the one given, or every day that
// events or the day rollup has messages of.
func openAudit(ctx context.Context, g *Globals, spec string) (clickhousedb.Conn, period.Period, error) {
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return nil, period.Period{}, err
	}
	var p period.Period
	if spec != "" {
		p, err = period.Parse(spec)
	} else {
		var first, last time.Time
		if first, last, err = audit.Span(ctx, conn); err == nil {
			p, err = period.Days(first, last)
		}
	}
	if err != nil {
		conn.Close()
		return nil, period.Period{}, err
	}
	return conn, p, nil
}
