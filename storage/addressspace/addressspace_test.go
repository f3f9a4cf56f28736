package addressspace_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/addressspace"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// spaces reads the stored space per build: keys, and IPv4 addresses summed over them.
func spaces(t *testing.T, conn clickhousedb.Conn) map[string][2]uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT geoip_build, count(), sum(ipv4_addresses) FROM address_space FINAL GROUP BY geoip_build")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]uint64{}
	for rows.Next() {
		var b string
		var n, v4 uint64
		if err := rows.Scan(&b, &n, &v4); err != nil {
			t.Fatal(err)
		}
		out[b] = [2]uint64{n, v4}
	}
	return out
}

// A keeper stores each build its reloader serves once: the first check walks both files, a
// second finds nothing new, a reloaded country file adds its build, and a keeper of a new
// process finds every build already stored and walks none.
func TestKeeperStoresEachBuildOnceOnRealServer(t *testing.T) {
	cfg, conn := testenv.MigratedClickHouse(t)
	dir := t.TempDir()
	world := geoiptest.World()
	country, asn := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.csv")
	geoiptest.WriteCountryDB(t, country, world, geoiptest.GeoIP2)
	geoiptest.WriteASNCSV(t, asn, world)
	files := geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}}
	geo, err := geoip.NewReloader(files, time.Hour, prometheus.NewRegistry(), testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	reg := prometheus.NewRegistry()
	k := addressspace.NewKeeper(addressspace.Configuration{ClickHouse: cfg, Interval: time.Hour}, geo, reg, testenv.Logger(t))
	ctx := context.Background()
	for range 2 {
		if err := k.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	db, release := geo.Acquire()
	builds := db.Builds()
	release()
	got := spaces(t, conn)
	perBuild := [2]uint64{uint64(len(world)), uint64(len(world)) << 16} // a /16 per country and network
	if len(got) != 2 || got[builds[0]] != perBuild || got[builds[1]] != perBuild {
		t.Fatalf("stored %v for builds %v, want %v each", got, builds, perBuild)
	}
	if n := testenv.CounterValue(t, reg, "spamgeo_address_space_builds_stored_total"); n != 2 {
		t.Fatalf("%v builds stored, want 2 (the second check stores nothing)", n)
	}

	// A new build of the country file: the reload serves it, the next check stores it alone.
	tmp := filepath.Join(dir, "new.mmdb")
	geoiptest.WriteCountryDBBuiltAt(t, tmp, world[:3], geoiptest.GeoIP2, geoiptest.BuildEpoch.AddDate(0, 1, 0))
	if err := os.Rename(tmp, country); err != nil {
		t.Fatal(err)
	}
	if err := geo.Check(); err != nil {
		t.Fatal(err)
	}
	if err := k.Check(ctx); err != nil {
		t.Fatal(err)
	}
	db, release = geo.Acquire()
	reloaded := db.Builds()[0]
	release()
	if got := spaces(t, conn); len(got) != 3 || got[reloaded] != [2]uint64{3, 3 << 16} {
		t.Fatalf("after the reload stored %v, want %s with 3 countries beside the first two builds", got, reloaded)
	}
	if n := testenv.CounterValue(t, reg, "spamgeo_address_space_builds_stored_total"); n != 3 {
		t.Fatalf("%v builds stored, want 3", n)
	}

	fresh := prometheus.NewRegistry()
	k2 := addressspace.NewKeeper(addressspace.Configuration{ClickHouse: cfg, Interval: time.Hour}, geo, fresh, testenv.Logger(t))
	if err := k2.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testenv.CounterValue(t, fresh, "spamgeo_address_space_builds_stored_total"); n != 0 {
		t.Fatalf("a new keeper stored %v builds the table already held", n)
	}
}

// With ClickHouse out of reach the keeper logs and counts the failure, ends its first check
// and keeps trying: the enricher it runs in goes on enriching.
func TestKeeperCountsFailures(t *testing.T) {
	country, asn := geoiptest.Files(t)
	geo, err := geoip.NewReloader(geoip.Configuration{CountryDatabase: country, ASNDatabases: []string{asn}}, time.Hour,
		prometheus.NewRegistry(), testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	ch := clickhousedb.DefaultConfiguration()
	ch.Addrs, ch.DialTimeout = []string{"127.0.0.1:1"}, time.Second // nothing listens on port 1
	reg := prometheus.NewRegistry()
	k := addressspace.NewKeeper(addressspace.Configuration{ClickHouse: ch, Interval: 50 * time.Millisecond}, geo, reg, testenv.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	<-k.Checked()
	_ = testenv.Wait(10*time.Second, 20*time.Millisecond, "a retry", func() (bool, error) { // checked below, once stopped
		return testenv.CounterValue(t, reg, "spamgeo_address_space_failures_total") >= 2, nil
	})
	cancel()
	<-done
	if n := testenv.CounterValue(t, reg, "spamgeo_address_space_failures_total"); n < 2 {
		t.Fatalf("%v failures counted, want the first and a retry", n)
	}
	if n := testenv.CounterValue(t, reg, "spamgeo_address_space_missing_builds"); n != 2 {
		t.Fatalf("missing builds %v, want 2", n)
	}
}
