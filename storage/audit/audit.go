// Package audit checks that every rollup and view agrees with the events table they are computed
// from, day by day and trap by trap, and that ingest_offsets and event_ids agree with it too; and
// it rebuilds from events the partitions of the tables that do not. It exists for what no insert
// protocol can promise on a non-replicated ClickHouse (18.16): a server killed in the middle of a
// block can leave events and a materialized view out of step.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// A derived table is checked against events at its bucket (day or month) and trap, and
// rebuilt partition by partition.
type derived struct {
	name      string
	time      string // its time column
	messages  string // the expression of its message count
	byMonth   bool   // compared per month (month rollups), else per day
	byTrap    bool   // it has trap_id
	yearly    bool   // partitioned by toYear, else by toYYYYMM
	rebuildOK bool   // a table (rebuilt from its backfill), not a view
}

var tables = []derived{
	{"rollup_country_minute", "t", "countMerge(messages)", false, true, false, true},
	{"rollup_country_hour", "t", "countMerge(messages)", false, true, false, true},
	{"rollup_country_day", "t", "countMerge(messages)", false, true, true, true},
	{"rollup_country_month", "t", "countMerge(messages)", true, true, true, true},
	{"rollup_asn_hour", "t", "countMerge(messages)", false, true, false, true},
	{"rollup_asn_day", "t", "countMerge(messages)", false, true, true, true},
	{"rollup_asn_month", "t", "countMerge(messages)", true, true, true, true},
	{"event_ids", "received_at", "count()", false, false, false, true},
	{"daily_country", "day", "sum(messages)", false, false, false, false}, // views: day is a Date
	{"daily_asn", "day", "sum(messages)", false, false, false, false},
}

// Difference is one bucket (a day or, for month rollups, a month) of one trap ("" for tables
// without traps) where a derived table disagrees with events.
type Difference struct {
	Table   string
	Bucket  time.Time
	Monthly bool
	Trap    string
	Events  uint64 // messages in events
	Derived uint64 // messages in the table
}

// OffsetDifference is a partition of an enriched topic whose highest stored offset differs
// between events and ingest_offsets. Higher in ingest_offsets means the sink will skip messages
// that events lacks (lost, until the group's offsets are reset); lower means it would look up
// again messages it holds (harmless: their event ids are found).
type OffsetDifference struct {
	Topic          string
	Partition      uint32
	Events, Ledger int64 // -1: none
}

// Duplicate is a day and trap where events holds more rows than distinct event ids: an event
// stored twice, which every table derived from it counts twice too.
type Duplicate struct {
	Day      time.Time
	Trap     string
	Rows     uint64
	Distinct uint64
}

// Result is what Verify found.
type Result struct {
	Period      period.Period
	Checked     []string // the tables and views compared with events
	Events      uint64   // messages in events over the period
	Duplicates  []Duplicate
	Differences []Difference
	Offsets     []OffsetDifference
}

// Span returns the first and last day that events or the day rollup has messages of (today
// when neither has any), so that a check of everything misses no stray rollup row.
func Span(ctx context.Context, conn clickhousedb.Conn) (first, last time.Time, err error) {
	var n uint64
	err = conn.QueryRow(ctx, `SELECT min(t), max(t), count() FROM (
		SELECT toStartOfDay(received_at) AS t FROM events UNION ALL SELECT t FROM rollup_country_day)`).Scan(&first, &last, &n)
	if err != nil {
		return first, last, fmt.Errorf("days with messages: %w", err)
	}
	if n == 0 {
		first = time.Now().UTC()
		return first, first, nil
	}
	return first.UTC(), last.UTC(), nil
}

// OK says whether everything agreed.
func (r Result) OK() bool {
	return len(r.Duplicates) == 0 && len(r.Differences) == 0 && len(r.Offsets) == 0
}

type cell struct {
	bucket time.Time
	trap   string
}

// Verify compares every derived table with events over p.
func Verify(ctx context.Context, conn clickhousedb.Conn, p period.Period) (Result, error) {
	res := Result{Period: p}
	from, to := p.From.UTC().Format(time.DateTime), p.To.UTC().Format(time.DateTime)
	events := map[[2]bool]map[cell]uint64{} // by (monthly, by trap)
	for _, byMonth := range []bool{false, true} {
		for _, byTrap := range []bool{false, true} {
			m, err := counts(ctx, conn, "events", "received_at", "count()", byMonth, byTrap, from, to)
			if err != nil {
				return res, err
			}
			events[[2]bool{byMonth, byTrap}] = m
		}
	}
	for _, n := range events[[2]bool{false, false}] {
		res.Events += n
	}
	distinct, err := counts(ctx, conn, "events", "received_at", "uniqExact(event_id)", false, true, from, to)
	if err != nil {
		return res, err
	}
	for c, rows := range events[[2]bool{false, true}] {
		if distinct[c] != rows {
			res.Duplicates = append(res.Duplicates, Duplicate{Day: c.bucket, Trap: c.trap, Rows: rows, Distinct: distinct[c]})
		}
	}
	slices.SortFunc(res.Duplicates, func(a, b Duplicate) int {
		return cmpAll(a.Day.Compare(b.Day), strings.Compare(a.Trap, b.Trap))
	})
	for _, t := range tables {
		got, err := counts(ctx, conn, t.name, t.time, t.messages, t.byMonth, t.byTrap, from, to)
		if err != nil {
			return res, err
		}
		res.Checked = append(res.Checked, t.name)
		want := events[[2]bool{t.byMonth, t.byTrap}]
		for c := range union(want, got) {
			if want[c] != got[c] {
				res.Differences = append(res.Differences, Difference{Table: t.name, Bucket: c.bucket, Monthly: t.byMonth,
					Trap: c.trap, Events: want[c], Derived: got[c]})
			}
		}
	}
	slices.SortFunc(res.Differences, func(a, b Difference) int {
		return cmpAll(strings.Compare(a.Table, b.Table), a.Bucket.Compare(b.Bucket), strings.Compare(a.Trap, b.Trap))
	})
	offsets, err := offsetDifferences(ctx, conn)
	if err != nil {
		return res, err
	}
	res.Checked = append(res.Checked, "ingest_offsets")
	res.Offsets = offsets
	return res, nil
}

func cmpAll(c ...int) int {
	for _, x := range c {
		if x != 0 {
			return x
		}
	}
	return 0
}

func union(a, b map[cell]uint64) map[cell]bool {
	out := map[cell]bool{}
	for c := range a {
		out[c] = true
	}
	for c := range b {
		out[c] = true
	}
	return out
}

// counts reads the messages of table per day or month, and per trap, over [from, to).
func counts(ctx context.Context, conn clickhousedb.Conn, table, column, messages string, byMonth, byTrap bool, from, to string) (map[cell]uint64, error) {
	bucket, trap := "toDate("+column+")", "''"
	if byMonth {
		bucket = "toStartOfMonth(" + column + ")"
	}
	if byTrap {
		trap = "trap_id"
	}
	sql := fmt.Sprintf("SELECT %s AS b, %s AS trap, %s AS n FROM %s WHERE %s GROUP BY b, trap", bucket, trap, messages, table, within(column))
	rows, err := conn.Query(ctx, sql, bounds(column, from, to)...)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", table, err)
	}
	defer rows.Close()
	out := map[cell]uint64{}
	for rows.Next() {
		var c cell
		var n uint64
		if err := rows.Scan(&c.bucket, &c.trap, &n); err != nil {
			return nil, fmt.Errorf("count %s: %w", table, err)
		}
		c.bucket = time.Date(c.bucket.Year(), c.bucket.Month(), c.bucket.Day(), 0, 0, 0, 0, time.UTC)
		if n > 0 {
			out[c] = n
		}
	}
	return out, rows.Err()
}

// within is the condition that column lies in [from, to), bound as bounds says. The views' day
// is a Date, which 18.16 does not compare with a DateTime as a time.
func within(column string) string {
	if column == "day" {
		return "day >= toDate(?) AND day < toDate(?)"
	}
	return column + " >= toDateTime(?, 'UTC') AND " + column + " < toDateTime(?, 'UTC')"
}

func bounds(column, from, to string) []any {
	if column == "day" {
		return []any{from[:len(time.DateOnly)], to[:len(time.DateOnly)]}
	}
	return []any{from, to}
}

// offsetDifferences compares the highest offset of every partition in events with ingest_offsets
// (over all time: the ledger has no time).
func offsetDifferences(ctx context.Context, conn clickhousedb.Conn) ([]OffsetDifference, error) {
	read := func(sql string) (map[[2]any]int64, error) {
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return nil, fmt.Errorf("stored offsets: %w", err)
		}
		defer rows.Close()
		out := map[[2]any]int64{}
		for rows.Next() {
			var topic string
			var partition uint32
			var offset int64
			if err := rows.Scan(&topic, &partition, &offset); err != nil {
				return nil, fmt.Errorf("stored offsets: %w", err)
			}
			out[[2]any{topic, partition}] = offset
		}
		return out, rows.Err()
	}
	events, err := read("SELECT kafka_topic, kafka_partition, max(kafka_offset) FROM events WHERE kafka_offset >= 0 GROUP BY kafka_topic, kafka_partition")
	if err != nil {
		return nil, err
	}
	ledger, err := read("SELECT kafka_topic, kafka_partition, maxMerge(kafka_offset) FROM ingest_offsets GROUP BY kafka_topic, kafka_partition")
	if err != nil {
		return nil, err
	}
	var out []OffsetDifference
	for k := range ledger {
		if _, ok := events[k]; !ok {
			events[k] = -1
		}
	}
	for k, e := range events {
		l, ok := ledger[k]
		if !ok {
			l = -1
		}
		if l != e && !(l == -1 && e == -1) {
			out = append(out, OffsetDifference{Topic: k[0].(string), Partition: k[1].(uint32), Events: e, Ledger: l})
		}
	}
	slices.SortFunc(out, func(a, b OffsetDifference) int {
		return cmpAll(strings.Compare(a.Topic, b.Topic), int(a.Partition)-int(b.Partition))
	})
	return out, nil
}

// Rebuild is one partition of one table rebuilt from events.
type Rebuild struct {
	Table     string
	Partition string // 200504, or 2005 for yearly tables
	Before    uint64 // messages the partition held
	After     uint64 // messages it holds now: those of events
}

var backfill = regexp.MustCompile(`(?s)^INSERT INTO (\w+)\s+(SELECT .*\sFROM events)(\s+GROUP BY .*)?$`)

// rebuildQueries are each rollup's backfill from the migrations (INSERT INTO t SELECT ... FROM
// events ...): the same statement rebuilds a partition, restricted to its time range.
func rebuildQueries() (map[string][2]string, error) {
	all, err := migrations.All()
	if err != nil {
		return nil, err
	}
	out := map[string][2]string{}
	for _, m := range all {
		for _, s := range m.Steps {
			if g := backfill.FindStringSubmatch(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s.SQL), ";"))); g != nil {
				out[g[1]] = [2]string{g[2], g[3]}
			}
		}
	}
	for _, t := range tables {
		if _, ok := out[t.name]; t.rebuildOK && !ok {
			return nil, fmt.Errorf("no backfill of %s in the migrations to rebuild it from", t.name)
		}
	}
	return out, nil
}

// Repair first removes the copies from every month of events where Verify finds an event stored
// more than once, then rebuilds from events every partition of a rollup (and of event_ids) that
// is out of step over p, and returns what it changed. Each partition is built aside, in a table of
// the same structure, and swapped in with REPLACE PARTITION; running it again changes nothing.
// Events stored while it runs would be missing from the rebuilt partition, so the caller makes
// sure no sink is running. The ledger (ingest_offsets) is not rebuilt: see OffsetDifference.
func Repair(ctx context.Context, conn clickhousedb.Conn, p period.Period, logger *slog.Logger) ([]Rebuild, error) {
	found, err := Verify(ctx, conn, p)
	if err != nil {
		return nil, err
	}
	var out []Rebuild
	if len(found.Duplicates) > 0 {
		months := map[time.Time]bool{}
		for _, d := range found.Duplicates {
			months[time.Date(d.Day.Year(), d.Day.Month(), 1, 0, 0, 0, 0, time.UTC)] = true
		}
		for _, start := range slices.SortedFunc(maps.Keys(months), time.Time.Compare) {
			r, err := rebuild(ctx, conn, eventsTable, [2]string{"SELECT * FROM events", ""}, start, " LIMIT 1 BY event_id")
			if err != nil {
				return out, err
			}
			logger.Info("events stored twice removed", "partition", r.Partition, "rows_before", r.Before, "rows_after", r.After)
			out = append(out, r)
		}
		// The derived tables counted the copies too: compare them with events as it is now.
		if found, err = Verify(ctx, conn, p); err != nil {
			return out, err
		}
	}
	queries, err := rebuildQueries()
	if err != nil {
		return nil, err
	}
	todo := map[string]map[time.Time]bool{} // table -> partition starts
	for _, d := range found.Differences {
		t := tableNamed(d.Table)
		if !t.rebuildOK {
			continue // a view: right once its rollup is
		}
		start := time.Date(d.Bucket.Year(), d.Bucket.Month(), 1, 0, 0, 0, 0, time.UTC)
		if t.yearly {
			start = time.Date(d.Bucket.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if todo[t.name] == nil {
			todo[t.name] = map[time.Time]bool{}
		}
		todo[t.name][start] = true
	}
	for _, t := range tables {
		starts := make([]time.Time, 0, len(todo[t.name]))
		for s := range todo[t.name] {
			starts = append(starts, s)
		}
		slices.SortFunc(starts, time.Time.Compare)
		for _, start := range starts {
			r, err := rebuild(ctx, conn, t, queries[t.name], start, "")
			if err != nil {
				return out, err
			}
			logger.Info("partition rebuilt from events", "table", r.Table, "partition", r.Partition, "messages_before", r.Before, "messages_after", r.After)
			out = append(out, r)
		}
	}
	return out, nil
}

func tableNamed(name string) derived {
	for _, t := range tables {
		if t.name == name {
			return t
		}
	}
	return derived{}
}

// eventsTable is events itself, rebuilt from itself without its copies.
var eventsTable = derived{name: "events", time: "received_at", messages: "count()"}

// rebuild builds partition start of t aside from q (a SELECT from events and what follows its
// WHERE: a GROUP BY), then suffix, and swaps it in.
func rebuild(ctx context.Context, conn clickhousedb.Conn, t derived, q [2]string, start time.Time, suffix string) (Rebuild, error) {
	end, partition := start.AddDate(0, 1, 0), start.Format("200601")
	if t.yearly {
		end, partition = start.AddDate(1, 0, 0), start.Format("2006")
	}
	from, to := start.Format(time.DateTime), end.Format(time.DateTime)
	r := Rebuild{Table: t.name, Partition: partition}
	total := func() (uint64, error) {
		var n uint64
		err := conn.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s", t.messages, t.name, within(t.time)), bounds(t.time, from, to)...).Scan(&n)
		return n, err
	}
	var err error
	if r.Before, err = total(); err != nil {
		return r, fmt.Errorf("count %s %s: %w", t.name, partition, err)
	}
	aside := t.name + "_repair"
	steps := []struct {
		sql  string
		args []any
	}{
		{"DROP TABLE IF EXISTS " + aside, nil},
		{"CREATE TABLE " + aside + " AS " + t.name, nil},
		{"INSERT INTO " + aside + " " + q[0] + " WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')" + q[1] + suffix, []any{from, to}},
		{"ALTER TABLE " + t.name + " REPLACE PARTITION " + partition + " FROM " + aside, nil},
		{"DROP TABLE " + aside, nil},
	}
	for _, s := range steps {
		if err := conn.Exec(ctx, s.sql, s.args...); err != nil {
			return r, fmt.Errorf("rebuild %s partition %s: %s: %w", t.name, partition, strings.Fields(s.sql)[0], err)
		}
	}
	if r.After, err = total(); err != nil {
		return r, fmt.Errorf("count %s %s: %w", t.name, partition, err)
	}
	return r, nil
}

// LedgerOffsets returns, for each partition of topic that ClickHouse holds rows of, the offset
// after the highest one stored (ingest_offsets): where the sink resumes.
func LedgerOffsets(ctx context.Context, conn clickhousedb.Conn, topic string) (map[int]int64, error) {
	rows, err := conn.Query(ctx, "SELECT kafka_partition, maxMerge(kafka_offset) FROM ingest_offsets WHERE kafka_topic = ? GROUP BY kafka_partition", topic)
	if err != nil {
		return nil, fmt.Errorf("stored offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var p uint32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, fmt.Errorf("stored offsets of %s: %w", topic, err)
		}
		out[int(p)] = off + 1
	}
	return out, rows.Err()
}
