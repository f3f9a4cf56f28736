// Package replay imports archived trap mail — mbox, Maildir, .eml files and directories of them,
// plain or compressed — as raw events. A message of spamgeo trap's archive carries the trap's
// envelope record (package envelope) and gives back the event the trap published, id and all;
// any other is dated by its top Received header, sourced by the Received chain, and identified
// by its content. Either way importing an archive twice stores each message once (the sink skips
// replayed events it holds already).
package replay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/schollz/progressbar/v3"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/publish"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Configuration of one import.
type Configuration struct {
	// Paths are files and directories to import.
	Paths []string
	// TrapID names the trap the archive came from, for messages whose own trap header does not.
	TrapID string
	// TrustedRelays are the operator's mail servers: the source is the first hop not among them.
	TrustedRelays []netip.Prefix
	// Mailbox says how archives are read.
	Mailbox mailbox.Options
	// BatchSize is how many events are published at a time.
	BatchSize int
}

// DefaultConfiguration reads archives with mailbox's defaults.
func DefaultConfiguration() Configuration {
	return Configuration{TrapID: "replay", Mailbox: mailbox.DefaultOptions(), BatchSize: 1000}
}

// Dependencies are what an import works with.
type Dependencies struct {
	Kafka    kafka.Configuration
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// Progress receives a progress bar of bytes read; nil for none.
	Progress io.Writer
}

// Summary is what an import did.
type Summary struct {
	Imported int            `json:"imported"`
	Skipped  map[string]int `json:"skipped"` // by reason
	// Incomplete are the compressed files that end early (reasons "incomplete-gzip" and so on),
	// with the number of messages imported from each: the messages before the end were read, the
	// one it ends in was not. A file still being written reads so; import it again once complete.
	Incomplete map[string]int `json:"incomplete,omitempty"`
}

// Total is the number of messages skipped.
func (s Summary) Total() int {
	n := 0
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// String lists the counts, reasons sorted.
func (s Summary) String() string {
	out := fmt.Sprintf("imported %d messages, skipped %d", s.Imported, s.Total())
	for _, r := range slices.Sorted(maps.Keys(s.Skipped)) {
		out += fmt.Sprintf("\n  %-24s %d", r, s.Skipped[r])
	}
	for _, path := range slices.Sorted(maps.Keys(s.Incomplete)) {
		out += fmt.Sprintf("\n%s: incomplete, still being written or cut short: %d messages imported, not the one it ends in",
			path, s.Incomplete[path])
	}
	return out
}

// Run imports cfg.Paths and publishes their events to the raw topic.
func Run(ctx context.Context, cfg Configuration, deps Dependencies) (Summary, error) {
	sum := Summary{Skipped: map[string]int{}, Incomplete: map[string]int{}}
	total := mailbox.Size(cfg.Paths)
	bar := progressbar.DefaultBytesSilent(total)
	if deps.Progress != nil {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(deps.Progress),
			progressbar.OptionSetDescription("replay"), progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	defer bar.Finish()
	opts := cfg.Mailbox
	opts.Progress = func(n int64) { bar.Add64(n) }

	pub := publish.New(deps.Kafka, kafka.DefaultWriterOptions(), deps.Registry, deps.Logger)
	defer pub.Close()
	limits := mailparse.DefaultLimits()
	var batch []event.Raw
	fromFile := map[string]int{} // messages of each file in sum.Imported or batch
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := pub.Publish(ctx, batch); err != nil {
			return err
		}
		sum.Imported += len(batch)
		batch = batch[:0]
		return nil
	}
	skip := func(s mailbox.Skipped) {
		sum.Skipped[s.Reason]++
		if strings.HasPrefix(s.Reason, "incomplete-") {
			sum.Incomplete[s.Path] = fromFile[s.Path]
		}
		deps.Logger.Debug("skipped", "path", s.Path, "index", s.Index, "reason", s.Reason, "error", s.Err)
	}
	err := mailbox.Walk(ctx, cfg.Paths, opts, func(it mailbox.Item) error {
		e, reason := Event(it, cfg, limits)
		if reason != "" {
			skip(mailbox.Skipped{Path: it.Path, Index: it.Index, Reason: reason})
			return nil
		}
		batch = append(batch, e)
		fromFile[it.Path]++
		if len(batch) >= cfg.BatchSize {
			return flush()
		}
		return nil
	}, skip)
	if err == nil {
		err = flush()
	}
	return sum, err
}

// Event turns one archived message into a raw event, or says why it cannot.
func Event(it mailbox.Item, cfg Configuration, limits mailparse.Limits) (event.Raw, string) {
	message, env, err := envelope.Unwrap(it.Data)
	if err != nil {
		return event.Raw{}, "bad-envelope"
	}
	msg := mailparse.Parse(message, limits)
	var r event.Raw
	if env != nil {
		r = recorded(env, message, msg)
	} else {
		var reason string
		if r, reason = archived(it, message, msg, cfg); reason != "" {
			return event.Raw{}, reason
		}
	}
	if err := r.Validate(); err != nil {
		return event.Raw{}, "invalid-event"
	}
	return r, ""
}

// recorded is the event of a message the trap archived with its envelope record: the event the
// trap published, but for its collector.
func recorded(env *envelope.Envelope, message []byte, msg *mailparse.Message) event.Raw {
	mail := msg.Mail()
	mail.SourceRule, mail.SourceHop, mail.SourcePort, mail.Listener = env.SourceRule, env.SourceHop, env.SourcePort, env.Listener
	if env.SourceRule == event.SourceReceived && env.SourceHop < len(msg.Received) {
		mail.SourceHeader = msg.Received[env.SourceHop].Raw
	}
	mail.TLS, mail.Recipients = env.TLS, env.RecipientStrings()
	mail.Defects = append(mail.Defects, env.Defects...)
	return event.Raw{
		SchemaVersion: event.SchemaVersion, EventID: env.EventID, ReceivedAt: env.ReceivedAt.UTC(), TrapID: env.TrapID,
		Collector: event.CollectorReplay, SourceIP: env.SourceIP, HELO: string(env.HELO), MailFrom: string(env.MailFrom),
		RcptCount: len(env.Recipients), Size: int64(len(message)), Mail: mail,
	}
}

// archived is the event of a message without a record, dated and sourced by its Received chain,
// or the reason it cannot be imported.
func archived(it mailbox.Item, message []byte, msg *mailparse.Message, cfg Configuration) (event.Raw, string) {
	id, trapID := envelope.EventID(message, nil, msg), cfg.TrapID
	var src mailparse.Source
	if recorded, _, ok := envelope.TrapHop(msg); ok {
		// Written by spamgeo trap: its source is the trap's own verdict, taken as it is.
		trapID = recorded
		src = mailparse.Source{IP: msg.Received[0].FromIP, Hop: 0, Header: msg.Received[0].Raw}
	} else if src = mailparse.FindSource(msg.Received, cfg.TrustedRelays); !src.IP.IsValid() {
		return event.Raw{}, "no-source-" + src.Reason
	}
	at := time.Time{}
	if len(msg.Received) > 0 {
		at = msg.Received[0].Time // the trap's own
	}
	for _, t := range []time.Time{msg.Date, it.PostmarkTime} {
		if at.IsZero() {
			at = t
		}
	}
	if at.IsZero() {
		return event.Raw{}, "no-date"
	}
	mail := msg.Mail()
	mail.SourceRule, mail.SourceHop, mail.SourceHeader = event.SourceReceived, src.Hop, src.Header
	return event.Raw{
		SchemaVersion: event.SchemaVersion, EventID: id, ReceivedAt: at.UTC(), TrapID: trapID,
		Collector: event.CollectorReplay, SourceIP: src.IP, HELO: msg.Received[src.Hop].FromName,
		RcptCount: max(1, len(mail.Recipients)), Size: int64(len(message)), Mail: mail,
	}, ""
}
