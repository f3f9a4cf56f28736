// Package trap is spamgeo's SMTP spam trap: it accepts mail for its trap addresses (and never
// relays), turns each message into a raw event with the true source address, and answers 250
// only once the event is handed on — acknowledged by Kafka, or written to its on-disk spool while
// Kafka is away — otherwise 451, so the sender retries and nothing accepted is lost. Hostile
// clients meet bounded sizes, times and connection counts, each counted when hit.
package trap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/publish"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Dependencies are what a trap works with.
type Dependencies struct {
	Kafka    kafka.Configuration
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Trap is a running SMTP trap.
type Trap struct {
	cfg       Configuration
	deps      Dependencies
	metrics   *metrics
	publisher *publish.Publisher
	spool     *spool
	archive   *archive
	tls       *tls.Config
	parse     mailparse.Limits
	conns     *connCounter
	// kafkaDown is set when a hand-off to Kafka failed and cleared when one succeeds again;
	// meanwhile new messages go straight to the spool instead of waiting for Kafka first.
	kafkaDown atomic.Bool
	// topicsReady is set once the topics are known to exist: nothing is published before, so
	// no broker creates them on a first write with its own defaults.
	topicsReady atomic.Bool
	servers     []*smtp.Server
	addrs       []net.Addr
	wg          sync.WaitGroup
	retry       lifecycle.Worker // creates the topics Kafka lacked at start, replays the spool
}

// New checks the configuration and prepares the spool, archive and certificate.
func New(cfg Configuration, deps Dependencies) (*Trap, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Every trap metric names its trap, so that alerts and panels name it too.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"trap": cfg.TrapID}, deps.Registry)
	t := &Trap{cfg: cfg, deps: deps, metrics: newMetrics(reg), parse: mailparse.DefaultLimits()}
	t.conns = &connCounter{perIP: map[netip.Addr]int{}, max: cfg.MaxConnections, maxPer: cfg.MaxConnectionsPerIP,
		open: func(n int) { t.metrics.open.Set(float64(n)) }}
	var err error
	if cfg.SpoolDir != "" {
		t.spool, err = openSpool(cfg.SpoolDir, cfg.MaxSpoolBytes, func(n int, b int64) {
			t.metrics.spoolDepth.Set(float64(n))
			t.metrics.spoolBytes.Set(float64(b))
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.ArchiveDir != "" {
		if t.archive, err = newArchive(cfg.ArchiveDir, cfg.TrapID); err != nil {
			return nil, err
		}
	}
	if !cfg.NoTLS {
		if t.tls, err = tlsConfig(cfg); err != nil {
			return nil, err
		}
	}
	// Every session waits for its own message: a short batch wait keeps that wait short, while
	// concurrent sessions still share requests.
	t.publisher = publish.New(deps.Kafka, kafka.WriterOptions{BatchSize: 1000, BatchTimeout: time.Millisecond}, deps.Registry, deps.Logger)
	return t, nil
}

// topicsTimeout bounds one attempt to create the topics.
const topicsTimeout = 10 * time.Second

// Start ensures the topics exist, opens the listeners and serves them in the background. Kafka
// may be away: then mail goes to the spool (451 without one) until the topics exist; meanwhile
// the trap keeps trying, and replays its spool into Kafka.
func (t *Trap) Start() error {
	if err := t.ensureTopics(context.Background()); err != nil {
		t.kafkaDown.Store(true)
		t.deps.Logger.Warn("kafka unreachable at start; mail goes to the spool (451 without one) until it answers",
			"error", err, "spool", t.spool != nil)
	}
	for _, addr := range t.cfg.Listen {
		ln, err := t.listen(addr)
		if err != nil {
			t.Stop()
			return fmt.Errorf("trap: listen on %s: %w", addr, err)
		}
		s := smtp.NewServer(&backend{t})
		s.Domain = t.cfg.Hostname
		s.ReadTimeout, s.WriteTimeout = t.cfg.CommandTimeout, t.cfg.CommandTimeout
		s.MaxMessageBytes, s.MaxLineLength = t.cfg.MaxMessageBytes, t.cfg.MaxLineLength
		s.TLSConfig = t.tls
		s.ErrorLog = smtpLogger{t.deps.Logger}
		t.servers, t.addrs = append(t.servers, s), append(t.addrs, ln.Addr())
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				t.deps.Logger.Error("listener failed", "addr", ln.Addr().String(), "error", err)
			}
		}()
		t.deps.Logger.Info("trap listening", "addr", ln.Addr().String(), "tls", t.tls != nil,
			"proxy_protocol_from", len(t.cfg.ProxyFrom), "spool", t.cfg.SpoolDir != "", "archive", t.cfg.ArchiveDir != "")
	}
	t.retry.Go(t.retryKafka)
	return nil
}

// Done is closed once Stop has ended the trap's background work: a trap ends only when stopped.
func (t *Trap) Done() <-chan struct{} { return t.retry.Done() }

// Addrs are the addresses the trap listens on (useful with port 0).
func (t *Trap) Addrs() []net.Addr { return t.addrs }

// retryKafka creates the topics if Kafka was away at start, and replays the spool into Kafka,
// until ctx ends.
func (t *Trap) retryKafka(ctx context.Context) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !t.topicsReady.Load() {
			if err := t.ensureTopics(ctx); err != nil {
				continue
			}
			t.kafkaDown.Store(false)
			t.deps.Logger.Info("kafka answers and the topics exist")
		}
		if t.spool != nil {
			t.replaySpool(ctx)
		}
	}
}

// ensureTopics creates the topics that do not exist yet.
func (t *Trap) ensureTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, topicsTimeout)
	defer cancel()
	if err := t.deps.Kafka.EnsureTopics(ctx); err != nil {
		return err
	}
	t.topicsReady.Store(true)
	return nil
}

// Stop closes the listeners, waits for sessions in progress, and flushes the archive. What is
// still in the spool stays there for the next start.
func (t *Trap) Stop() error {
	_ = t.retry.Stop() // it returns only when stopped, with nil
	for _, s := range t.servers {
		ctx, cancel := context.WithTimeout(context.Background(), t.cfg.HandoffTimeout+time.Second)
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
		cancel()
	}
	t.wg.Wait()
	var err error
	if t.archive != nil {
		err = t.archive.close()
	}
	return errors.Join(err, t.publisher.Close())
}

// Healthy reports Kafka being away with messages piling up in the spool.
func (t *Trap) Healthy() error {
	if t.kafkaDown.Load() {
		return errors.New("kafka unreachable: messages go to the spool")
	}
	return nil
}

var errNoTopics = errors.New("kafka has not answered since the trap started: the topics may not exist")

// handoff publishes r to Kafka or, failing that within HandoffTimeout, writes it to the spool.
// It returns where the event went, or an error when neither could take it.
func (t *Trap) handoff(ctx context.Context, r *event.Raw) (string, error) {
	start := time.Now()
	if t.topicsReady.Load() && (t.spool == nil || !t.kafkaDown.Load()) {
		pctx, cancel := context.WithTimeout(ctx, t.cfg.HandoffTimeout)
		err := t.publisher.Publish(pctx, []event.Raw{*r})
		cancel()
		if err == nil {
			t.kafkaDown.Store(false)
			t.metrics.handoffSeconds.WithLabelValues("kafka").Observe(time.Since(start).Seconds())
			return "kafka", nil
		}
		if !t.kafkaDown.Swap(true) {
			t.deps.Logger.Warn("kafka cannot take events; spooling", "error", err, "spool", t.cfg.SpoolDir != "")
		}
		if t.spool == nil {
			return "", err
		}
	}
	if t.spool == nil {
		return "", errNoTopics
	}
	b, err := event.EncodeRaw(r)
	if err != nil {
		return "", err
	}
	if err := t.spool.put(b); err != nil {
		return "", err
	}
	t.metrics.spooled.Inc()
	t.metrics.handoffSeconds.WithLabelValues("spool").Observe(time.Since(start).Seconds())
	return "spool", nil
}

// replaySpool publishes the spool, oldest first, in batches, removing what Kafka acknowledged.
func (t *Trap) replaySpool(ctx context.Context) {
	for !t.spool.empty() && ctx.Err() == nil {
		names, raws, err := t.spool.read(500)
		if err != nil {
			t.deps.Logger.Error("reading the spool", "error", err)
			return
		}
		events := make([]event.Raw, 0, len(raws))
		for i, b := range raws {
			r, err := event.DecodeRaw(b)
			if err != nil {
				// Only this trap writes there; a file it cannot read was damaged on disk.
				t.deps.Logger.Error("dropping a damaged spool file", "file", names[i], "error", err)
				continue
			}
			events = append(events, r)
		}
		// No deadline: Publish retries until Kafka acknowledges the batch or the trap stops. A
		// deadline would abandon a batch that kafka-go's writer may still deliver after it (the
		// writer finishes a started batch in the background), and the next tick would send the
		// same spool files again: duplicates on the topic (seen in tests/e2e/TestTrapWhileKafkaIsAway).
		if err := t.publisher.Publish(ctx, events); err != nil {
			return // the trap is stopping
		}
		if err := t.spool.remove(names); err != nil {
			t.deps.Logger.Error("cleaning the spool", "error", err)
			return
		}
		t.kafkaDown.Store(false)
		t.metrics.spoolReplayed.Add(float64(len(events)))
		t.deps.Logger.Info("spooled events published", "events", len(events))
	}
}

// smtpLogger routes go-smtp's complaints (mostly broken client connections) to debug logs.
type smtpLogger struct{ l *slog.Logger }

func (s smtpLogger) Printf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s smtpLogger) Println(v ...any)               { s.l.Debug(fmt.Sprint(v...)) }
