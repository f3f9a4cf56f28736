package trap

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections     prometheus.Counter
	open            prometheus.Gauge
	sessions        *prometheus.CounterVec
	accepted        prometheus.Counter
	rejected        *prometheus.CounterVec
	bytes           prometheus.Counter
	handoffSeconds  *prometheus.HistogramVec
	spooled         prometheus.Counter
	spoolReplayed   prometheus.Counter
	spoolDepth      prometheus.Gauge
	spoolBytes      prometheus.Gauge
	archived        prometheus.Counter
	archiveFailures prometheus.Counter
	defects         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_connections_total", Help: "TCP connections accepted by the listeners.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_trap_connections_open", Help: "Connections being served.",
		}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_trap_sessions_total", Help: "Connections closed, by outcome: delivered (a message accepted), timeout, refused (a command or message refused), no-helo (never introduced itself: garbage, scanners), empty.",
		}, []string{"outcome"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_messages_accepted_total", Help: "Messages answered 250: handed to Kafka or the spool.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_trap_rejected_total", Help: "Commands, messages and connections refused, by reason.",
		}, []string{"reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_message_bytes_total", Help: "Bytes of accepted messages.",
		}),
		handoffSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "spamgeo_trap_handoff_seconds", Help: "Time from the end of DATA to the message being handed on, by where it went.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"to"}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_spooled_total", Help: "Messages written to the spool because Kafka could not take them.",
		}),
		spoolReplayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_spool_replayed_total", Help: "Spooled messages published to Kafka later.",
		}),
		spoolDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_trap_spool_messages", Help: "Messages waiting in the spool.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spamgeo_trap_spool_bytes", Help: "Bytes waiting in the spool.",
		}),
		archived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_archived_total", Help: "Messages written to the raw-message archive.",
		}),
		archiveFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spamgeo_trap_archive_failures_total", Help: "Messages the archive could not keep (the event is published all the same).",
		}),
		defects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_trap_message_defects_total", Help: "Malformed parts of accepted messages, by defect.",
		}, []string{"defect"}),
	}
	reg.MustRegister(m.connections, m.open, m.sessions, m.accepted, m.rejected, m.bytes, m.handoffSeconds,
		m.spooled, m.spoolReplayed, m.spoolDepth, m.spoolBytes, m.archived, m.archiveFailures, m.defects)
	return m
}
