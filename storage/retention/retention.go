// Package retention removes data older than a configured age from spamgeo's tables. On servers
// that have TTL (ClickHouse 19.6 and later) it sets a table TTL and lets ClickHouse expire rows
// itself; on older servers (18.16) it drops whole partitions that lie entirely before the cutoff,
// and must be run periodically (`spamgeo retention` from cron or a Kubernetes CronJob).
package retention

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// Policy is how many days each kind of table keeps; 0 keeps everything.
type Policy struct {
	Events        int // the events table, one row per message, and event_ids, the ids the sink checks copies against
	MinuteRollups int // rollup_country_minute
	HourRollups   int // rollup_country_hour, rollup_asn_hour
	DayRollups    int // rollup_country_day, rollup_asn_day
	MonthRollups  int // rollup_country_month, rollup_asn_month
	Campaigns     int // campaign_keys and campaign_days (by generation), host_addresses (by lookup)
}

// table is one table retention manages: its time column and how it is partitioned.
type table struct {
	name, column string
	yearly       bool // partitioned by toYear, else by toYYYYMM
	days         func(Policy) int
}

var tables = []table{
	{"events", "received_at", false, func(p Policy) int { return p.Events }},
	{"event_ids", "received_at", false, func(p Policy) int { return p.Events }},
	{"rollup_country_minute", "t", false, func(p Policy) int { return p.MinuteRollups }},
	{"rollup_country_hour", "t", false, func(p Policy) int { return p.HourRollups }},
	{"rollup_asn_hour", "t", false, func(p Policy) int { return p.HourRollups }},
	{"rollup_country_day", "t", true, func(p Policy) int { return p.DayRollups }},
	{"rollup_asn_day", "t", true, func(p Policy) int { return p.DayRollups }},
	{"rollup_country_month", "t", true, func(p Policy) int { return p.MonthRollups }},
	{"rollup_asn_month", "t", true, func(p Policy) int { return p.MonthRollups }},
	{"campaign_keys", "generation", false, func(p Policy) int { return p.Campaigns }},
	{"campaign_days", "generation", false, func(p Policy) int { return p.Campaigns }},
	{"host_addresses", "resolved_at", false, func(p Policy) int { return p.Campaigns }},
}

// Action is one statement retention runs (or, in a dry run, would run).
type Action struct {
	Table string
	SQL   string
}

// HasTTL reports whether a server of this version supports table TTL (19.6 and later).
func HasTTL(major, minor uint64) bool { return major > 19 || major == 19 && minor >= 6 }

//go:embed ttl.sql
var ttlTemplate string

// TTLStatement sets a table's TTL. The template is a file so the modern-engine tests run it too.
func TTLStatement(tableName, column string, days int) string {
	var code []string
	for _, line := range strings.Split(ttlTemplate, "\n") {
		if !strings.HasPrefix(line, "--") && strings.TrimSpace(line) != "" {
			code = append(code, line)
		}
	}
	return strings.NewReplacer("{table}", tableName, "{column}", column, "{days}", strconv.Itoa(days)).
		Replace(strings.Join(code, "\n"))
}

// Plan lists what enforcing p at now takes on the server conn is open on. With a cluster, the
// statements address every server's local tables (ON CLUSTER); partitions to drop are read on
// the server conn is open on.
func Plan(ctx context.Context, conn clickhousedb.Conn, p Policy, now time.Time, cluster string) ([]Action, error) {
	v, err := conn.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	var out []Action
	for _, t := range tables {
		days := t.days(p)
		if days <= 0 {
			continue
		}
		if cluster != "" {
			t.name += "_local"
		}
		if HasTTL(v.Version.Major, v.Version.Minor) {
			out = append(out, Action{t.name, onCluster(TTLStatement(t.name, t.column, days), t.name, cluster)})
			continue
		}
		expired, err := expiredPartitions(ctx, conn, t, now.AddDate(0, 0, -days))
		if err != nil {
			return nil, err
		}
		for _, part := range expired {
			out = append(out, Action{t.name, onCluster(fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.name, part), t.name, cluster)})
		}
	}
	return out, nil
}

// onCluster adds ON CLUSTER after the table name of an ALTER TABLE statement.
func onCluster(sql, tableName, cluster string) string {
	if cluster == "" {
		return sql
	}
	return strings.Replace(sql, "ALTER TABLE "+tableName, "ALTER TABLE "+tableName+" ON CLUSTER "+cluster, 1)
}

// expiredPartitions lists the partitions of t that end before cutoff: months (or years) before
// the cutoff's own. Rows of the cutoff's month stay until the whole month has expired.
func expiredPartitions(ctx context.Context, conn clickhousedb.Conn, t table, cutoff time.Time) ([]string, error) {
	limit := cutoff.UTC().Year()*100 + int(cutoff.UTC().Month())
	if t.yearly {
		limit = cutoff.UTC().Year()
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = ? AND active ORDER BY partition", t.name)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var part string
		if err := rows.Scan(&part); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("partition %q of %s is not a month or year", part, t.name)
		}
		if n < limit {
			out = append(out, part)
		}
	}
	return out, rows.Err()
}

// Apply runs the actions in order.
func Apply(ctx context.Context, conn clickhousedb.Conn, actions []Action, logger *slog.Logger) error {
	for _, a := range actions {
		if err := conn.Exec(ctx, a.SQL); err != nil {
			return fmt.Errorf("%s: %w", a.SQL, err)
		}
		logger.Info("retention applied", "table", a.Table, "sql", a.SQL)
	}
	return nil
}
