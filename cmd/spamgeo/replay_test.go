package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/replay"
	"github.com/spamgeo/spamgeo/producers/trap"
)

const (
	directMessage = "Received: from bot (dsl.example [81.2.69.160]) by mx.trap.test (Postfix) with SMTP id A1; Tue, 05 Apr 2005 10:00:00 +0000\n" +
		"From: Pills <p@pills.test>\nSubject: cheap\nDate: Tue, 05 Apr 2005 09:59:00 +0000\n\nFrom the desk of: http://pills.test/\n"
	relayedMessage = "Received: from relay.operator.test (relay.operator.test [89.160.20.112]) by mx.trap.test (Postfix) with ESMTP id A2; Wed, 06 Apr 2005 11:00:00 +0000\n" +
		"Received: from hijacked (cable.example [216.160.83.56]) by relay.operator.test (Exim 4.50) with SMTP id B2; Wed, 06 Apr 2005 10:59:59 +0000\n" +
		"Subject: relayed\n\nbody\n"
	noSourceMessage = "Subject: no received\n\nbody\n"
	ipv6Message     = "Received: from v6bot ([IPv6:2a02:cf40::1]) by mx.trap.test (Postfix) with ESMTP id A3; Thu, 07 Apr 2005 12:00:00 +0000\nSubject: v6\n\nbody\n"
	localMessage    = "Received: from localhost (localhost [127.0.0.1]) by mx.trap.test (Postfix) with ESMTP id A4; Thu, 07 Apr 2005 13:00:00 +0000\nSubject: local\n\nbody\n"
)

// writeArchives makes a gzip mbox and a Maildir whose messages' sources are known.
func writeArchives(t *testing.T) (mbox, maildir string) {
	t.Helper()
	dir := t.TempDir()
	mbox = filepath.Join(dir, "trap.mbox.gz")
	f, err := os.Create(mbox)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	for _, m := range []string{directMessage, relayedMessage, noSourceMessage} {
		gz.Write([]byte("From MAILER-DAEMON Tue Apr  5 10:00:00 2005\n" + strings.ReplaceAll(m, "\nFrom the", "\n>From the") + "\n"))
	}
	gz.Close()
	f.Close()
	maildir = filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(maildir, sub), 0o755)
	}
	os.WriteFile(filepath.Join(maildir, "cur", "1.host:2,S"), []byte(ipv6Message), 0o644)
	os.WriteFile(filepath.Join(maildir, "new", "2.host"), []byte(localMessage), 0o644)
	return mbox, maildir
}

// spamgeo replay on the real pipeline: an mbox and a Maildir whose sources are known (one
// relayed through a trusted relay, one IPv6) are stored with the right sources and dates,
// unusable messages are skipped with reasons, importing again adds nothing, and importing a
// live trap's archive adds nothing to what the trap published.
func TestReplayOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	spamgeo(t, env, "migrate")
	group := "r-" + testenv.Suffix() // one group throughout: each flow picks up where the last stopped
	flow := func() {
		spamgeo(t, env, "enrich", "--drain", "--metrics-listen", "", "--group", group, "--geoip-country", country, "--geoip-asn", asn)
		spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", group)
	}
	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stored := func(where string) []string {
		rows, err := conn.Query(context.Background(), "SELECT concat(IPv6NumToString(source_ip), ' ', toString(received_at), ' ', collector) FROM events WHERE "+where+" ORDER BY received_at")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		return out
	}

	mbox, maildir := writeArchives(t)
	out := spamgeo(t, env, "replay", "--trusted-relays", "89.160.20.112", mbox, maildir)
	if !strings.Contains(out, "imported 3 messages, skipped 2") || !strings.Contains(out, "no-source-no-received") ||
		!strings.Contains(out, "no-source-only-trusted-hops") {
		t.Errorf("replay summary:\n%s", out)
	}
	flow()
	want := []string{"::ffff:81.2.69.160 2005-04-05 10:00:00 replay", "::ffff:216.160.83.56 2005-04-06 11:00:00 replay",
		"2a02:cf40::1 2005-04-07 12:00:00 replay"}
	if got := stored("1"); !slices.Equal(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var subject, rule string
	var hosts []string
	if err := conn.QueryRow(context.Background(), "SELECT subject, source_rule, url_hosts FROM events WHERE IPv6NumToString(source_ip) = '::ffff:81.2.69.160'").Scan(&subject, &rule, &hosts); err != nil {
		t.Fatal(err)
	}
	if subject != "cheap" || rule != "received" || !slices.Equal(hosts, []string{"pills.test"}) {
		t.Errorf("mail details stored: subject %q, rule %q, url hosts %v", subject, rule, hosts)
	}

	spamgeo(t, env, "replay", "--trusted-relays", "89.160.20.112", mbox, maildir)
	flow()
	if got := stored("1"); len(got) != 3 {
		t.Errorf("importing again changed the events: %d rows\n%s", len(got), strings.Join(got, "\n"))
	}

	// A live trap's archive: the trap publishes two messages; importing its archive adds nothing.
	cfg := trap.DefaultConfiguration()
	cfg.Listen, cfg.NoTLS, cfg.TrapID, cfg.ArchiveDir = []string{"127.0.0.1:0"}, true, "live", t.TempDir()
	tr, err := trap.New(cfg, trap.Dependencies{Kafka: env.kafka, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"one", "two"} {
		if err := smtp.SendMail(tr.Addrs()[0].String(), nil, "bulk@sender.test", []string{"victim@trap.test"},
			[]byte("Subject: "+subject+"\r\n\r\nFrom here on\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	tr.Stop()
	flow()
	if got := stored("collector = 'trap'"); len(got) != 2 {
		t.Fatalf("the live trap stored %d events, want 2", len(got))
	}
	out = spamgeo(t, env, "replay", cfg.ArchiveDir)
	if !strings.Contains(out, "imported 2 messages, skipped 0") {
		t.Errorf("replay of the trap's archive:\n%s", out)
	}
	flow()
	if got := stored("1"); len(got) != 5 {
		t.Errorf("after importing the trap's archive: %d events, want 5 (3 replayed + 2 live)\n%s", len(got), strings.Join(got, "\n"))
	}
	// The archive keeps the envelope recipients, so an import keeps them.
	archived, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir, "*.mbox.gz"))
	if len(archived) != 1 {
		t.Fatalf("archive files %q", archived)
	}
	items := 0
	if err := mailbox.Walk(context.Background(), []string{archived[0]}, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		e, reason := replay.Event(it, replay.DefaultConfiguration(), mailparse.DefaultLimits())
		if reason != "" || !slices.Equal(e.Mail.Recipients, []string{"victim@trap.test"}) || e.RcptCount != 1 || e.Collector != "replay" {
			t.Errorf("archived message reads back as %+v (%s)", e, reason)
		}
		items++
		return nil
	}, nil); err != nil || items != 2 {
		t.Errorf("walked %d archived messages: %v", items, err)
	}
}

// Issue 18, finding 6: a directory holding a symbolic link to nothing among good files is
// imported: the link is skipped and reported by its reason, and the command succeeds.
func TestReplayDirectoryWithBrokenSymlink(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	dir := t.TempDir()
	for i, m := range []string{directMessage, ipv6Message} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i)), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "gone.eml"), filepath.Join(dir, "0-dangling.eml")); err != nil {
		t.Fatal(err)
	}
	out, err := runWith(env, "replay", dir)
	if err != nil || !strings.Contains(out, "imported 2 messages, skipped 1") || !strings.Contains(out, "broken-symlink") {
		t.Errorf("replay of a directory with a broken link: %v\n%s", err, out)
	}
}

// Issue 18, finding 18: the archive of a trap still running, today's file still open, imports
// every message and reports nothing corrupt or incomplete.
func TestReplayOfARunningTrapsArchive(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	cfg := trap.DefaultConfiguration()
	cfg.Listen, cfg.NoTLS, cfg.TrapID, cfg.ArchiveDir = []string{"127.0.0.1:0"}, true, "open", t.TempDir()
	tr, err := trap.New(cfg, trap.Dependencies{Kafka: env.kafka, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer tr.Stop()
	for _, subject := range []string{"one", "two", "three"} {
		if err := smtp.SendMail(tr.Addrs()[0].String(), nil, "bulk@sender.test", []string{"victim@trap.test"},
			[]byte("Subject: "+subject+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runWith(env, "replay", cfg.ArchiveDir)
	if err != nil || !strings.Contains(out, "imported 3 messages, skipped 0") {
		t.Errorf("replay of the open archive: %v\n%s", err, out)
	}
	// Read while the trap writes its last message (or cut short): what is complete is imported,
	// and the file is named as incomplete, not corrupt.
	archived, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir, "*.mbox.gz"))
	if len(archived) != 1 {
		t.Fatalf("archive files %q", archived)
	}
	data, err := os.ReadFile(archived[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mbox.gz")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runWith(env, "replay", cut)
	if err != nil || !strings.Contains(out, "imported 2 messages, skipped 1") || !strings.Contains(out, "incomplete-gzip") ||
		!strings.Contains(out, cut+": incomplete, still being written or cut short: 2 messages imported") || strings.Contains(out, "corrupt") {
		t.Errorf("replay of an archive cut inside its last message: %v\n%s", err, out)
	}
}
