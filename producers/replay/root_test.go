package replay

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// An entry of the trap's archive from before envelope records still gives the trap's event id,
// trap, source and time from the trace headers the trap wrote then.
func TestOldTrapArchiveStillReplays(t *testing.T) {
	old := "Delivered-To: victim@trap.example\n" +
		"Received: from bot.example (unknown [81.2.69.160])\n\tby trap.localhost (spamgeo trap t1) with ESMTPS id 839b7deb-4a95-4cf6-a03c-c709d2eec5ed;\n\tThu, 03 Dec 2026 12:48:34 +0000\n" +
		"Subject: old\n\nbody\n"
	e, reason := Event(mailbox.Item{Data: []byte(old)}, DefaultConfiguration(), mailparse.DefaultLimits())
	if reason != "" {
		t.Fatalf("skipped: %s", reason)
	}
	if e.EventID != "839b7deb-4a95-4cf6-a03c-c709d2eec5ed" || e.TrapID != "t1" || e.SourceIP != netip.MustParseAddr("81.2.69.160") ||
		!e.ReceivedAt.Equal(time.Date(2026, 12, 3, 12, 48, 34, 0, time.UTC)) || e.HELO != "bot.example" ||
		!slices.Equal(e.Mail.Recipients, []string{"victim@trap.example"}) || e.Collector != event.CollectorReplay {
		t.Errorf("old archive entry replays as %+v, %+v", e, *e.Mail)
	}
}

// An envelope record that cannot be read, or whose message is shorter than it says, skips the
// message as "bad-envelope" rather than importing it with guessed facts.
func TestBadEnvelopeIsSkipped(t *testing.T) {
	good := envelope.Envelope{Version: envelope.Version, EventID: "839b7deb-4a95-4cf6-a03c-c709d2eec5ed", TrapID: "t",
		ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), SourceIP: netip.MustParseAddr("81.2.69.160"),
		SourceRule: event.SourceSMTPClient, Recipients: []envelope.Text{"v@trap.example"}, Size: int64(len("Subject: x\n\n"))}
	record := func(e envelope.Envelope) string {
		b, err := envelope.Append(nil, e, "\n")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	newer := good
	newer.Version++
	for name, entry := range map[string]string{
		"not json":        envelope.Field + ": {\"version\": 1,\nSubject: x\n\n",
		"cut short":       record(good) + "Subject: x\n",
		"bytes after":     record(good) + "Subject: x\n\nbody and more\n",
		"unknown version": record(newer) + "Subject: x\n\n\n",
	} {
		if _, reason := Event(mailbox.Item{Data: []byte(entry)}, DefaultConfiguration(), mailparse.DefaultLimits()); reason != "bad-envelope" {
			t.Errorf("%s: reason %q, want bad-envelope", name, reason)
		}
	}
	e, reason := Event(mailbox.Item{Data: []byte(record(good) + "Subject: x\n\n\n")}, DefaultConfiguration(), mailparse.DefaultLimits())
	if reason != "" || e.Size != 12 || e.EventID != good.EventID || !e.ReceivedAt.Equal(good.ReceivedAt) {
		t.Errorf("good record: %q, %+v", reason, e)
	}
}

func TestSummaryNamesIncompleteFiles(t *testing.T) {
	s := Summary{Imported: 5, Skipped: map[string]int{"incomplete-gzip": 1, "broken-symlink": 2},
		Incomplete: map[string]int{"/a/t-2026-01-02.mbox.gz": 5}}
	want := "imported 5 messages, skipped 3\n  broken-symlink           2\n  incomplete-gzip          1\n" +
		"/a/t-2026-01-02.mbox.gz: incomplete, still being written or cut short: 5 messages imported, not the one it ends in"
	if got := s.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(Summary{Skipped: map[string]int{}}.String(), "imported 0 messages, skipped 0") {
		t.Error("empty summary")
	}
}
