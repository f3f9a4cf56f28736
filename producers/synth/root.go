// Package synth generates trap traffic with known country shares — the ground truth of tests,
// demos and benchmarks. It publishes raw events exactly as a trap would, with source addresses
// drawn from the GeoIP database's own networks so the enricher places each one back where the
// profile put it. It is not a load generator for the SMTP trap.
package synth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/schollz/progressbar/v3"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/producers/publish"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Configuration of one synthetic run.
type Configuration struct {
	// Profile is a built-in profile name or the path of a profile file.
	Profile string
	// Events is the exact number of events to publish for a one-period profile, and about the
	// number for a history profile (each of whose tables gets a multiple of 10,000).
	Events int64
	// Seed makes the run reproducible: the same seed, profile and count give the same events.
	Seed uint64
	// TrapID is the trap_id of every event.
	TrapID string
	// CountryDatabase is the GeoIP country file whose networks source addresses come from.
	CountryDatabase string
	// IPv6 lets source addresses come from IPv6 networks too.
	IPv6 bool
	// BatchSize is how many events go to Kafka in one acknowledged write.
	BatchSize int
}

// DefaultConfiguration publishes 100,000 events of the 2005 profile.
func DefaultConfiguration() Configuration {
	return Configuration{
		Profile:   "sophos-2005-apr-sep",
		Events:    100_000,
		Seed:      1,
		TrapID:    "synth",
		BatchSize: 5000,
	}
}

// Dependencies are what a run needs from its process.
type Dependencies struct {
	Kafka    kafka.Configuration
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// Progress receives a progress bar; nil for none.
	Progress io.Writer
}

// Run publishes the whole run and returns the plan it followed.
func Run(ctx context.Context, cfg Configuration, deps Dependencies) (Plan, error) {
	profile, err := LoadProfile(cfg.Profile)
	if err != nil {
		return Plan{}, err
	}
	networks, err := geoip.CountryNetworks(cfg.CountryDatabase, cfg.IPv6)
	if err != nil {
		return Plan{}, err
	}
	var available []string
	for c := range networks {
		available = append(available, c)
	}
	plan, err := NewPlan(profile, cfg.Events, available, cfg.Seed)
	if err != nil {
		return Plan{}, err
	}
	gen, err := NewGenerator(profile, plan, networks, cfg.Seed, cfg.TrapID)
	if err != nil {
		return Plan{}, err
	}
	if err := deps.Kafka.EnsureTopics(ctx); err != nil {
		return Plan{}, err
	}
	pub := publish.New(deps.Kafka, kafka.DefaultWriterOptions(), deps.Registry, deps.Logger)
	defer pub.Close()

	total := plan.Total()
	tables := profile.Tables()
	codes, _ := plan.Totals()
	deps.Logger.Info("synthesizing", "profile", profile.Name, "events", total, "countries", len(codes), "tables", len(tables),
		"from", tables[0].From.Format(time.DateOnly), "to", tables[len(tables)-1].To.Format(time.DateOnly), "topic", deps.Kafka.RawTopic)
	bar := newBar(deps.Progress, total, "synth "+profile.Name)
	start := time.Now()
	batch := make([]event.Raw, 0, cfg.BatchSize)
	flush := func() error {
		if err := pub.Publish(ctx, batch); err != nil {
			return err
		}
		_ = bar.Add(len(batch))
		batch = batch[:0]
		return nil
	}
	for e := range gen.Events() {
		batch = append(batch, e)
		if len(batch) == cfg.BatchSize {
			if err := flush(); err != nil {
				return Plan{}, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return Plan{}, err
		}
	}
	_ = bar.Finish()
	elapsed := time.Since(start)
	deps.Logger.Info("synthesized", "profile", profile.Name, "events", total, "elapsed", elapsed.Round(time.Millisecond),
		"events_per_second", fmt.Sprintf("%.0f", float64(total)/elapsed.Seconds()))
	return plan, nil
}

func newBar(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	if w == nil {
		return progressbar.DefaultSilent(total)
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
