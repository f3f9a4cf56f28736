package hosting

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spamgeo/spamgeo/console/campaign/hosting/dnstest"
)

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("192.0.2.10")
	v6a = netip.MustParseAddr("2001:db8::1")
)

// value reads a counter or a gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

func testRecords() map[string][]netip.Addr {
	many := make([]netip.Addr, 100)
	for i := range many {
		many[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i / 256), 15: byte(i)})
	}
	return map[string][]netip.Addr{
		// Unsorted, with a duplicate and an IPv4-mapped AAAA record of an A record.
		"www.example.test":    {v6a, v4b, v4a, v4b, netip.MustParseAddr("::ffff:192.0.2.1")},
		"v4only.example.test": {v4a},
		"noaddr.example.test": nil,
		"many.example.test":   many,
		"a.example.test":      {v4a},
		"b.example.test":      {v4a},
		"c.example.test":      {v4a},
		"d.example.test":      {v4a},
	}
}

// newResolver starts a DNS server with testRecords and a Resolver asking it.
func newResolver(t *testing.T, configure func(*Configuration)) (*Resolver, *dnstest.Server) {
	t.Helper()
	s := dnstest.Start(t, testRecords())
	cfg := DefaultConfiguration()
	cfg.Server = s.Addr
	if configure != nil {
		configure(&cfg)
	}
	r, err := New(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return r, s
}

func TestNew(t *testing.T) {
	for _, server := range []string{"", "127.0.0.1", ":53", "127.0.0.1:"} {
		cfg := DefaultConfiguration()
		cfg.Server = server
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(Server: %q) succeeded", server)
		}
	}
	cfg := DefaultConfiguration()
	cfg.Server, cfg.Timeout = "127.0.0.1:53", -time.Second
	if _, err := New(cfg, nil); err == nil {
		t.Error("New(negative Timeout) succeeded")
	}
	r, err := New(Configuration{Server: "[::1]:5353"}, nil)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if def := DefaultConfiguration(); r.cfg.Timeout != def.Timeout || r.cfg.MaxCacheEntries != def.MaxCacheEntries {
		t.Errorf("zero fields not defaulted: %+v", r.cfg)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(cfg2(), reg); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if _, err := New(cfg2(), reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}

func cfg2() Configuration {
	cfg := DefaultConfiguration()
	cfg.Server = "127.0.0.1:53"
	return cfg
}

func TestLookup(t *testing.T) {
	r, s := newResolver(t, nil)
	ctx := t.Context()
	for _, tc := range []struct {
		host string
		want []netip.Addr
	}{
		{"www.example.test", []netip.Addr{v4a, v4b, v6a}},
		{"WWW.Example.TEST.", []netip.Addr{v4a, v4b, v6a}},
		{"v4only.example.test", []netip.Addr{v4a}},
		{"missing.example.test", []netip.Addr{}},
		{"noaddr.example.test", []netip.Addr{}},
		{"", []netip.Addr{}},
		{".", []netip.Addr{}},
		{"192.0.2.7", []netip.Addr{netip.MustParseAddr("192.0.2.7")}},
		{"::ffff:192.0.2.7", []netip.Addr{netip.MustParseAddr("192.0.2.7")}},
	} {
		got, err := r.Lookup(ctx, tc.host)
		if err != nil || !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("Lookup(%q) = %#v, %v; want %v", tc.host, got, err, tc.want)
		}
	}
	// Answers too large for UDP come over TCP.
	got, err := r.Lookup(ctx, "many.example.test")
	if err != nil || len(got) != 100 || !slices.IsSortedFunc(got, netip.Addr.Compare) {
		t.Errorf("Lookup(many) = %d addresses, %v", len(got), err)
	}
	if got := value(t, r.metrics.notFound); got != 2 {
		t.Errorf("not_found queries = %v, want 2", got)
	}
	if s.Queries() == 0 {
		t.Error("no query reached the server")
	}
}

func TestCache(t *testing.T) {
	r, s := newResolver(t, nil)
	ctx := t.Context()
	for _, host := range []string{"www.example.test", "missing.example.test"} {
		first, err := r.Lookup(ctx, host)
		if err != nil {
			t.Fatalf("Lookup(%q) error = %v", host, err)
		}
		before := s.Queries()
		first = append(first[:0], netip.MustParseAddr("203.0.113.1")) // callers own the slice
		again, err := r.Lookup(ctx, strings.ToUpper(host)+".")
		if err != nil || s.Queries() != before {
			t.Errorf("second Lookup(%q): %v, %d queries, want none", host, err, s.Queries()-before)
		}
		if slices.Contains(again, first[0]) {
			t.Errorf("cached answer changed by a caller: %v", again)
		}
	}
	if got := value(t, r.metrics.cacheHits); got != 2 {
		t.Errorf("cache hits = %v, want 2", got)
	}
	if got := value(t, r.metrics.cacheEntries); got != 2 {
		t.Errorf("cache entries = %v, want 2", got)
	}

	r, s = newResolver(t, func(c *Configuration) { c.CacheTTL = time.Millisecond })
	for _, host := range []string{"www.example.test", "missing.example.test"} {
		if _, err := r.Lookup(ctx, host); err != nil {
			t.Fatalf("Lookup(%q) error = %v", host, err)
		}
		before := s.Queries()
		time.Sleep(5 * time.Millisecond)
		if _, err := r.Lookup(ctx, host); err != nil || s.Queries() == before {
			t.Errorf("Lookup(%q) after CacheTTL: %v, no new query", host, err)
		}
	}
}

func TestMaxCacheEntries(t *testing.T) {
	r, s := newResolver(t, func(c *Configuration) { c.MaxCacheEntries = 2 })
	ctx := t.Context()
	for _, host := range []string{"a.example.test", "b.example.test", "c.example.test"} {
		if _, err := r.Lookup(ctx, host); err != nil {
			t.Fatalf("Lookup(%q) error = %v", host, err)
		}
	}
	if got := value(t, r.metrics.cacheEntries); got != 2 || len(r.cache) != 2 || r.order.Len() != 2 {
		t.Errorf("cache entries = %v (map %d, list %d), want 2", got, len(r.cache), r.order.Len())
	}
	before := s.Queries()
	if _, err := r.Lookup(ctx, "c.example.test"); err != nil || s.Queries() != before {
		t.Errorf("newest entry not cached: %v", err)
	}
	if _, err := r.Lookup(ctx, "a.example.test"); err != nil || s.Queries() == before {
		t.Errorf("oldest entry still cached: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	r, s := newResolver(t, func(c *Configuration) { c.Timeout, c.Attempts = timeout, 2 })
	s.SetDelay(4 * timeout)
	start := time.Now()
	_, err := r.Lookup(t.Context(), "www.example.test")
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Lookup() with a slow server succeeded")
	}
	if !strings.Contains(err.Error(), "www.example.test") || !strings.Contains(err.Error(), s.Addr) {
		t.Errorf("error %q does not name the host and the server", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("error %v is not a DNS timeout", err)
	}
	if elapsed >= 5*timeout*2 {
		t.Errorf("Lookup() took %v", elapsed)
	}
	if got := value(t, r.metrics.failed); got != 2 {
		t.Errorf("failed queries = %v, want 2 (Attempts)", got)
	}
	s.SetDelay(0)
	if got, err := r.Lookup(t.Context(), "www.example.test"); err != nil || len(got) != 3 {
		t.Errorf("Lookup() after the timeout = %v, %v (error cached?)", got, err)
	}
}

func TestServerFailure(t *testing.T) {
	r, s := newResolver(t, nil)
	s.SetFailure(true)
	_, err := r.Lookup(t.Context(), "www.example.test")
	var dnsErr *net.DNSError
	if err == nil || !strings.Contains(err.Error(), "www.example.test") || !errors.As(err, &dnsErr) || dnsErr.IsNotFound {
		t.Fatalf("Lookup() on SERVFAIL error = %v", err)
	}
	if got := value(t, r.metrics.failed); got != 2 {
		t.Errorf("failed queries = %v, want 2 (Attempts)", got)
	}
	s.SetFailure(false)
	if got, err := r.Lookup(t.Context(), "www.example.test"); err != nil || len(got) != 3 {
		t.Errorf("Lookup() after SERVFAIL = %v, %v (error cached?)", got, err)
	}
}

func TestRateLimit(t *testing.T) {
	r, _ := newResolver(t, func(c *Configuration) { c.QueriesPerSecond, c.Burst = 5, 1 })
	start := time.Now()
	for _, host := range []string{"a.example.test", "b.example.test", "c.example.test", "d.example.test"} {
		if _, err := r.Lookup(t.Context(), host); err != nil {
			t.Fatalf("Lookup(%q) error = %v", host, err)
		}
	}
	// One query at once, then one every 200 ms: 600 ms at least.
	if elapsed := time.Since(start); elapsed < 450*time.Millisecond {
		t.Errorf("4 queries at 5/s with a burst of 1 took %v", elapsed)
	}
	if got := value(t, r.metrics.rateLimited); got < 0.4 {
		t.Errorf("rate-limited seconds = %v", got)
	}
}

func TestRateLimitCancel(t *testing.T) {
	r, s := newResolver(t, func(c *Configuration) { c.QueriesPerSecond, c.Burst = 0.2, 1 })
	if _, err := r.Lookup(t.Context(), "a.example.test"); err != nil {
		t.Fatalf("Lookup() error = %v", err)
	}
	before := s.Queries()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Lookup(ctx, "b.example.test")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "b.example.test") {
		t.Errorf("Lookup() cancelled while rate limited: error = %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("cancelled Lookup() took %v", elapsed)
	}
	// A caller's deadline ends the wait too, and nothing went past the rate limiter.
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.Lookup(ctx, "b.example.test"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup() with a deadline error = %v", err)
	}
	if s.Queries() != before {
		t.Errorf("%d queries sent past the rate limit", s.Queries()-before)
	}
}

func TestConcurrentLookups(t *testing.T) {
	r, s := newResolver(t, nil)
	s.SetDelay(50 * time.Millisecond) // so that the Lookups overlap
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			got, err := r.Lookup(t.Context(), "www.example.test")
			if err == nil && !slices.Equal(got, []netip.Addr{v4a, v4b, v6a}) {
				err = fmt.Errorf("got %v", got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Lookup() error = %v", err)
		}
	}
	// One query, of two questions: A and AAAA.
	if got := s.Queries(); got > 2 {
		t.Errorf("50 concurrent Lookups sent %d queries, want at most 2", got)
	}
}

func TestSharedQueryOutlivesOneCaller(t *testing.T) {
	r, s := newResolver(t, nil)
	s.SetDelay(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := r.Lookup(ctx, "www.example.test")
		first <- err
	}()
	time.Sleep(20 * time.Millisecond)
	second := make(chan error, 1)
	go func() {
		got, err := r.Lookup(t.Context(), "www.example.test")
		if err == nil && len(got) != 3 {
			err = fmt.Errorf("got %v", got)
		}
		second <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Lookup() error = %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("Lookup() sharing the query of a cancelled one: %v", err)
	}
	if got := s.Queries(); got > 2 {
		t.Errorf("%d queries, want at most 2", got)
	}
}
