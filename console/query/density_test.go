package query_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/addressspace"
)

// Per network, the address space is that of each ASN file the period's events name: the IPv4 and
// IPv6 range files side by side add up, while of two dated builds of one file only the one that
// placed more messages counts (the networks would be counted twice).
func TestAddressDensityCountsEachASNFileOnceOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	const (
		jan, feb = "GeoLite2-ASN@2005-01-01", "GeoLite2-ASN@2005-02-01"
		v6       = "asn-ipv6.csv#0123456789ab"
	)
	for i, build := range []string{jan, jan, jan, feb, v6} {
		if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, asn, source_ip, geoip_build) "+
			"SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', 'US', 64500, IPv6StringToNum(?), ?",
			fmt.Sprintf("2005-04-0%d 00:00:00", i+1), fmt.Sprintf("::ffff:30.0.0.%d", i+1), "country@2005-01-01; "+build); err != nil {
			t.Fatal(err)
		}
	}
	space := func(build string, v4, v6 uint64) geoip.BuildSpace {
		return geoip.BuildSpace{Build: build, Kind: "asn", Spaces: map[string]geoip.Space{"64500": {IPv4: v4, IPv6: v6}}}
	}
	if err := addressspace.Store(ctx, conn, []geoip.BuildSpace{space(jan, 1<<16, 0), space(feb, 1<<16, 0), space(v6, 0, 1<<32)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	april, _ := period.Parse("2005-04")
	d, err := query.NewReader(conn).AddressDensity(ctx, april, query.ByASN)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Builds, []string{jan, v6}) || len(d.Groups) != 1 || d.Groups[0].IPv4Space != 1<<16 || d.Groups[0].IPv6Space != 1<<32 {
		t.Errorf("builds %v, groups %+v; want [%s %s] and AS64500 with 65536 IPv4 addresses and 2^32 /64s", d.Builds, d.Groups, jan, v6)
	}
}
