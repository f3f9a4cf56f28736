package migrations_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// The dataset loads once (a second identical load stores nothing); a dataset of one's own then
// replaces it within the same second, and the per-capita view reads that one only: a country it
// lacks has NULL figures, not the earlier ones and not 0.
func TestPopulationLoadsOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	builtin := countries.BuiltinPopulation()
	now := time.Now()
	for i, want := range []bool{true, false} {
		loaded, err := migrations.LoadPopulation(ctx, conn, builtin, countries.PopulationSource, now)
		if err != nil || loaded != want {
			t.Fatalf("load %d: loaded %v (%v), want %v", i+1, loaded, err, want)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM country_population_current").Scan(&n); err != nil || n != uint64(len(builtin)) {
		t.Fatalf("current dataset has %d countries (%v), want %d", n, err, len(builtin))
	}
	own := map[string]countries.Population{"US": {People: 400_000_000, InternetUsers: 200_000_000}}
	if loaded, err := migrations.LoadPopulation(ctx, conn, own, "mine.csv", now); err != nil || !loaded {
		t.Fatalf("own dataset: loaded %v (%v)", loaded, err)
	}
	if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code) SELECT generateUUIDv4(), toDateTime('2005-04-02 00:00:00', 'UTC'), 't', cc FROM (SELECT arrayJoin(['US', 'US', 'DE']) AS cc)"); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{}
	rows, err := conn.Query(ctx, "SELECT country_code, ifNull(messages_per_million_people, nan), ifNull(messages_per_million_internet_users, nan) FROM monthly_country_per_capita WHERE month = '2005-04-01'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cc string
		var people, users float64
		if err := rows.Scan(&cc, &people, &users); err != nil {
			t.Fatal(err)
		}
		got[cc] = [2]float64{people, users}
	}
	rows.Close()
	if us := got["US"]; us != [2]float64{2e6 / 400e6, 2e6 / 200e6} {
		t.Errorf("US per million = %v, want the own dataset's %v", us, [2]float64{2e6 / 400e6, 2e6 / 200e6})
	}
	if de, ok := got["DE"]; !ok || !math.IsNaN(de[0]) || !math.IsNaN(de[1]) {
		t.Errorf("DE, which the own dataset lacks: %v (present %v), want NULL figures", de, ok)
	}
}
