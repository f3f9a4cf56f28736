package enrich

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	enriched       prometheus.Counter
	unknownCountry prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		enriched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_events_total", Help: "Events enriched and acknowledged on the enriched topic.",
		}),
		unknownCountry: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_unknown_country_total", Help: "Events whose source address no database places (country ZZ).",
		}),
	}
	reg.MustRegister(m.enriched, m.unknownCountry)
	return m
}
