package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/schemas/migrations"
)

func TestAllParses(t *testing.T) {
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	for _, m := range all {
		if len(m.Statements) == 0 {
			t.Errorf("migration %d has no statements", m.Version)
		}
		for _, s := range m.Statements {
			if strings.Contains(s, "--") || strings.HasSuffix(s, ";") {
				t.Errorf("migration %d statement not cleaned: %q", m.Version, s)
			}
		}
	}
}

// describe lists every table of the database with its engine, and every column with its type.
func describe(t *testing.T, ctx context.Context, conn clickhousedb.Conn, db string) string {
	t.Helper()
	var b strings.Builder
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "table %s %s\n", name, engine)
	}
	rows.Close()
	rows, err = conn.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = ? ORDER BY table, name", db)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "column %s.%s %s\n", table, name, typ)
	}
	rows.Close()
	return b.String()
}

func TestApplyTwiceOnRealServer(t *testing.T) {
	cfg := testenv.ClickHouse(t)
	ctx := context.Background()
	m := migrations.New(cfg, testenv.Logger(t))
	all, _ := migrations.All()

	pending, err := m.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(all) {
		t.Fatalf("fresh database: %d pending, want %d", len(pending), len(all))
	}
	applied, err := m.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(all) {
		t.Fatalf("applied %d migrations, want %d", len(applied), len(all))
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first := describe(t, ctx, conn, cfg.Database)
	for _, want := range []string{"table events MergeTree", "table daily_country SummingMergeTree",
		"table daily_country_mv MaterializedView", "table schema_migrations MergeTree"} {
		if !strings.Contains(first, want) {
			t.Errorf("schema lacks %q:\n%s", want, first)
		}
	}

	again, err := m.Apply(ctx)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second migrate applied %d migrations", len(again))
	}
	if second := describe(t, ctx, conn, cfg.Database); second != first {
		t.Errorf("second migrate changed the schema:\nbefore\n%s\nafter\n%s", first, second)
	}
	var recorded uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != uint64(len(all)) {
		t.Errorf("schema_migrations holds %d rows, want %d", recorded, len(all))
	}
}

// The materialized view fills the daily rollup, placing each event on its UTC day whatever the
// server's time zone.
func TestDailyRollupOnRealServer(t *testing.T) {
	cfg := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := migrations.New(cfg, testenv.Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, country_code, continent_code, size)")
	if err != nil {
		t.Fatal(err)
	}
	ip := string(make([]byte, 16))
	for _, e := range []struct {
		at      time.Time
		country string
	}{
		{time.Date(2005, 4, 1, 23, 59, 59, 0, time.UTC), "US"},
		{time.Date(2005, 4, 2, 0, 0, 0, 0, time.UTC), "US"},
		{time.Date(2005, 4, 2, 10, 0, 0, 0, time.FixedZone("KST", 9*3600)), "KR"}, // 01:00 UTC
		{time.Date(2005, 4, 2, 12, 0, 0, 0, time.UTC), "US"},
	} {
		if err := batch.Append(uuid.New(), e.at, "t", "synth", ip, e.country, "", uint32(100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT toString(day), country_code, sum(messages), sum(bytes) FROM daily_country GROUP BY day, country_code ORDER BY day, country_code")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var day, cc string
		var n, bytes uint64
		if err := rows.Scan(&day, &cc, &n, &bytes); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %d", day, cc, n, bytes))
	}
	want := []string{"2005-04-01 US 1 100", "2005-04-02 KR 1 100", "2005-04-02 US 2 200"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("daily_country = %v, want %v", got, want)
	}
}
