package geoip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
)

// Under continuous lookups, a corrupt file dropped in is refused while the old database keeps
// answering, and a good one then takes effect; no lookup fails at any point.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-Country.mmdb")
	world := geoiptest.World()
	geoiptest.WriteCountryDB(t, path, world, geoiptest.GeoIP2)
	reg := prometheus.NewRegistry()
	r, err := geoip.NewReloader(geoip.Configuration{CountryDatabase: path}, time.Hour, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	addr := netip.MustParseAddr("30.0.1.2")
	var lookups, failures atomic.Int64
	seen := sync.Map{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				db, release := r.Acquire()
				res, err := db.Lookup(addr, time.Time{})
				release()
				lookups.Add(1)
				if err != nil {
					failures.Add(1)
				}
				seen.Store(res.Country, true)
			}
		}()
	}
	replace := func(data []byte) {
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // as geoipupdate does
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	good, _ := os.ReadFile(path)
	replace(good[:len(good)/3])
	if err := r.Check(); err == nil {
		t.Error("a truncated file was accepted")
	}
	if err := r.Check(); err != nil {
		t.Errorf("the same bad file was tried again: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, ok := seen.Load("KR"); ok {
		t.Fatal("answers changed before a good file arrived")
	}

	moved := append([]geoiptest.Country(nil), world...)
	moved[0].Code = "KR"
	next := filepath.Join(t.TempDir(), "next.mmdb")
	geoiptest.WriteCountryDB(t, next, moved, geoiptest.GeoIP2)
	data, _ := os.ReadFile(next)
	replace(data)
	if err := r.Check(); err != nil {
		t.Fatalf("good file refused: %v", err)
	}
	before := lookups.Load()
	time.Sleep(50 * time.Millisecond)
	stop()
	wg.Wait()
	if _, ok := seen.Load("KR"); !ok || lookups.Load() == before {
		t.Error("the new database did not take effect under load")
	}
	if failures.Load() != 0 {
		t.Errorf("%d of %d lookups failed during the reloads", failures.Load(), lookups.Load())
	}
	families, _ := reg.Gather()
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["ok"] != 1 || got["failed"] != 1 {
		t.Errorf("reload counters %v, want one ok and one failed", got)
	}
	t.Logf("%d lookups across two reloads", lookups.Load())
}

// Issue 18, finding 2: with --geoip-reload, a file overwritten in place (cp over it, as the
// operations notes advised) killed the enricher with SIGBUS, the mapped pages going away under
// a lookup. The scenario runs in a child process, so that a crash fails this test instead of
// the whole package: under lookups and reloads the file is truncated to nothing, overwritten
// with garbage, then with a valid database, in place, again and again. The child must finish,
// every lookup must answer, and the last database must be the one serving.
func TestOverwriteInPlaceUnderLookups(t *testing.T) {
	if os.Getenv("SPAMGEO_GEOIP_OVERWRITE_CHILD") == "1" {
		overwriteInPlaceUnderLookups(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOverwriteInPlaceUnderLookups$", "-test.v")
	cmd.Env = append(os.Environ(), "SPAMGEO_GEOIP_OVERWRITE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestOverwriteInPlaceUnderLookups") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "lookups") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

func overwriteInPlaceUnderLookups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-Country.mmdb")
	world := geoiptest.World()
	geoiptest.WriteCountryDB(t, path, world, geoiptest.GeoIP2)
	moved := append([]geoiptest.Country(nil), world...)
	moved[0].Code = "KR"
	next := filepath.Join(t.TempDir(), "next.mmdb")
	geoiptest.WriteCountryDB(t, next, moved, geoiptest.GeoIP2)
	valid, err := os.ReadFile(next)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := geoip.NewReloader(geoip.Configuration{CountryDatabase: path}, time.Hour, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// Addresses of every country, so lookups walk the whole tree, not a cached corner of it.
	var addrs []netip.Addr
	for _, c := range world {
		for _, p := range c.Networks {
			addrs = append(addrs, p.Addr().Next())
		}
	}
	var lookups, failures atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				db, release := r.Acquire()
				res, err := db.Lookup(addrs[i%len(addrs)], time.Time{})
				release()
				lookups.Add(1)
				if err != nil || res.Country == "ZZ" {
					failures.Add(1)
				}
			}
		}()
	}
	overwrite := func(data []byte) { // as cp does: truncate, then write, same inode
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	garbage := []byte(strings.Repeat("not a database ", 200))
	for range 20 {
		for _, data := range [][]byte{nil, garbage, valid[:len(valid)/2], valid} {
			overwrite(data)
			_ = r.Check()
			time.Sleep(2 * time.Millisecond) // let lookups run on whatever is there now
		}
	}
	if err := r.Check(); err != nil {
		t.Errorf("the valid file is not serving at the end: %v", err)
	}
	db, release := r.Acquire()
	got, err := db.Lookup(addrs[0], time.Time{})
	release()
	stop()
	wg.Wait()
	if err != nil || got.Country != "KR" {
		t.Errorf("after the last overwrite %s is %s (%v), want KR", addrs[0], got.Country, err)
	}
	if failures.Load() != 0 {
		t.Errorf("%d of %d lookups failed while the file was overwritten", failures.Load(), lookups.Load())
	}
	t.Logf("%d lookups across 80 in-place overwrites", lookups.Load())
}
