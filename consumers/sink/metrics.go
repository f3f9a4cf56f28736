package sink

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	inserted      prometheus.Counter
	insertErrors  prometheus.Counter
	insertSeconds prometheus.Histogram
	batchRows     prometheus.Histogram
	skipped       prometheus.Counter
	duplicates    *prometheus.CounterVec
	unfinished    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		inserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_sink_rows_inserted_total", Help: "Rows inserted into the events table.",
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_sink_insert_errors_total", Help: "Failed inserts (the batch is retried).",
		}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spamgeo_sink_insert_seconds", Help: "Time to prepare and send one insert.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spamgeo_sink_insert_rows", Help: "Rows per successful insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_sink_skipped_already_stored_total", Help: "Redelivered messages skipped because ClickHouse already held them.",
		}),
		unfinished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_sink_unfinished_insert_rows_total",
			Help: "Events found in the events table but not in event_ids after a failed insert: ClickHouse died in the middle of that insert. They are not stored twice; run spamgeo verify, then spamgeo repair for the views they are missing from.",
		}),
	}
	m.duplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spamgeo_sink_duplicates_total", Help: "Copies of events skipped because ClickHouse already held their event id, by the collector of the copy (trap, replay, synth).",
	}, []string{"collector"})
	reg.MustRegister(m.duplicates, m.skipped, m.unfinished, m.inserted, m.insertErrors, m.insertSeconds, m.batchRows)
	return m
}
