package retention

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/internal/testenv"
)

func TestHasTTL(t *testing.T) {
	for _, tc := range []struct {
		major, minor uint64
		want         bool
	}{{18, 16, false}, {19, 5, false}, {19, 6, true}, {24, 3, true}} {
		if got := HasTTL(tc.major, tc.minor); got != tc.want {
			t.Errorf("HasTTL(%d.%d) = %v", tc.major, tc.minor, got)
		}
	}
}

func TestTTLStatement(t *testing.T) {
	if got := TTLStatement("events", "received_at", 400); got != "ALTER TABLE events MODIFY TTL received_at + INTERVAL 400 DAY" {
		t.Errorf("TTLStatement = %q", got)
	}
}

// On 18.16 retention drops the partitions that end before the cutoff, in the tables the policy
// names and no others.
func TestDropExpiredPartitionsOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	if v, _ := conn.ServerVersion(); HasTTL(v.Version.Major, v.Version.Minor) {
		t.Skipf("server %s has TTL; the partition path is for older servers", v.Version)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, source_ip)")
	if err != nil {
		t.Fatal(err)
	}
	for m := time.January; m <= time.June; m++ {
		for _, day := range []int{1, 28} {
			if err := batch.Append(uuid.New(), time.Date(2005, m, day, 12, 0, 0, 0, time.UTC), "t", "US", string(make([]byte, 16))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// 60 days before 15 June is 16 April: January to March are wholly older; April stays.
	actions, err := Plan(ctx, conn, Policy{Events: 60}, time.Date(2005, 6, 15, 0, 0, 0, 0, time.UTC), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 6 || actions[0].SQL != "ALTER TABLE events DROP PARTITION 200501" || actions[3].SQL != "ALTER TABLE event_ids DROP PARTITION 200501" {
		t.Fatalf("plan = %+v", actions)
	}
	if err := Apply(ctx, conn, actions, testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT count() FROM events") + count("SELECT count() FROM event_ids"); got != 12 {
		t.Errorf("events and their ids after retention: %d rows, want 6 each (April to June)", got)
	}
	if got := count("SELECT countMerge(messages) FROM rollup_country_day"); got != 12 {
		t.Errorf("day rollup lost rows: %d, want 12", got)
	}

	// Day rollups are partitioned by year: 2005 goes only once a cutoff passes into 2006.
	if actions, _ := Plan(ctx, conn, Policy{DayRollups: 100}, time.Date(2006, 3, 1, 0, 0, 0, 0, time.UTC), ""); len(actions) != 0 {
		t.Errorf("cutoff in 2005 drops %+v", actions)
	}
	actions, _ = Plan(ctx, conn, Policy{DayRollups: 100}, time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC), "")
	if err := Apply(ctx, conn, actions, testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT count() FROM rollup_country_day") + count("SELECT count() FROM rollup_asn_day"); got != 0 {
		t.Errorf("day rollups after a 2006 cutoff hold %d rows", got)
	}
	if got := count("SELECT count() FROM rollup_country_hour"); got == 0 {
		t.Error("hour rollup emptied though the policy keeps it")
	}

	// Campaign results and host lookups expire by when they were made.
	hosts, err := conn.PrepareBatch(ctx, "INSERT INTO host_addresses (resolved_at, host, address)")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)} {
		if err := hosts.Append(at, "www.example.mc", string(make([]byte, 16))); err != nil {
			t.Fatal(err)
		}
	}
	if err := hosts.Send(); err != nil {
		t.Fatal(err)
	}
	actions, _ = Plan(ctx, conn, Policy{Campaigns: 90}, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), "")
	if len(actions) != 1 || actions[0].SQL != "ALTER TABLE host_addresses DROP PARTITION 202601" {
		t.Fatalf("campaign plan = %+v", actions)
	}
	if err := Apply(ctx, conn, actions, testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT count() FROM host_addresses"); got != 1 {
		t.Errorf("host_addresses after retention: %d rows, want 1", got)
	}
}
