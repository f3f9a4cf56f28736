package trap

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/replay"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// liveEvent is the event the trap publishes for message, made as session.event makes it, from a
// session whose client is 203.0.113.7 or, when relayed, one of the trap's trusted relays.
func liveEvent(message []byte, from, helo string, recipients []string, tls, relayed bool, port uint16, at time.Time) *event.Raw {
	msg := mailparse.Parse(message, mailparse.DefaultLimits())
	m := msg.Mail()
	m.SourceRule, m.SourcePort, m.Listener, m.TLS, m.Recipients = event.SourceSMTPClient, port, "192.0.2.1:25", tls, recipients
	source := netip.MustParseAddr("203.0.113.7")
	if relayed {
		if found := mailparse.FindSource(msg.Received, []netip.Prefix{netip.MustParsePrefix("81.2.69.0/24")}); found.IP.IsValid() {
			source, m.SourceRule, m.SourceHop, m.SourceHeader = found.IP, event.SourceReceived, found.Hop, found.Header
		} else {
			m.Defects = append(m.Defects, "received-"+found.Reason)
		}
	}
	return &event.Raw{SchemaVersion: event.SchemaVersion, EventID: uuid.NewSHA1(uuid.NameSpaceOID, message).String(),
		ReceivedAt: at.UTC(), TrapID: "fuzz", Collector: event.CollectorTrap, SourceIP: source, HELO: helo, MailFrom: from,
		RcptCount: len(recipients), Size: int64(len(message)), Mail: m}
}

// replayArchive reads the archive files in dir as spamgeo replay does, failing on any skip.
func replayArchive(t *testing.T, dir string) (events []event.Raw, messages [][]byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	err := mailbox.Walk(context.Background(), files, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		e, reason := replay.Event(it, replay.DefaultConfiguration(), mailparse.DefaultLimits())
		if reason != "" {
			t.Fatalf("archived message %d skipped: %s\n%q", it.Index, reason, it.Data)
		}
		message, _, _ := envelope.Unwrap(it.Data)
		events, messages = append(events, e), append(messages, bytes.Clone(message))
		return nil
	}, func(s mailbox.Skipped) { t.Fatalf("archive: skipped %+v", s) })
	if err != nil {
		t.Fatal(err)
	}
	return events, messages
}

// Issue 18, finding 18: the archive is a complete gzip stream after every message, while the
// trap still writes it, so replaying today's file reads every message and skips none; a new run
// starts the day's next file and leaves the last one as it was.
func TestArchiveIsCompleteAfterEveryMessage(t *testing.T) {
	dir := t.TempDir()
	a, err := newArchive(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 9, 3, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		message := []byte("Subject: " + strings.Repeat("x", i) + "\r\n\r\nbody\r\n")
		if err := a.write(liveEvent(message, "a@b", "h", []string{"v@trap.example"}, false, false, 25, at), message); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "t-2024-09-03.mbox.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			_, err = io.ReadAll(zr)
		}
		if err != nil {
			t.Errorf("after message %d the open archive is not a complete gzip stream: %v", i, err)
		}
		if events, _ := replayArchive(t, dir); len(events) != i+1 {
			t.Errorf("after message %d the open archive replays %d messages", i, len(events))
		}
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "t-2024-09-03.mbox.gz"))
	again, _ := newArchive(dir, "t")
	message := []byte("Subject: next run\r\n\r\n")
	if err := again.write(liveEvent(message, "", "h", []string{"v@trap.example"}, false, false, 25, at), message); err != nil {
		t.Fatal(err)
	}
	again.close()
	if now, _ := os.ReadFile(filepath.Join(dir, "t-2024-09-03.mbox.gz")); !bytes.Equal(now, first) {
		t.Error("a new run wrote into the file an earlier run left")
	}
	if events, _ := replayArchive(t, dir); len(events) != 4 {
		t.Errorf("two runs' files replay %d messages, want 4", len(events))
	}
}

// FuzzArchiveRoundTrip: the trap's event of any message and session, archived then replayed,
// comes back field for field (but its collector), and the message byte for byte; so does a
// message archived after it.
func FuzzArchiveRoundTrip(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "archive") // emptied for each input: cheaper than a new one
	f.Fuzz(func(t *testing.T, message []byte, from, helo, recipients string, tls, relayed bool, port uint16, at int64) {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		a, err := newArchive(dir, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		// Any time ClickHouse can store, to the nanosecond.
		const span = int64(136 * 365 * 24 * time.Hour)
		when := time.Unix(0, 0).Add(time.Duration((at%span + span) % span))
		live := []*event.Raw{liveEvent(message, from, helo, strings.Split(recipients, "\n"), tls, relayed, port, when)}
		next := []byte("Subject: next\n\nFrom the end\n")
		live = append(live, liveEvent(next, "", "next", []string{"v@trap.example"}, false, false, 25, when))
		for i, m := range [][]byte{message, next} {
			if err := a.write(live[i], m); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		events, messages := replayArchive(t, dir)
		if len(events) != 2 {
			t.Fatalf("replayed %d events, want 2", len(events))
		}
		for i, m := range [][]byte{message, next} {
			if !bytes.Equal(messages[i], m) {
				t.Errorf("message %d archived as %q, received %q", i, messages[i], m)
			}
			events[i].Collector = event.CollectorTrap
			if !reflect.DeepEqual(events[i], *live[i]) {
				t.Errorf("message %d replays as\n%+v\n%+v\nlive\n%+v\n%+v", i, events[i], *events[i].Mail, *live[i], *live[i].Mail)
			}
		}
	})
}
