package trap_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/producers/trap/traptest"
	"github.com/spamgeo/spamgeo/schemas/event"
)

type running struct {
	addr string
	reg  *prometheus.Registry
	kcfg kafka.Configuration
}

// startTrap runs a trap for the domain trap.example, publishing to kcfg.
func startTrap(t *testing.T, kcfg kafka.Configuration, change func(*trap.Configuration)) *running {
	t.Helper()
	cfg := trap.DefaultConfiguration()
	cfg.TrapID = "test-trap"
	cfg.AcceptAll, cfg.Domains = false, []string{"trap.example"}
	if change != nil {
		change(&cfg)
	}
	reg := prometheus.NewRegistry()
	return &running{addr: traptest.Start(t, cfg, kcfg, reg), reg: reg, kcfg: kcfg}
}

// swaks runs one SMTP transaction and returns its transcript; ok is swaks' verdict.
func swaks(t *testing.T, addr string, args ...string) (transcript string, ok bool) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(traptest.Tool(t, "swaks"), append([]string{"--server", host, "--port", port,
		"--helo", "spammer.test", "--from", "bulk@sender.test", "--timeout", "20"}, args...)...)
	out, err := cmd.CombinedOutput()
	if len(out) > 4000 { // keep failure messages readable
		out = append(out[:2000:2000], append([]byte("\n[...]\n"), out[len(out)-2000:]...)...)
	}
	return string(out), err == nil
}

func events(t *testing.T, r *running, want int) []event.Raw {
	t.Helper()
	var out []event.Raw
	for _, m := range testenv.ReadAll(t, r.kcfg, r.kcfg.RawTopic, want) {
		e, err := event.DecodeRaw(m.Value)
		if err != nil {
			t.Fatalf("the trap published an invalid event: %v\n%s", err, m.Value)
		}
		if string(m.Key) != e.SourceIP.String() {
			t.Errorf("event keyed %q, want its source %s", m.Key, e.SourceIP)
		}
		out = append(out, e)
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if label == "" || l.GetValue() == label {
					total += m.GetCounter().GetValue()
					break
				}
			}
			if len(m.GetLabel()) == 0 {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// Protocol cases, each driven by swaks against the real broker: what is accepted is published
// exactly once with what the session showed; what is refused is refused with the right code,
// counted, and publishes nothing.
func TestProtocolCasesWithSwaks(t *testing.T) {
	kcfg := testenv.Kafka(t)
	r := startTrap(t, kcfg, func(c *trap.Configuration) {
		c.MaxMessageBytes, c.MaxRecipients = 64<<10, 3
	})

	out, ok := swaks(t, r.addr, "--to", "victim@trap.example", "--header", "Subject: =?UTF-8?B?w5xiZXIgZ8O8bnN0aWc=?=",
		"--body", "Visit http://cheap-pills.example/buy now")
	if !ok {
		t.Fatalf("plain delivery refused:\n%s", out)
	}
	out, ok = swaks(t, r.addr, "--to", "victim@trap.example", "--tls")
	if !ok || !strings.Contains(out, "STARTTLS") {
		t.Fatalf("STARTTLS delivery refused:\n%s", out)
	}

	out, ok = swaks(t, r.addr, "--to", "someone@elsewhere.example")
	if ok || !strings.Contains(out, "550 5.7.1") {
		t.Errorf("relay attempt not refused with 550:\n%s", out)
	}
	out, ok = swaks(t, r.addr, "--to", "victim@trap.example", "--body", strings.Repeat(strings.Repeat("x", 72)+"\n", 1500))
	if ok || !strings.Contains(out, "552") {
		t.Errorf("oversize message not refused with 552:\n%s", out)
	}
	out, _ = swaks(t, r.addr, "--to", "a@trap.example,b@trap.example,c@trap.example,d@trap.example")
	if !strings.Contains(out, "452 4.5.3") {
		t.Errorf("fourth recipient not refused with 452:\n%s", out)
	}

	got := events(t, r, 3) // plain, TLS, and the first three recipients of the last one
	plain, tls, many := got[0], got[1], got[2]
	if plain.SourceIP != netip.MustParseAddr("127.0.0.1") || plain.HELO != "spammer.test" || plain.MailFrom != "bulk@sender.test" ||
		plain.Collector != event.CollectorTrap || plain.TrapID != "test-trap" || plain.RcptCount != 1 {
		t.Errorf("plain event: %+v", plain)
	}
	if m := plain.Mail; m == nil || m.SourceRule != event.SourceSMTPClient || m.Subject != "Über günstig" || m.TLS ||
		len(m.URLHosts) != 1 || m.URLHosts[0] != "cheap-pills.example" || m.Recipients[0] != "victim@trap.example" ||
		len(m.BodySHA256) != 64 || m.SourcePort == 0 || m.Listener != r.addr {
		t.Errorf("plain event's mail details: %+v", plain.Mail)
	}
	if !tls.Mail.TLS {
		t.Error("STARTTLS session not marked as TLS")
	}
	if many.RcptCount != 3 {
		t.Errorf("recipients of the capped message: %d, want 3", many.RcptCount)
	}
	for reason, want := range map[string]float64{"relay-denied": 1, "message-too-large": 1, "too-many-recipients": 1} {
		if got := counter(t, r.reg, "spamgeo_trap_rejected_total", reason); got != want {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, want)
		}
	}
	if got := counter(t, r.reg, "spamgeo_trap_messages_accepted_total", ""); got != 3 {
		t.Errorf("accepted = %v, want 3", got)
	}
}

// Behind a load balancer speaking the PROXY protocol (v1 and v2), the client it names is the
// source; a connection from the balancer without the header is not served; others cannot spoof one.
func TestProxyProtocolWithSwaks(t *testing.T) {
	kcfg := testenv.Kafka(t)
	r := startTrap(t, kcfg, func(c *trap.Configuration) {
		c.ProxyFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for i, version := range []string{"1", "2"} {
		family := map[string]string{"1": "TCP4", "2": "AF_INET"}[version]
		out, ok := swaks(t, r.addr, "--to", "victim@trap.example", "--proxy-version", version, "--proxy-family", family,
			"--proxy-source", fmt.Sprintf("203.0.113.%d", 10+i), "--proxy-source-port", "40000",
			"--proxy-dest", "192.0.2.1", "--proxy-dest-port", "25")
		if !ok {
			t.Fatalf("PROXY v%s delivery refused:\n%s", version, out)
		}
	}
	if out, ok := swaks(t, r.addr, "--to", "victim@trap.example"); ok {
		t.Errorf("a connection from the balancer without a PROXY header was served:\n%s", out)
	}
	sources := map[netip.Addr]bool{}
	for _, e := range events(t, r, 2) {
		sources[e.SourceIP] = true
		if e.Mail.SourceRule != event.SourceProxy || e.Mail.SourcePort != 40000 {
			t.Errorf("event from %s: rule %s port %d; want proxy-protocol, port 40000", e.SourceIP, e.Mail.SourceRule, e.Mail.SourcePort)
		}
	}
	for _, want := range []string{"203.0.113.10", "203.0.113.11"} {
		if !sources[netip.MustParseAddr(want)] {
			t.Errorf("no event from %s (PROXY v1 and v2 named 203.0.113.10 and .11): %v", want, sources)
		}
	}

	direct := startTrap(t, testenv.Kafka(t), nil) // trusts no proxy
	out, ok := swaks(t, direct.addr, "--to", "victim@trap.example", "--proxy-version", "1", "--proxy-family", "TCP4",
		"--proxy-source", "203.0.113.99", "--proxy-source-port", "1", "--proxy-dest", "192.0.2.1", "--proxy-dest-port", "25")
	if ok {
		t.Errorf("a spoofed PROXY header from an untrusted client was accepted:\n%s", out)
	}
}

// Mail handed over by one of the operator's relays is traced through its Received chain.
func TestTrustedRelayWithSwaks(t *testing.T) {
	kcfg := testenv.Kafka(t)
	r := startTrap(t, kcfg, func(c *trap.Configuration) {
		c.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}
	})
	out, ok := swaks(t, r.addr, "--to", "victim@trap.example",
		"--add-header", "Received: from mx2.operator.test (mx2.operator.test [192.0.2.25]) by mx1.operator.test (Postfix) with ESMTP id A1; Tue, 3 Sep 2024 10:00:02 +0000",
		"--add-header", "Received: from hijacked-pc (dsl-7.isp.test [81.2.69.160]) by mx2.operator.test (Postfix) with SMTP id B2; Tue, 3 Sep 2024 10:00:01 +0000",
		"--add-header", "Received: from forged (forged [1.2.3.4]) by nowhere; Tue, 3 Sep 2024 09:00:00 +0000")
	if !ok {
		t.Fatalf("relayed delivery refused:\n%s", out)
	}
	e := events(t, r, 1)[0]
	if e.SourceIP != netip.MustParseAddr("81.2.69.160") || e.Mail.SourceRule != event.SourceReceived || e.Mail.SourceHop != 1 ||
		!strings.Contains(e.Mail.SourceHeader, "hijacked-pc") {
		t.Errorf("relayed message traced to %s by %s hop %d (%q); want 81.2.69.160 from hop 1", e.SourceIP, e.Mail.SourceRule, e.Mail.SourceHop, e.Mail.SourceHeader)
	}
}

// Volume from Postfix's smtp-source: N messages sent ⇒ exactly N events on the raw topic.
func TestVolumeWithSmtpSource(t *testing.T) {
	const messages = 2000
	kcfg := testenv.Kafka(t)
	r := startTrap(t, kcfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, traptest.Tool(t, "smtp-source"), "-s", "10", "-m", fmt.Sprint(messages), "-l", "2048",
		"-f", "bulk@sender.test", "-t", "victim@trap.example", r.addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	got := events(t, r, messages)
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.EventID] = true
	}
	if len(ids) != messages {
		t.Errorf("%d distinct event ids for %d messages", len(ids), messages)
	}
	if a := counter(t, r.reg, "spamgeo_trap_messages_accepted_total", ""); a != messages {
		t.Errorf("accepted counter %v, want %d", a, messages)
	}
}
