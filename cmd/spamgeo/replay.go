package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spamgeo/spamgeo/internal/telemetry"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/replay"
)

// ReplayCmd is `spamgeo replay`.
type ReplayCmd struct {
	Paths           []string `arg:"" help:"mbox files, Maildirs, .eml files and directories of them; plain, .gz, .bz2 or .zst." type:"existingpath"`
	TrapID          string   `help:"trap_id of messages whose own trap header does not name one." default:"replay" env:"SPAMGEO_REPLAY_TRAP_ID"`
	TrustedRelays   []string `help:"Your own mail servers (addresses or CIDRs): the source is the first Received hop handed over by another machine." sep:"," env:"SPAMGEO_REPLAY_TRUSTED_RELAYS"`
	MboxQuoting     string   `help:"How mbox files quote body lines starting with 'From ': mboxrd (>From unquoted) or mboxo (left as they are)." enum:"mboxrd,mboxo" default:"mboxrd" env:"SPAMGEO_REPLAY_MBOX_QUOTING"`
	MaxMessageBytes int64    `help:"Larger messages are skipped." default:"67108864" env:"SPAMGEO_REPLAY_MAX_MESSAGE_BYTES"`
}

// Help explains dates, sources and ids.
func (c *ReplayCmd) Help() string {
	return "A message of spamgeo trap's archive becomes the event the trap published, from the envelope record " +
		"the trap wrote above it (same id, time, source, sender, recipients, TLS, size). Any other message becomes " +
		"a raw event dated by the top Received header (else the Date header, else the mbox postmark), sourced " +
		"from the first Received hop not among --trusted-relays (private and reserved hops are skipped), with an " +
		"id from its content. The sink stores a replayed id once: importing the same archive twice adds nothing. " +
		"Prints what was imported and what was skipped, with reasons; files that cannot be read are skipped, and a " +
		"compressed file that ends early (still being written) is read up to its end and named."
}

// Run imports the paths and prints the summary.
func (c *ReplayCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	cfg := replay.DefaultConfiguration()
	cfg.Paths, cfg.TrapID = c.Paths, c.TrapID
	cfg.Mailbox = mailbox.Options{MaxMessageBytes: c.MaxMessageBytes, MboxQuoting: c.MboxQuoting}
	var err error
	if cfg.TrustedRelays, err = mailparse.ParsePrefixes(c.TrustedRelays); err != nil {
		return err
	}
	kcfg := g.kafka()
	if err := kcfg.EnsureTopics(ctx); err != nil {
		return err
	}
	sum, err := replay.Run(ctx, cfg, replay.Dependencies{Kafka: kcfg, Registry: telemetry.NewRegistry(), Logger: g.logger, Progress: progress()})
	fmt.Fprintln(stdout, sum)
	return err
}
