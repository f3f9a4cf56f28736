// Package hosting answers where a spam campaign's advertised web sites are: the addresses a
// host name resolves to, looked up through one configured DNS server with a cache, per-query
// timeouts and a rate limit, and the country a domain's top-level domain names when it is a
// country code. It does not decide which hosts to look up, nor store results.
package hosting

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Resolver looks host names up. It is safe for concurrent use.
//
// It uses the Go resolver of the standard library with every connection dialed to
// Configuration.Server, so the name servers of the system are never asked. The Go resolver
// still reads two local files: /etc/hosts (per /etc/nsswitch.conf), whose names are answered
// without a query, and /etc/resolv.conf for its options. Names are looked up as given, never
// with search domains, but the "timeout" and "attempts" options and the number of "nameserver"
// lines shape one try: within it, a question answered SERVFAIL, or not answered within
// "timeout" when that is shorter than Timeout, is asked again before Attempts applies.
type Resolver struct {
	cfg     Configuration
	dns     *net.Resolver
	limiter *rate.Limiter
	metrics metrics

	mu       sync.Mutex
	cache    map[string]*list.Element // values are *entry
	order    list.List                // *entry, oldest first (and so soonest to expire)
	inflight map[string]*flight
}

type entry struct {
	host    string
	addrs   []netip.Addr
	expires time.Time
}

// flight is a query of one host shared by the Lookups waiting on it. Its context is cancelled
// once every one of them has given up.
type flight struct {
	done    chan struct{} // closed when addrs and err are set
	addrs   []netip.Addr
	err     error
	waiters int // guarded by Resolver.mu
	cancel  context.CancelFunc
}

// New returns a Resolver asking cfg.Server, with the defaults of DefaultConfiguration for the
// fields left at zero. It registers its metrics on reg, unless reg is nil.
func New(cfg Configuration, reg prometheus.Registerer) (*Resolver, error) {
	if cfg.Server == "" {
		return nil, errors.New("hosting: no DNS server configured")
	}
	if host, port, err := net.SplitHostPort(cfg.Server); err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("hosting: DNS server %q is not host:port", cfg.Server)
	}
	def := DefaultConfiguration()
	switch {
	case cfg.Timeout < 0, cfg.Attempts < 0, cfg.QueriesPerSecond < 0, cfg.Burst < 0, cfg.CacheTTL < 0,
		cfg.MaxCacheEntries < 0:
		return nil, errors.New("hosting: negative value in configuration")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = def.Attempts
	}
	if cfg.QueriesPerSecond == 0 {
		cfg.QueriesPerSecond = def.QueriesPerSecond
	}
	if cfg.Burst == 0 {
		cfg.Burst = def.Burst
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = def.CacheTTL
	}
	if cfg.MaxCacheEntries == 0 {
		cfg.MaxCacheEntries = def.MaxCacheEntries
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("hosting: metrics: %w", err)
	}
	server := cfg.Server
	return &Resolver{
		cfg: cfg,
		dns: &net.Resolver{
			PreferGo: true,
			// With StrictErrors, a timeout or SERVFAIL on either of A and AAAA fails the whole
			// query, instead of returning (and caching) the addresses of one family only.
			StrictErrors: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, server)
			},
		},
		limiter:  rate.NewLimiter(rate.Limit(cfg.QueriesPerSecond), cfg.Burst),
		metrics:  m,
		cache:    map[string]*list.Element{},
		inflight: map[string]*flight{},
	}, nil
}

// Lookup returns the IPv4 and IPv6 addresses host resolves to (A and AAAA answers, CNAME
// chains followed by the server), sorted and unique. host is a name, any case, with or without
// a trailing dot; an IP address is returned as is and an empty name gives no address, both
// without a query.
//
// A name that does not exist or has no addresses gives an empty slice and a nil error (and is
// cached). Errors: timeouts, SERVFAIL, refused, rate-limit wait cancelled by ctx; they name the
// host, wrap ctx's error when ctx ended, and are not cached.
//
// Concurrent Lookups of a host share one query; one giving up (ctx done) does not fail the
// others.
func (r *Resolver) Lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" {
		return []netip.Addr{}, nil
	}
	if addr, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{addr.WithZone("").Unmap()}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hosting: lookup %s: %w", host, err)
	}

	r.mu.Lock()
	if addrs, ok := r.cached(name); ok {
		r.mu.Unlock()
		r.metrics.cacheHits.Inc()
		return slices.Clone(addrs), nil
	}
	f := r.inflight[name]
	if f == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		r.inflight[name] = f
		go r.run(fctx, name, f)
	}
	f.waiters++
	r.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return slices.Clone(f.addrs), nil
	case <-ctx.Done():
		r.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if r.inflight[name] == f {
				delete(r.inflight, name) // a later Lookup starts afresh
			}
		}
		r.mu.Unlock()
		return nil, fmt.Errorf("hosting: lookup %s: %w", host, ctx.Err())
	}
}

// run resolves name for the Lookups waiting on f and caches a successful answer.
func (r *Resolver) run(ctx context.Context, name string, f *flight) {
	defer f.cancel()
	addrs, err := r.query(ctx, name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.store(name, addrs)
	}
	if r.inflight[name] == f {
		delete(r.inflight, name)
	}
	f.addrs, f.err = addrs, err
	close(f.done)
}

// query asks the server about name, trying again after a timeout or SERVFAIL.
func (r *Resolver) query(ctx context.Context, name string) ([]netip.Addr, error) {
	var err error
	for range r.cfg.Attempts {
		start := time.Now()
		werr := r.limiter.Wait(ctx)
		r.metrics.rateLimited.Add(time.Since(start).Seconds())
		if werr != nil {
			if ctx.Err() != nil {
				werr = ctx.Err()
			}
			return nil, fmt.Errorf("hosting: lookup %s: waiting for the rate limiter: %w", name, werr)
		}

		qctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		var ips []netip.Addr
		// The trailing dot keeps the Go resolver from trying the search domains of resolv.conf.
		ips, err = r.dns.LookupNetIP(qctx, "ip", name+".")
		cancel()
		if err == nil {
			r.metrics.ok.Inc()
			for i := range ips {
				ips[i] = ips[i].WithZone("").Unmap()
			}
			slices.SortFunc(ips, netip.Addr.Compare)
			return slices.Compact(ips), nil
		}
		var dnsErr *net.DNSError
		isDNS := errors.As(err, &dnsErr)
		if isDNS && dnsErr.IsNotFound {
			r.metrics.notFound.Inc()
			return []netip.Addr{}, nil
		}
		r.metrics.failed.Inc()
		if isDNS {
			// The Go resolver names the server of resolv.conf, which was never asked.
			e := *dnsErr
			e.Name, e.Server = name, r.cfg.Server
			err = &e
		}
		if ctx.Err() != nil || !isDNS || !(dnsErr.IsTimeout || dnsErr.IsTemporary) {
			break
		}
	}
	return nil, fmt.Errorf("hosting: %w", err)
}

// cached returns the unexpired cached answer for name. r.mu must be held.
func (r *Resolver) cached(name string) ([]netip.Addr, bool) {
	el, ok := r.cache[name]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if time.Now().Before(e.expires) {
		return e.addrs, true
	}
	r.remove(el)
	r.metrics.cacheEntries.Set(float64(len(r.cache)))
	return nil, false
}

// store caches the answer for name, making room if needed. r.mu must be held.
func (r *Resolver) store(name string, addrs []netip.Addr) {
	now := time.Now()
	if el, ok := r.cache[name]; ok {
		r.remove(el)
	}
	// Every entry lives CacheTTL, so the oldest is also the first to expire: expired entries
	// are all at the front.
	for el := r.order.Front(); el != nil && !now.Before(el.Value.(*entry).expires); el = r.order.Front() {
		r.remove(el)
	}
	for len(r.cache) >= r.cfg.MaxCacheEntries {
		r.remove(r.order.Front())
	}
	r.cache[name] = r.order.PushBack(&entry{host: name, addrs: addrs, expires: now.Add(r.cfg.CacheTTL)})
	r.metrics.cacheEntries.Set(float64(len(r.cache)))
}

func (r *Resolver) remove(el *list.Element) {
	delete(r.cache, el.Value.(*entry).host)
	r.order.Remove(el)
}
