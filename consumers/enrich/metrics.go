package enrich

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/geoip"
)

type metrics struct {
	enriched       prometheus.Counter
	unknownCountry prometheus.Counter
	byClass        map[geoip.Class]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		enriched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_events_total", Help: "Events enriched and acknowledged on the enriched topic.",
		}),
		unknownCountry: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_unknown_country_total", Help: "Public source addresses no database places (country ZZ).",
		}),
		byClass: map[geoip.Class]prometheus.Counter{},
	}
	classes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spamgeo_enrich_sources_total", Help: "Enriched events by class of source address (public, private, loopback, ...).",
	}, []string{"class"})
	for _, c := range []geoip.Class{geoip.Public, geoip.Private, geoip.Loopback, geoip.LinkLocal, geoip.CGNAT,
		geoip.Documentation, geoip.Multicast, geoip.Reserved} {
		m.byClass[c] = classes.WithLabelValues(string(c))
	}
	reg.MustRegister(m.enriched, m.unknownCountry, classes)
	return m
}

func (m *metrics) count(r geoip.Result) {
	m.byClass[r.Class].Inc()
	if r.Country == countries.Unknown {
		m.unknownCountry.Inc()
	}
}
