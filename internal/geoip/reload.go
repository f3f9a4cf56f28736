package geoip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reloader serves a DB and replaces it when its files change (geoipupdate's weekly run, a new
// dated build in a directory). A changed set of files is opened and checked in full before it
// is swapped in; a damaged one is logged, counted and ignored while the old DB keeps serving.
// Lookups never wait on a reload: they hold the DB they acquired until they release it, and a
// replaced DB is closed once its last holder has let go.
type Reloader struct {
	cfg      Configuration
	interval time.Duration
	logger   *slog.Logger
	current  atomic.Pointer[handle]
	mu       sync.Mutex // serialises Check
	tried    string     // fingerprint of the files last opened, good or not
	reloads  *prometheus.CounterVec
}

// handle counts the holders of a DB. The Reloader is one of them while the DB is current, so the
// count reaches zero only after the DB was replaced and its last lookup let go. (A count that
// could reach zero while the DB was still current, as a separate "retired" flag allowed, let a
// release that saw zero just before a swap close the DB under a lookup that had acquired it
// meanwhile.) Once guards the close: a late Acquire of a replaced DB adds and releases a count
// after it reached zero.
type handle struct {
	db    *DB
	refs  atomic.Int64
	close sync.Once
}

func newHandle(db *DB) *handle {
	h := &handle{db: db}
	h.refs.Store(1)
	return h
}

func (h *handle) release() {
	if h.refs.Add(-1) == 0 {
		h.close.Do(func() { h.db.Close() })
	}
}

// NewReloader opens the databases of cfg; Run watches them every interval.
func NewReloader(cfg Configuration, interval time.Duration, reg prometheus.Registerer, logger *slog.Logger) (*Reloader, error) {
	r := &Reloader{cfg: cfg, interval: interval, logger: logger,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_geoip_reloads_total", Help: "Attempts to load changed GeoIP files, by result (ok, failed).",
		}, []string{"result"}),
	}
	reg.MustRegister(r.reloads)
	stamp, err := fingerprint(cfg)
	if err != nil {
		return nil, err
	}
	db, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	r.tried = stamp
	r.current.Store(newHandle(db))
	return r, nil
}

// Acquire returns the current DB and the function that releases it; call it when done.
func (r *Reloader) Acquire() (*DB, func()) {
	for {
		h := r.current.Load()
		h.refs.Add(1)
		if r.current.Load() == h {
			return h.db, h.release
		}
		h.release() // swapped meanwhile: take the new one
	}
}

// Check reloads if the files changed since the last attempt. It returns the error of a failed
// reload (the old DB stays).
func (r *Reloader) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := fingerprint(r.cfg)
	if err != nil || stamp == r.tried {
		return err
	}
	r.tried = stamp
	db, err := Open(r.cfg)
	if err != nil {
		r.reloads.WithLabelValues("failed").Inc()
		r.logger.Error("GeoIP files changed but cannot be used; still serving the previous ones", "error", err)
		return err
	}
	r.current.Swap(newHandle(db)).release() // closes it now if no lookup holds it
	r.reloads.WithLabelValues("ok").Inc()
	r.logger.Info("GeoIP databases reloaded", "builds", strings.Join(db.Builds(), ", "))
	return nil
}

// Run checks every interval until ctx ends.
func (r *Reloader) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Check()
		}
	}
}

// Close closes the current DB once nobody holds it.
func (r *Reloader) Close() {
	r.current.Load().release()
}

// fingerprint identifies the configured files as they are now: path, size, modification time
// and inode of each (geoipupdate replaces a file by renaming a new one over it).
func fingerprint(cfg Configuration) (string, error) {
	var parts []string
	for _, path := range append([]string{cfg.CountryDatabase}, cfg.ASNDatabases...) {
		files := []string{path}
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			files, _ = filepath.Glob(filepath.Join(path, "*.mmdb"))
			sort.Strings(files)
		}
		for _, f := range files {
			info, err := os.Stat(f)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					parts = append(parts, f+" missing")
					continue
				}
				return "", err
			}
			var ino uint64
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				ino = st.Ino
			}
			parts = append(parts, fmt.Sprintf("%s %d %d %d", f, info.Size(), info.ModTime().UnixNano(), ino))
		}
	}
	return strings.Join(parts, "\n"), nil
}
