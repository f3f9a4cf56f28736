package enrich

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	enriched       prometheus.Counter
	deadLettered   prometheus.Counter
	unknownCountry prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		enriched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_events_total", Help: "Events enriched and acknowledged on the enriched topic.",
		}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_dead_lettered_total", Help: "Raw messages sent to the dead-letter topic.",
		}),
		unknownCountry: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_enrich_unknown_country_total", Help: "Events whose source address no database places (country ZZ).",
		}),
	}
	reg.MustRegister(m.enriched, m.deadLettered, m.unknownCountry)
	return m
}
