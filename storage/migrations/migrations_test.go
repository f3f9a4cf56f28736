package migrations_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

func TestAllParses(t *testing.T) {
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Fatalf("%d migrations embedded", len(all))
	}
	for _, m := range all {
		if len(m.Steps) == 0 {
			t.Errorf("migration %d has no statements", m.Version)
		}
		for _, s := range m.Steps {
			if strings.Contains(s.SQL, "--") || strings.HasSuffix(s.SQL, ";") || strings.Contains(s.Check, "--") {
				t.Errorf("migration %d step not cleaned: %+v", m.Version, s)
			}
		}
	}
}

// describe lists every table of the database with its engine, and every column with its type.
func describe(t *testing.T, conn clickhousedb.Conn, db string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []string{
		"SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name",
		"SELECT concat(table, '.', name), type FROM system.columns WHERE database = ? ORDER BY table, name",
	} {
		rows, err := conn.Query(ctx, q, db)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b2 string
			if err := rows.Scan(&a, &b2); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s\n", a, b2)
		}
		rows.Close()
	}
	return b.String()
}

func open(t *testing.T, cfg clickhousedb.Configuration) clickhousedb.Conn {
	t.Helper()
	conn, err := cfg.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestApplyTwiceOnRealServer(t *testing.T) {
	cfg := testenv.ClickHouse(t)
	ctx := context.Background()
	m := migrations.New(cfg, testenv.Logger(t))
	all, _ := migrations.All()
	if pending, err := m.Pending(ctx); err != nil || len(pending) != len(all) {
		t.Fatalf("fresh database: %d pending (%v), want %d", len(pending), err, len(all))
	}
	if applied, err := m.Apply(ctx); err != nil || len(applied) != len(all) {
		t.Fatalf("applied %d migrations (%v), want %d", len(applied), err, len(all))
	}
	conn := open(t, cfg)
	first := describe(t, conn, cfg.Database)
	for _, want := range []string{"events MergeTree", "ingest_offsets AggregatingMergeTree",
		"rollup_country_minute AggregatingMergeTree", "rollup_country_hour AggregatingMergeTree",
		"rollup_country_day AggregatingMergeTree", "rollup_asn_hour AggregatingMergeTree",
		"rollup_asn_day AggregatingMergeTree", "rollup_country_day_mv MaterializedView",
		"rollup_country_month AggregatingMergeTree", "rollup_asn_month_mv MaterializedView",
		"daily_country View", "daily_country_share View", "daily_asn View", "schema_migrations MergeTree",
		"events.kafka_offset Int64"} {
		if !strings.Contains(first, want+"\n") {
			t.Errorf("schema lacks %q:\n%s", want, first)
		}
	}
	if again, err := m.Apply(ctx); err != nil || len(again) != 0 {
		t.Errorf("second migrate applied %d migrations (%v)", len(again), err)
	}
	if second := describe(t, conn, cfg.Database); second != first {
		t.Errorf("second migrate changed the schema:\nbefore\n%s\nafter\n%s", first, second)
	}
	var recorded uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&recorded); err != nil || recorded != uint64(len(all)) {
		t.Errorf("schema_migrations holds %d rows (%v), want %d", recorded, err, len(all))
	}
}

// insertV1 writes events with the columns of schema version 1 only.
func insertV1(t *testing.T, conn clickhousedb.Conn, times []time.Time) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(),
		"INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, asn, as_org, size)")
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range times {
		ip := [16]byte{10: 0xff, 11: 0xff, 12: 30, 15: byte(i)}
		if err := batch.Append(uuid.New(), at, "t", "synth", string(ip[:]), []string{"US", "KR"}[i%2],
			[]string{"NA", "AS"}[i%2], uint32(64000+i%2), "Org", uint32(100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// Upgrading from every earlier version, with data in place, ends in the same schema as a fresh
// install, and the events stored before the upgrade are in every rollup and view.
func TestMigrateFromEveryVersionOnRealServer(t *testing.T) {
	ctx := context.Background()
	all, _ := migrations.All()
	fresh := testenv.ClickHouse(t)
	if _, err := migrations.New(fresh, testenv.Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	want := describe(t, open(t, fresh), fresh.Database)
	times := []time.Time{
		time.Date(2005, 4, 1, 23, 59, 59, 0, time.UTC), time.Date(2005, 4, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2005, 4, 2, 0, 0, 30, 0, time.UTC), time.Date(2005, 4, 2, 1, 0, 0, 0, time.UTC),
	}
	for _, from := range all[:len(all)-1] {
		t.Run(fmt.Sprintf("from_v%d", from.Version), func(t *testing.T) {
			cfg := testenv.ClickHouse(t)
			m := migrations.New(cfg, testenv.Logger(t))
			if _, err := m.ApplyUpTo(ctx, from.Version); err != nil {
				t.Fatal(err)
			}
			conn := open(t, cfg)
			insertV1(t, conn, times)
			if _, err := m.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if got := describe(t, conn, cfg.Database); got != want {
				t.Errorf("upgraded schema differs from a fresh install:\nupgraded\n%s\nfresh\n%s", got, want)
			}
			for q, want := range map[string]uint64{
				"SELECT countMerge(messages) FROM rollup_country_minute": 4,
				"SELECT countMerge(messages) FROM rollup_country_hour":   4,
				"SELECT countMerge(messages) FROM rollup_country_day":    4,
				"SELECT countMerge(messages) FROM rollup_asn_hour":       4,
				"SELECT countMerge(messages) FROM rollup_asn_day":        4,
				"SELECT countMerge(messages) FROM rollup_country_month":  4,
				"SELECT countMerge(messages) FROM rollup_asn_month":      4,
				"SELECT count() FROM rollup_country_month":               2,
				"SELECT sum(messages) FROM daily_country":                4,
				"SELECT sum(messages) FROM daily_asn":                    4,
				"SELECT count() FROM rollup_country_minute":              4,
				"SELECT count() FROM rollup_country_hour":                4,
				"SELECT count() FROM daily_country":                      3,
			} {
				var got uint64
				if err := conn.QueryRow(ctx, q).Scan(&got); err != nil || got != want {
					t.Errorf("%s = %d (%v), want %d", q, got, err, want)
				}
			}
		})
	}
}

// Every SQL example in docs/sql.md runs on the real 18.16 server against the current schema.
func TestDocsSQLExamplesOnRealServer(t *testing.T) {
	doc, err := os.ReadFile(testenv.Path(t, "docs", "sql.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	insertV1(t, conn, []time.Time{time.Date(2005, 6, 1, 12, 0, 0, 0, time.UTC)})
	ran := 0
	for _, block := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		// A statement ends with ";" at the end of a line (a ";" inside a string does not).
		for _, stmt := range regexp.MustCompile(`(?m);\s*$`).Split(regexp.MustCompile(`(?m)^\s*--.*$`).ReplaceAllString(block[1], ""), -1) {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			rows, err := conn.Query(ctx, stmt)
			if err != nil {
				t.Errorf("docs/sql.md example fails: %v\n%s", err, stmt)
				continue
			}
			rows.Close()
			ran++
		}
	}
	if ran < 19 {
		t.Errorf("ran %d examples", ran)
	}
}
