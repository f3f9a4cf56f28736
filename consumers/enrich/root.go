// Package enrich is the enricher: it reads raw events, adds the country, continent and network
// of each source address from GeoIP files, and publishes enriched events. Events it cannot
// decode go to the dead-letter topic with the reason; it never drops one silently. It does not
// store anything: the sink does.
package enrich

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Stage names the enricher in dead-letter headers.
const Stage = "enrich"

// Dependencies are what the enricher needs from its process.
type Dependencies struct {
	Kafka    kafka.Configuration
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Enricher is a running enricher.
type Enricher struct {
	cfg      Configuration
	deps     Dependencies
	db       *geoip.DB
	consumer *kafka.Consumer
	enriched *kafkago.Writer
	dlq      *kafka.DeadLetterQueue
	metrics  metrics
}

// New opens the GeoIP files and joins the consumer group; Run starts the work.
func New(cfg Configuration, deps Dependencies) (*Enricher, error) {
	db, err := geoip.Open(cfg.GeoIP)
	if err != nil {
		return nil, err
	}
	deps.Logger.Info("GeoIP databases open", "build", db.Build())
	return &Enricher{
		cfg:  cfg,
		deps: deps,
		db:   db,
		consumer: kafka.NewConsumer(deps.Kafka, kafka.ConsumerOptions{
			Topic: deps.Kafka.RawTopic, Group: cfg.Group, Policy: cfg.Batch, Drain: cfg.Drain,
		}, deps.Registry, deps.Logger),
		enriched: deps.Kafka.Writer(deps.Kafka.EnrichedTopic, kafka.DefaultWriterOptions(), deps.Logger),
		dlq:      kafka.NewDeadLetterQueue(deps.Kafka, Stage, deps.Registry, deps.Logger),
		metrics:  newMetrics(deps.Registry),
	}, nil
}

// Run enriches until ctx ends (or, when draining, until the raw topic is done).
func (e *Enricher) Run(ctx context.Context) error {
	if err := e.deps.Kafka.EnsureTopics(ctx); err != nil {
		return err
	}
	return e.consumer.Run(ctx, e.handle)
}

// Healthy reports what the enricher is stuck on, if anything.
func (e *Enricher) Healthy() error { return e.consumer.Healthy() }

// Stop leaves the group and closes writers and databases.
func (e *Enricher) Stop() error {
	e.consumer.Close()
	e.enriched.Close()
	e.dlq.Close()
	return e.db.Close()
}

func (e *Enricher) handle(ctx context.Context, batch []kafka.Message) error {
	var out, dead []kafka.Message
	for _, m := range batch {
		enriched, reason := e.enrich(m.Value)
		if reason != "" {
			dead = append(dead, e.dlq.Refuse(m, reason))
			continue
		}
		out = append(out, kafka.Message{Key: m.Key, Value: enriched})
	}
	if err := kafka.Deliver(ctx, e.enriched, out, e.consumer.Failed); err != nil {
		return err
	}
	if err := e.dlq.Deliver(ctx, dead, e.consumer.Failed); err != nil {
		return err
	}
	e.metrics.enriched.Add(float64(len(out)))
	return nil
}

// enrich returns the enriched encoding of a raw event, or why it cannot be enriched.
func (e *Enricher) enrich(value []byte) ([]byte, string) {
	raw, err := event.DecodeRaw(value)
	if err != nil {
		return nil, err.Error()
	}
	geo, err := e.db.Lookup(raw.SourceIP)
	if err != nil {
		return nil, err.Error()
	}
	if geo.Country == countries.Unknown {
		e.metrics.unknownCountry.Inc()
	}
	out, err := event.EncodeEnriched(&event.Enriched{Raw: raw, Geo: event.Geo{
		CountryCode:   geo.Country,
		ContinentCode: geo.Continent,
		ASN:           geo.ASN,
		ASOrg:         geo.ASOrg,
		GeoIPBuild:    e.db.Build(),
	}})
	if err != nil {
		return nil, fmt.Sprintf("encode enriched event: %v", err)
	}
	return out, ""
}
