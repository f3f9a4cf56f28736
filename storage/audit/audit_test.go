package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// What a server killed in the middle of a block leaves behind, made by hand on the real server:
// a rollup that counted a block twice, one that lost a year, event ids lost for a day, a ledger
// ahead of events. Verify names each difference; Repair rebuilds exactly the partitions
// concerned, after which Verify finds only the ledger (which Repair leaves), and a second Repair
// changes nothing.
func TestVerifyAndRepairOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for i, at := range []string{"2005-04-01 10:00:00", "2005-04-01 11:00:00", "2005-04-02 10:00:00", "2005-05-10 10:00:00", "2004-12-31 23:00:00"} {
		trap := []string{"a", "b"}[i%2]
		exec("INSERT INTO events (event_id, received_at, trap_id, country_code, asn, source_ip, kafka_topic, kafka_partition, kafka_offset) "+
			"SELECT generateUUIDv4(), toDateTime(?, 'UTC'), ?, 'US', 64000, toFixedString('', 16), 'enriched', 0, ?", at, trap, int64(i))
	}
	p, err := period.Parse("2004-12-01..2005-05-31")
	if err != nil {
		t.Fatal(err)
	}
	clean, err := Verify(ctx, conn, p)
	if err != nil {
		t.Fatal(err)
	}
	if !clean.OK() || clean.Events != 5 || len(clean.Checked) != len(tables)+1 {
		t.Fatalf("a consistent database: %+v", clean)
	}

	exec("INSERT INTO rollup_country_hour SELECT toStartOfHour(received_at), trap_id, country_code, continent_code, countState(), sumState(toUInt64(size)), uniqState(source_ip) FROM events WHERE toDate(received_at) = '2005-04-01' GROUP BY toStartOfHour(received_at), trap_id, country_code, continent_code")
	exec("ALTER TABLE rollup_asn_month DROP PARTITION 2005")
	exec("ALTER TABLE event_ids DELETE WHERE toDate(received_at) = '2005-05-10'")
	exec("INSERT INTO ingest_offsets SELECT 'enriched', 0, maxState(toInt64(9))")
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, "the DELETE of event ids, which runs in the background", func() (bool, error) {
		var pending uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		return pending == 0, nil
	})

	broken, err := Verify(ctx, conn, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range broken.Differences {
		got = append(got, d.Table+" "+d.Bucket.Format(time.DateOnly)+" "+d.Trap)
	}
	want := "rollup_asn_month 2005-04-01 a,rollup_asn_month 2005-04-01 b,rollup_asn_month 2005-05-01 b," +
		"rollup_country_hour 2005-04-01 a,rollup_country_hour 2005-04-01 b,event_ids 2005-05-10 "
	if strings.Join(sorted(got), ",") != strings.Join(sorted(strings.Split(want, ",")), ",") {
		t.Errorf("differences:\n got %v\nwant %v", got, want)
	}
	if len(broken.Offsets) != 1 || broken.Offsets[0] != (OffsetDifference{Topic: "enriched", Partition: 0, Events: 4, Ledger: 9}) {
		t.Errorf("ledger differences: %+v", broken.Offsets)
	}

	rebuilt, err := Repair(ctx, conn, p, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, r := range rebuilt {
		done = append(done, r.Table+" "+r.Partition)
	}
	if strings.Join(done, ",") != "rollup_country_hour 200504,rollup_asn_month 2005,event_ids 200505" {
		t.Errorf("rebuilt %v", rebuilt)
	}
	if rebuilt[0].Before != 5 || rebuilt[0].After != 3 || rebuilt[1].Before != 0 || rebuilt[1].After != 4 {
		t.Errorf("messages before and after: %+v", rebuilt)
	}
	after, err := Verify(ctx, conn, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Differences) != 0 || len(after.Offsets) != 1 {
		t.Errorf("after repair: %+v", after)
	}
	again, err := Repair(ctx, conn, p, testenv.Logger(t))
	if err != nil || len(again) != 0 {
		t.Errorf("a second repair: %v, %v", again, err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// An event stored twice (as an insert retried after ClickHouse died in its middle could, before
// the sink looked in events for it): Verify names the day, and the rollups that counted the copy;
// Repair rewrites the month of events without it, then rebuilds those rollups.
func TestDuplicatesOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	const insert = "INSERT INTO events (event_id, received_at, trap_id, country_code, asn, source_ip, kafka_topic, kafka_partition, kafka_offset) " +
		"SELECT toUUID(?), toDateTime(?, 'UTC'), 't', 'US', 64000, toFixedString('', 16), 'enriched', 0, ?"
	for i, e := range [][2]string{
		{"6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60", "2005-04-01 10:00:00"},
		{"7f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f61", "2005-04-02 10:00:00"},
		{"7f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f61", "2005-04-02 10:00:00"}, // the copy
		{"8f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f62", "2005-05-01 10:00:00"},
	} {
		if err := conn.Exec(ctx, insert, e[0], e[1], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := period.Parse("2005-04-01..2005-05-31")
	if err != nil {
		t.Fatal(err)
	}
	found, err := Verify(ctx, conn, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Duplicate{{Day: time.Date(2005, 4, 2, 0, 0, 0, 0, time.UTC), Trap: "t", Rows: 2, Distinct: 1}}
	if !slices.Equal(found.Duplicates, want) || len(found.Differences) != 0 {
		t.Fatalf("a copy in events: duplicates %+v, differences %+v (every derived table counted the copy, so agrees)", found.Duplicates, found.Differences)
	}
	rebuilt, err := Repair(ctx, conn, p, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, r := range rebuilt {
		done = append(done, fmt.Sprintf("%s %s %d→%d", r.Table, r.Partition, r.Before, r.After))
	}
	if done[0] != "events 200504 3→2" || len(done) != len(tables)-2+1 { // every table but the two views
		t.Errorf("rebuilt %v", done)
	}
	after, err := Verify(ctx, conn, p)
	if err != nil || !after.OK() || after.Events != 3 {
		t.Errorf("after repair: %+v, %v", after, err)
	}
}
