// Package enrich is the enricher: it reads raw events, adds the country, continent and network
// of each source address from GeoIP files (the build current at the event's date when given
// dated builds; reserved addresses classified, not looked up), and publishes enriched events.
// Events it cannot decode go to the dead-letter topic with the reason; it never drops one
// silently. It does not store anything: the sink does.
package enrich

import (
	"context"
	"log/slog"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/schemas/event"
	"github.com/spamgeo/spamgeo/storage/addressspace"
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
	geo      *geoip.Reloader
	space    *addressspace.Keeper // nil when the address space is not stored
	consumer *kafka.Consumer
	enriched *kafkago.Writer
	dlq      *kafka.DeadLetterQueue
	metrics  metrics
	buf      []byte // reused across batches: the enriched events of one batch, back to back
	worker   lifecycle.Worker
}

// New opens the GeoIP files and joins the consumer group; Start starts the work.
func New(cfg Configuration, deps Dependencies) (*Enricher, error) {
	geo, err := geoip.NewReloader(cfg.GeoIP, cfg.ReloadInterval, deps.Registry, deps.Logger)
	if err != nil {
		return nil, err
	}
	db, release := geo.Acquire()
	deps.Logger.Info("GeoIP databases open", "builds", db.Builds())
	release()
	var space *addressspace.Keeper
	if cfg.AddressSpace != nil {
		space = addressspace.NewKeeper(addressspace.Configuration{ClickHouse: *cfg.AddressSpace, Interval: cfg.ReloadInterval},
			geo, deps.Registry, deps.Logger)
	}
	return &Enricher{
		cfg:   cfg,
		deps:  deps,
		geo:   geo,
		space: space,
		consumer: kafka.NewConsumer(deps.Kafka, kafka.ConsumerOptions{
			Topic: deps.Kafka.RawTopic, Group: cfg.Group, Policy: cfg.Batch, Drain: cfg.Drain,
		}, deps.Registry, deps.Logger),
		enriched: deps.Kafka.Writer(deps.Kafka.EnrichedTopic, kafka.DefaultWriterOptions(), deps.Logger),
		dlq:      kafka.NewDeadLetterQueue(deps.Kafka, Stage, deps.Registry, deps.Logger),
		metrics:  newMetrics(deps.Registry),
	}, nil
}

// Start enriches in the background until Stop (or, when draining, until the raw topic is done),
// watching the GeoIP files meanwhile and storing the address space of the builds it serves.
func (e *Enricher) Start() error {
	e.worker.Go(e.run)
	return nil
}

// Done is closed when the enricher stopped by itself: the raw topic drained, or an error Stop
// returns.
func (e *Enricher) Done() <-chan struct{} { return e.worker.Done() }

func (e *Enricher) run(ctx context.Context) error {
	if err := e.deps.Kafka.EnsureTopics(ctx); err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	defer watchers.Wait() // Stop closes the databases they read
	defer stop()
	watchers.Go(func() { e.geo.Run(wctx) })
	if e.space != nil {
		watchers.Go(func() { e.space.Run(wctx) })
	}
	err := e.consumer.Run(ctx, e.handle)
	if e.space != nil && e.cfg.Drain && err == nil {
		select { // a drained run still leaves its builds' address space stored
		case <-e.space.Checked():
		case <-ctx.Done():
		}
	}
	return err
}

// Healthy reports what the enricher is stuck on, if anything.
func (e *Enricher) Healthy() error { return e.consumer.Healthy() }

// Stop ends the work, leaves the group, closes writers and databases, and returns the error the
// work ended with, if any.
func (e *Enricher) Stop() error {
	err := e.worker.Stop()
	e.consumer.Close()
	e.enriched.Close()
	e.dlq.Close()
	e.geo.Close()
	return err
}

func (e *Enricher) handle(ctx context.Context, batch []kafka.Message) error {
	out, dead := e.Enrich(batch)
	if err := kafka.Deliver(ctx, e.enriched, out, e.consumer.Failed); err != nil {
		return err
	}
	if err := e.dlq.Deliver(ctx, dead, e.consumer.Failed); err != nil {
		return err
	}
	e.metrics.enriched.Add(float64(len(out)))
	return nil
}

// Enrich turns a batch of raw messages into enriched messages (keyed like their input) and dead
// letters. The enriched values share one buffer, valid until the next call.
func (e *Enricher) Enrich(batch []kafka.Message) (out, dead []kafka.Message) {
	db, release := e.geo.Acquire()
	defer release()
	e.buf = e.buf[:0]
	ends := make([]int, 0, len(batch))
	out = make([]kafka.Message, 0, len(batch))
	for _, m := range batch {
		v, err := event.ViewRaw(m.Value)
		if err != nil {
			dead = append(dead, e.dlq.Refuse(m, err.Error()))
			continue
		}
		r, err := db.Lookup(v.SourceIP, v.ReceivedAt)
		if err != nil {
			dead = append(dead, e.dlq.Refuse(m, err.Error()))
			continue
		}
		e.metrics.count(r)
		g := event.Geo{CountryCode: r.Country, ContinentCode: r.Continent, ASN: r.ASN, ASOrg: r.ASOrg,
			GeoIPBuild: r.Build, AddressClass: string(r.Class), City: r.City, Subdivision: r.Subdivision}
		if r.HasLocation && !math.IsNaN(r.Latitude) && !math.IsNaN(r.Longitude) {
			// Copies: pointers into r would move every event's whole Result to the heap.
			lat, lon := r.Latitude, r.Longitude
			g.Latitude, g.Longitude = &lat, &lon
		}
		e.buf = event.AppendEnrichedView(e.buf, &v, &g)
		ends = append(ends, len(e.buf))
		out = append(out, kafka.Message{Key: m.Key})
	}
	// Slice the values only now: appending may have moved the buffer.
	start := 0
	for i := range out {
		out[i].Value = e.buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return out, dead
}
