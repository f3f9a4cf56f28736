package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/telemetry"
	"github.com/spamgeo/spamgeo/producers/synth"
)

// SynthCmd is `spamgeo synth`.
type SynthCmd struct {
	Profile string `help:"Built-in profile name or path of a profile file (YAML: name, from, to, shares)." default:"sophos-2005-apr-sep" env:"SPAMGEO_SYNTH_PROFILE"`
	Events  int64  `help:"Exact number of events to publish (history profiles: about that many, each published table a multiple of 10,000)." default:"100000" env:"SPAMGEO_SYNTH_EVENTS"`
	Seed    uint64 `help:"Seed; the same seed, profile and count publish the same events (same event IDs)." default:"1" env:"SPAMGEO_SYNTH_SEED"`
	TrapID  string `help:"trap_id of every event." default:"synth" env:"SPAMGEO_SYNTH_TRAP_ID"`
	IPv6    bool   `help:"Draw source addresses from IPv6 networks too." name:"ipv6" env:"SPAMGEO_SYNTH_IPV6"`
	List    bool   `help:"List the built-in profiles and exit." env:"SPAMGEO_SYNTH_LIST"`
	GeoIPFlags
	MetricsListen string `help:"Serve Prometheus /metrics and /healthz on this address; empty turns it off." env:"SPAMGEO_SYNTH_METRICS_LISTEN"`
}

// Help describes profiles.
func (c *SynthCmd) Help() string {
	return "Publishes raw events to the raw topic as a trap would, with source addresses drawn from the " +
		"country database's own networks, so enrichment puts each event back in its profile country. " +
		"A profile lists countries and their percentage of messages over a period; the rest of 100% is " +
		"spread evenly over other countries, each at most half the smallest listed share. Built-in profiles: " +
		strings.Join(synth.BuiltinProfiles(), ", ") + "."
}

// Run publishes the events and prints the plan it followed.
func (c *SynthCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	if c.List {
		for _, name := range synth.BuiltinProfiles() {
			p, err := synth.LoadProfile(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-22s %s\n", name, p.Description)
		}
		return nil
	}
	reg := telemetry.NewRegistry()
	stop, err := startTelemetry(c.MetricsListen, reg, func() error { return nil }, g.logger)
	if err != nil {
		return err
	}
	defer stop()
	cfg := synth.DefaultConfiguration()
	cfg.Profile, cfg.Events, cfg.Seed, cfg.TrapID = c.Profile, c.Events, c.Seed, c.TrapID
	cfg.CountryDatabase, cfg.IPv6 = c.GeoipCountry, c.IPv6
	plan, err := synth.Run(ctx, cfg, synth.Dependencies{
		Kafka: g.kafka(), Registry: reg, Logger: g.logger, Progress: progress(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %d events of profile %s to %s:\n", plan.Total(), c.Profile, g.KafkaRawTopic)
	codes, counts := plan.Totals()
	for i, cc := range codes {
		fmt.Fprintf(stdout, "  %s %-28s %8d  %6.2f%%\n", cc, countries.Name(cc), counts[i],
			100*float64(counts[i])/float64(max(plan.Total(), 1)))
	}
	return nil
}
