package query_test

import (
	"context"
	"slices"
	"testing"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// The traps and GeoIP builds of a period, on the real server: builds with most messages first,
// the empty build of a reserved source counted but not listed, nothing from outside the period.
func TestProvenance(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	const newer, older = "country ipvAll@2026-06-01; asn-ipv4.csv#76afd7f575bc", "country ipvAll@2026-05-01; asn-ipv4.csv#0123456789ab"
	for _, e := range []struct{ at, trap, build string }{
		{"2005-04-01 00:00:00", "a", newer}, {"2005-05-10 10:00:00", "b", newer}, {"2005-06-30 23:59:59", "b", older},
		{"2005-06-01 10:00:00", "c", ""}, {"2005-07-01 00:00:00", "d", "outside@2026-01-01"},
	} {
		if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, source_ip, geoip_build) "+
			"SELECT generateUUIDv4(), toDateTime(?, 'UTC'), ?, 'US', toFixedString('', 16), ?", e.at, e.trap, e.build); err != nil {
			t.Fatal(err)
		}
	}
	q2, err := period.Parse("2005Q2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := query.NewReader(conn).Provenance(ctx, q2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Traps != 3 || got.Events != 4 || !slices.Equal(got.GeoIPBuilds, []string{newer, older}) {
		t.Errorf("provenance of 2005Q2 = %+v, want 3 traps, 4 events, builds [%s %s]", got, newer, older)
	}
	empty, err := period.Parse("2004")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := query.NewReader(conn).Provenance(ctx, empty); err != nil || got.Traps != 0 || got.Events != 0 || got.GeoIPBuilds != nil {
		t.Errorf("provenance of an empty period = %+v, %v", got, err)
	}
}
