package hosting

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	ok, notFound, failed prometheus.Counter
	cacheHits            prometheus.Counter
	rateLimited          prometheus.Counter
	cacheEntries         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spamgeo_hosting_queries_total",
		Help: "Queries (tries) sent to the DNS server, by result: ok, not_found (no such name or no addresses) or error.",
	}, []string{"result"})
	m := metrics{
		ok:       queries.WithLabelValues("ok"),
		notFound: queries.WithLabelValues("not_found"),
		failed:   queries.WithLabelValues("error"),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_hosting_cache_hits_total", Help: "Lookups answered from the cache, negative answers included.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_hosting_rate_limited_seconds_total", Help: "Time queries spent waiting on the rate limiter.",
		}),
		cacheEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_hosting_cache_entries", Help: "Host names in the cache, expired ones not yet dropped included.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{queries, m.cacheHits, m.rateLimited, m.cacheEntries} {
		if err := reg.Register(c); err != nil {
			return m, err
		}
	}
	return m, nil
}
