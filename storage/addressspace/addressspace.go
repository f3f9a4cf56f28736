// Package addressspace keeps the table address_space current: the IPv4 addresses and IPv6 /64
// networks each GeoIP build places in every country and network, summed by walking the files
// themselves, so that `report --per address-space` and SQL can read unique spam sources as a
// share of the space the same files placed them in. The enricher runs a Keeper beside its
// GeoIP reloader; `spamgeo address-space` stores the builds of a set of files once.
package addressspace

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// Store writes the space of each build. A build stored again leaves copies, which readers
// collapse to the latest (the view geoip_address_space, argMax by computed_at).
func Store(ctx context.Context, conn clickhousedb.Conn, builds []geoip.BuildSpace, now time.Time) error {
	for _, b := range builds {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO address_space (geoip_build, kind, key, ipv4_addresses, ipv6_nets64, computed_at)")
		if err != nil {
			return fmt.Errorf("store the address space of %s: %w", b.Build, err)
		}
		for _, k := range slices.Sorted(maps.Keys(b.Spaces)) {
			s := b.Spaces[k]
			if err := batch.Append(b.Build, b.Kind, k, s.IPv4, s.IPv6, now.UTC().Truncate(time.Second)); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("store the address space of %s: %w", b.Build, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("store the address space of %s: %w", b.Build, err)
		}
	}
	return nil
}

// Stored says which of builds have their address space in the table.
func Stored(ctx context.Context, conn clickhousedb.Conn, builds []string) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT geoip_build FROM address_space WHERE has(?, geoip_build)", builds)
	if err != nil {
		return nil, fmt.Errorf("read the stored address space builds: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out[b] = true
	}
	return out, rows.Err()
}

// Keeper stores the address space of every build its reloader serves that the table lacks:
// when it starts, after each reload, and again after a failure, checking every Interval. A
// build is walked once per process unless storing it failed.
type Keeper struct {
	cfg     Configuration
	geo     *geoip.Reloader
	logger  *slog.Logger
	conn    clickhousedb.Conn
	stored  map[string]bool // builds known to be in the table
	checked chan struct{}   // closed when the first check has ended
	metrics metrics
}

// Configuration of a Keeper.
type Configuration struct {
	ClickHouse clickhousedb.Configuration
	// Interval is how often the served builds are compared with the table.
	Interval time.Duration
}

type metrics struct {
	stored  prometheus.Counter
	failed  prometheus.Counter
	missing prometheus.Gauge
}

// NewKeeper returns a keeper of geo's builds; Run starts it.
func NewKeeper(cfg Configuration, geo *geoip.Reloader, reg prometheus.Registerer, logger *slog.Logger) *Keeper {
	k := &Keeper{cfg: cfg, geo: geo, logger: logger, stored: map[string]bool{}, checked: make(chan struct{}), metrics: metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_address_space_builds_stored_total", Help: "GeoIP builds whose address space was walked and stored in address_space.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_address_space_failures_total", Help: "Attempts to read or store the address space of the served GeoIP builds that failed (retried every check).",
		}),
		missing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_address_space_missing_builds", Help: "Served GeoIP builds whose address space is not known to be stored.",
		}),
	}}
	reg.MustRegister(k.metrics.stored, k.metrics.failed, k.metrics.missing)
	return k
}

// Run checks at once, then every Interval, until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	defer func() {
		if k.conn != nil {
			k.conn.Close()
		}
	}()
	for first := true; ; first = false {
		if err := k.Check(ctx); err != nil && ctx.Err() == nil {
			k.metrics.failed.Inc()
			k.logger.Error("address space of the GeoIP builds not stored; trying again later", "error", err, "retry_in", k.cfg.Interval)
		}
		if first {
			close(k.checked)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Checked is closed once Run's first check has ended, stored or not.
func (k *Keeper) Checked() <-chan struct{} { return k.checked }

// Check stores the space of the served builds the table lacks.
func (k *Keeper) Check(ctx context.Context) error {
	db, release := k.geo.Acquire()
	defer release()
	var unknown []string
	for _, b := range db.Builds() {
		if !k.stored[b] {
			unknown = append(unknown, b)
		}
	}
	k.metrics.missing.Set(float64(len(unknown)))
	if len(unknown) == 0 {
		return nil
	}
	if k.conn == nil {
		conn, err := k.cfg.ClickHouse.Open(ctx)
		if err != nil {
			return err
		}
		k.conn = conn
	}
	err := k.store(ctx, db, unknown)
	if err != nil {
		k.conn.Close() // a fresh connection next time: the server may have restarted
		k.conn = nil
	}
	return err
}

func (k *Keeper) store(ctx context.Context, db *geoip.DB, unknown []string) error {
	inTable, err := Stored(ctx, k.conn, unknown)
	if err != nil {
		return err
	}
	start := time.Now()
	builds, err := db.AddressSpace(func(b string) bool { return slices.Contains(unknown, b) && !inTable[b] })
	if err != nil {
		return err
	}
	if err := Store(ctx, k.conn, builds, time.Now()); err != nil {
		return err
	}
	for _, b := range builds {
		k.logger.Info("address space of a GeoIP build stored", "build", b.Build, "kind", b.Kind, "keys", len(b.Spaces),
			"walk_seconds", time.Since(start).Seconds())
	}
	k.metrics.stored.Add(float64(len(builds)))
	for _, b := range unknown {
		k.stored[b] = true
	}
	k.metrics.missing.Set(0)
	return nil
}
