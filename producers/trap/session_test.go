package trap_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/replay"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// client is a raw SMTP connection whose replies are read line by line.
type client struct {
	t     *testing.T
	conn  net.Conn
	r     *bufio.Reader
	start time.Time
}

func connect(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn), start: time.Now()}
	c.expect("220 ")
	return c
}

// reply reads one reply line (each line of a multi-line reply).
func (c *client) reply() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := c.r.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// send writes one command line and returns the last line of its reply.
func (c *client) send(line string) string {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
	for {
		reply, err := c.reply()
		if err != nil {
			c.t.Fatalf("reply to %q: %v", line, err)
		}
		if len(reply) < 4 || reply[3] != '-' {
			return reply
		}
	}
}

// startTLS says EHLO and turns the connection to TLS.
func (c *client) startTLS() {
	c.t.Helper()
	c.send("EHLO tls.test")
	if got := c.send("STARTTLS"); !strings.HasPrefix(got, "220 ") {
		c.t.Fatalf("STARTTLS: %q", got)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

func (c *client) expect(prefix string) {
	c.t.Helper()
	reply, err := c.reply()
	if err != nil || !strings.HasPrefix(reply, prefix) {
		c.t.Fatalf("reply %q (%v), want %q...", reply, err, prefix)
	}
}

// rest reads what the trap still says until it closes the connection, and when it closed it.
func (c *client) rest() (lines []string, closedAfter time.Duration) {
	c.t.Helper()
	for {
		line, err := c.reply()
		if line != "" {
			lines = append(lines, line)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || err != nil && strings.Contains(err.Error(), "reset") {
			return lines, time.Since(c.start)
		}
		if err != nil {
			c.t.Fatalf("the trap did not close the connection: %v (said %q)", err, lines)
		}
	}
}

// A command line trickled a byte at a time is cut at --command-timeout, with one 421 and the
// connection closed, long before --session-timeout, in plain text as after STARTTLS; the part
// of the line read by then is not taken for a command. Before, go-smtp's line reader handed that
// part up as a whole command (250 to "HELO slow.ex") and the next command's deadline started
// afresh.
func TestCommandTimeoutCutsATrickledLine(t *testing.T) {
	const commandTimeout = time.Second
	r := startTrap(t, testenv.Kafka(t), func(c *trap.Configuration) {
		c.CommandTimeout, c.DataTimeout, c.SessionTimeout = commandTimeout, 20*time.Second, 30*time.Second
	})
	for i, starttls := range []bool{false, true} {
		c := connect(t, r.addr)
		if starttls {
			c.startTLS()
		}
		c.start = time.Now()
		go func() {
			for _, b := range []byte("HELO slow.example.with.a.long.name.sent.one.byte.at.a.time.example\r\n") {
				if _, err := c.conn.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		lines, closedAfter := c.rest()
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "421 4.4.2 ") {
			t.Errorf("STARTTLS %v: replies to a trickled command line: %q, want one 421 4.4.2", starttls, lines)
		}
		// The trap's clock starts as it sends its reply, a little before the client's does.
		if closedAfter < commandTimeout-200*time.Millisecond || closedAfter > commandTimeout+time.Second {
			t.Errorf("STARTTLS %v: connection closed after %v, want at the command timeout (%v)", starttls,
				closedAfter.Round(time.Millisecond), commandTimeout)
		}
		waitCounter(t, r, "spamgeo_trap_sessions_total", "timeout", float64(i+1))
	}
	if got := counter(t, r.reg, "spamgeo_trap_rejected_total", "command-timeout"); got != 2 {
		t.Errorf("rejected{command-timeout} = %v, want 2", got)
	}
}

// Commands that each arrive within --command-timeout, and a DATA phase longer than it but within
// --data-timeout, are served: the command timeout bounds one line, not the session or a message.
func TestSlowButTimelyClientIsServed(t *testing.T) {
	const commandTimeout = time.Second
	r := startTrap(t, testenv.Kafka(t), func(c *trap.Configuration) {
		c.CommandTimeout, c.DataTimeout, c.SessionTimeout = commandTimeout, 10*time.Second, 30*time.Second
	})
	c := connect(t, r.addr)
	for _, step := range []struct{ line, want string }{
		{"HELO slow.test", "250 "}, {"MAIL FROM:<a@sender.test>", "250 "}, {"RCPT TO:<victim@trap.example>", "250 "},
		{"NOOP", "250 "}, {"DATA", "354 "},
	} {
		time.Sleep(commandTimeout * 7 / 10)
		if got := c.send(step.line); !strings.HasPrefix(got, step.want) {
			t.Fatalf("%s: %q, want %q...", step.line, got, step.want)
		}
	}
	for i := range 4 { // 2.8 s of DATA, each line within the command timeout
		time.Sleep(commandTimeout * 7 / 10)
		fmt.Fprintf(c.conn, "Line %d of a slow message\r\n", i)
	}
	if got := c.send("."); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("end of a slow DATA phase: %q, want 250", got)
	}
	if got := c.send("QUIT"); !strings.HasPrefix(got, "221 ") {
		t.Errorf("QUIT: %q", got)
	}
	events(t, r, 1)
}

// Past --data-timeout the trap answers a plain 421 and closes the connection, in plain text as
// after STARTTLS. Before, it answered "554 5.0.0 Error: transaction failed: read tcp ...: i/o
// timeout" and read the rest of the body as commands until "Too many errors".
func TestDataTimeoutAnswers421AndCloses(t *testing.T) {
	const dataTimeout = 2 * time.Second
	r := startTrap(t, testenv.Kafka(t), func(c *trap.Configuration) {
		c.CommandTimeout, c.DataTimeout, c.SessionTimeout = 10*time.Second, dataTimeout, 30*time.Second
	})
	for i, starttls := range []bool{false, true} {
		c := connect(t, r.addr)
		if starttls {
			c.startTLS()
		}
		c.send("HELO slow.test")
		c.send("MAIL FROM:<a@sender.test>")
		c.send("RCPT TO:<victim@trap.example>")
		if got := c.send("DATA"); !strings.HasPrefix(got, "354 ") {
			t.Fatalf("DATA: %q", got)
		}
		c.start = time.Now()
		go func() { // a body that never ends, each line in good time but the whole too slow
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(c.conn, "NOOP body line %d\r\n", i); err != nil {
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
		lines, closedAfter := c.rest()
		if want := []string{"421 4.4.2 Data timeout, closing connection"}; !slices.Equal(lines, want) {
			t.Errorf("STARTTLS %v: replies past the data timeout: %q, want %q", starttls, lines, want)
		}
		if closedAfter < dataTimeout-200*time.Millisecond || closedAfter > dataTimeout+time.Second {
			t.Errorf("STARTTLS %v: connection closed %v into DATA, want at the data timeout (%v)", starttls,
				closedAfter.Round(time.Millisecond), dataTimeout)
		}
		if got := counter(t, r.reg, "spamgeo_trap_rejected_total", "data-timeout"); got != float64(i+1) {
			t.Errorf("rejected{data-timeout} = %v, want %d", got, i+1)
		}
	}
	if got := counter(t, r.reg, "spamgeo_trap_messages_accepted_total", ""); got != 0 {
		t.Errorf("accepted = %v, want 0", got)
	}
}

// A quoted local part is recorded as the client wrote it, in the event and in the archive (which
// replays with the same recipients), and the relay check looks at the domain after it: "user@other.example"@trap.example is a trap
// address, "x@trap.example"@other.example is not. Before, the quotes were lost:
// user@other.example@trap.example.
func TestQuotedLocalPartKept(t *testing.T) {
	archive := t.TempDir()
	r := startTrap(t, testenv.Kafka(t), func(c *trap.Configuration) { c.ArchiveDir = archive })
	c := connect(t, r.addr)
	c.send("EHLO quoting.test")
	for _, step := range []struct{ line, want string }{
		{`MAIL FROM:<"john doe"@sender.test>`, "250 "},
		{`RCPT TO:<"user@other.example"@trap.example>`, "250 "},
		{`RCPT TO:<"x@trap.example"@other.example>`, "550 5.7.1 "},
		{`RCPT TO:<"say \"hi\""@trap.example>`, "250 "},
		{`RCPT TO:<"plain"@trap.example>`, "250 "}, // needlessly quoted: the same mailbox as plain@
		{`RCPT TO:<Mixed.Case@Trap.Example>`, "250 "},
		{"DATA", "354 "},
	} {
		if got := c.send(step.line); !strings.HasPrefix(got, step.want) {
			t.Errorf("%s: %q, want %q...", step.line, got, step.want)
		}
	}
	if got := c.send("Subject: quoting\r\n\r\nbody\r\n."); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("end of DATA: %q", got)
	}
	c.send("QUIT")

	want := []string{`"user@other.example"@trap.example`, `"say \"hi\""@trap.example`, "plain@trap.example", "Mixed.Case@Trap.Example"}
	e := events(t, r, 1)[0]
	if !slices.Equal(e.Mail.Recipients, want) || e.RcptCount != len(want) {
		t.Errorf("event recipients %q (%d), want %q", e.Mail.Recipients, e.RcptCount, want)
	}
	if e.MailFrom != `"john doe"@sender.test` {
		t.Errorf("event mail from %q, want %q", e.MailFrom, `"john doe"@sender.test`)
	}
	if got := counter(t, r.reg, "spamgeo_trap_rejected_total", "relay-denied"); got != 1 {
		t.Errorf("rejected{relay-denied} = %v, want 1", got)
	}
	// The archive replays with the same envelope.
	archived, _ := filepath.Glob(filepath.Join(archive, "*.mbox.gz"))
	var replayed []event.Raw
	if err := mailbox.Walk(context.Background(), archived, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		e, reason := replay.Event(it, replay.DefaultConfiguration(), mailparse.DefaultLimits())
		if reason != "" {
			t.Errorf("archived message not replayed: %s", reason)
		}
		replayed = append(replayed, e)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if len(replayed) != 1 {
		t.Fatalf("the archive replays as %d events, want 1", len(replayed))
	}
	if r := replayed[0]; !slices.Equal(r.Mail.Recipients, want) || r.MailFrom != e.MailFrom {
		t.Errorf("the archive replays from %q to %q; want from %q to %q", r.MailFrom, r.Mail.Recipients, e.MailFrom, want)
	}
}

// waitCounter waits for a counter the trap sets as a connection closes.
func waitCounter(t *testing.T, r *running, name, label string, want float64) {
	t.Helper()
	if err := testenv.Wait(5*time.Second, 20*time.Millisecond, name, func() (bool, error) {
		got := counter(t, r.reg, name, label)
		return got == want, fmt.Errorf("%s{%s} = %v, want %v", name, label, got, want)
	}); err != nil {
		t.Error(err)
	}
}

// Kafka down as the trap starts: without a spool the trap serves all the same and answers 451,
// publishing nothing (spamgeo trap refuses to start so; the package leaves that to it).
func TestKafkaDownAtStartWithoutSpoolAnswers451(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := kafka.DefaultConfiguration()
	down.Brokers = []string{ln.Addr().String()} // nothing listens there once closed
	ln.Close()
	r := startTrap(t, down, func(c *trap.Configuration) { c.HandoffTimeout = time.Second })
	c := connect(t, r.addr)
	c.send("HELO strict.test")
	c.send("MAIL FROM:<a@sender.test>")
	c.send("RCPT TO:<victim@trap.example>")
	c.send("DATA")
	if got := c.send("Subject: x\r\n\r\nbody\r\n."); !strings.HasPrefix(got, "451 4.3.0 ") {
		t.Errorf("end of DATA while Kafka has been down since the start: %q, want 451 4.3.0", got)
	}
	if got := counter(t, r.reg, "spamgeo_trap_rejected_total", "handoff-failed"); got != 1 {
		t.Errorf("rejected{handoff-failed} = %v, want 1", got)
	}
}
