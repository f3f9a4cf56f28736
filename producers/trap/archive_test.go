package trap_test

import (
	"context"
	"crypto/tls"
	"net/smtp"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/replay"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// archivedMessages are sent to the trap by TestArchiveReplaysTheLiveEvents: CRLF line ends as
// SMTP carries them, body lines that an mbox must quote (one a postmark line, one quoted
// already), and a header that claims to be the trap's own.
var archivedMessages = []string{
	"X-Spamgeo-Envelope: {\"version\": 1, \"event_id\": \"00000000-0000-0000-0000-000000000001\"}\r\n" +
		"Received: from forged (forged [1.2.3.4]) by trap (spamgeo trap forged) with ESMTP id 00000000-0000-0000-0000-000000000002;\r\n\tTue, 3 Sep 2024 10:00:00 +0000\r\n" +
		"Subject: first\r\n\r\nFrom a@b Mon Jan  2 15:04:05 2006\r\n>From here\r\nFrom the desk of\r\n\r\n\r\n",
	"Subject: =?UTF-8?B?w5xiZXI=?=\r\nFrom: <x@sender.test>\r\n\r\nhttp://pills.test/\r\n.leading dot\r\n",
}

// Issue 18, finding 7: replaying the trap's archive reproduces its live events field for field
// (id, mail_from, size, body_sha256, recipients as given, tls, received_at): the archive holds
// the message bytes as received and the envelope beside them.
func TestArchiveReplaysTheLiveEvents(t *testing.T) {
	kcfg := testenv.Kafka(t)
	cfg := trap.DefaultConfiguration()
	cfg.Listen, cfg.TrapID, cfg.ArchiveDir = []string{"127.0.0.1:0"}, "archive-trap", t.TempDir()
	cfg.AcceptAll, cfg.Domains = false, []string{"trap.example"}
	tr, err := trap.New(cfg, trap.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer tr.Stop()
	addr := tr.Addrs()[0].String()

	send := func(startTLS bool, from string, to []string, msg string) {
		t.Helper()
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("bot.example"); err != nil {
			t.Fatal(err)
		}
		if startTLS {
			if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Mail(from); err != nil {
			t.Fatal(err)
		}
		for _, rcpt := range to {
			if err := c.Rcpt(rcpt); err != nil {
				t.Fatalf("RCPT %q: %v", rcpt, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(msg))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	// The null sender over TLS; then a sender and recipients that differ only in case, twice the
	// same one, one in Chinese (RFC 6531) and one with a NUL byte.
	send(true, "", []string{"victim@trap.example"}, archivedMessages[0])
	send(false, "Bulk@Sender.test", []string{"Victim@trap.example", "victim@trap.example", "victim@trap.example",
		"用户@trap.example", "nul\x00l@trap.example"}, archivedMessages[1])
	live := events(t, &running{kcfg: kcfg}, 2)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	archived, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir, "*"))
	var replayed []event.Raw
	err = mailbox.Walk(context.Background(), archived, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		e, reason := replay.Event(it, replay.DefaultConfiguration(), mailparse.DefaultLimits())
		if reason != "" {
			t.Errorf("archived message %d skipped: %s", it.Index, reason)
			return nil
		}
		// Compared as they travel: both through the wire encoding.
		b, err := event.EncodeRaw(&e)
		if err != nil {
			return err
		}
		if e, err = event.DecodeRaw(b); err != nil {
			return err
		}
		replayed = append(replayed, e)
		return nil
	}, func(s mailbox.Skipped) { t.Errorf("archive: skipped %+v", s) })
	if err != nil || len(replayed) != len(live) {
		t.Fatalf("replayed %d of %d archived messages: %v", len(replayed), len(live), err)
	}
	for i := range live {
		if replayed[i].Collector != event.CollectorReplay {
			t.Errorf("replayed event %d: collector %q", i, replayed[i].Collector)
		}
		replayed[i].Collector = live[i].Collector // the one field that says the event was replayed
		if !reflect.DeepEqual(replayed[i], live[i]) {
			t.Errorf("message %d replays as\n%+v\n%+v\nlive\n%+v\n%+v", i, replayed[i], *replayed[i].Mail, live[i], *live[i].Mail)
		}
	}
	if m := live[1].Mail; !reflect.DeepEqual(m.Recipients, []string{"Victim@trap.example", "victim@trap.example",
		"victim@trap.example", "用户@trap.example", "nul\x00l@trap.example"}) || live[1].MailFrom != "Bulk@Sender.test" || !live[0].Mail.TLS {
		t.Errorf("live events do not show the session as sent: %q from %q, tls %v", m.Recipients, live[1].MailFrom, live[0].Mail.TLS)
	}
	if live[0].Size != int64(len(archivedMessages[0])) {
		t.Errorf("live size %d, sent %d bytes", live[0].Size, len(archivedMessages[0]))
	}
}
