package dnstest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

var records = map[string][]netip.Addr{
	"WWW.Example.test.":   {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")},
	"v4only.example.test": {netip.MustParseAddr("192.0.2.2")},
}

func query(t *testing.T, network, addr, name string, qtype dnsmessage.Type) dnsmessage.Message {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 0xbeef, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: qtype, Class: dnsmessage.ClassINET}},
	}
	packed, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65535)
	var n int
	if network == "tcp" {
		if _, err := conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(packed)))); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(packed); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf[:2]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(buf[:2]))
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			t.Fatal(err)
		}
	} else {
		if _, err := conn.Write(packed); err != nil {
			t.Fatal(err)
		}
		if n, err = conn.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAnswers(t *testing.T) {
	s := Start(t, records)
	for _, network := range []string{"udp", "tcp"} {
		m := query(t, network, s.Addr, "www.EXAMPLE.test.", dnsmessage.TypeA)
		if m.ID != 0xbeef || !m.Response || !m.Authoritative || m.RCode != dnsmessage.RCodeSuccess {
			t.Errorf("%s: header %+v", network, m.Header)
		}
		if len(m.Questions) != 1 || m.Questions[0].Name.String() != "www.EXAMPLE.test." || m.Questions[0].Type != dnsmessage.TypeA {
			t.Errorf("%s: question not echoed: %+v", network, m.Questions)
		}
		if len(m.Answers) != 1 || m.Answers[0].Header.TTL != TTL ||
			m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{192, 0, 2, 1} {
			t.Errorf("%s: answers %+v", network, m.Answers)
		}
	}
	if m := query(t, "udp", s.Addr, "www.example.test.", dnsmessage.TypeAAAA); len(m.Answers) != 1 ||
		netip.AddrFrom16(m.Answers[0].Body.(*dnsmessage.AAAAResource).AAAA) != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("AAAA answers %+v", m.Answers)
	}
	if m := query(t, "udp", s.Addr, "v4only.example.test.", dnsmessage.TypeAAAA); m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 0 {
		t.Errorf("AAAA of a v4-only name: %v, %+v", m.RCode, m.Answers)
	}
	if m := query(t, "udp", s.Addr, "missing.example.test.", dnsmessage.TypeA); m.RCode != dnsmessage.RCodeNameError || !m.Authoritative {
		t.Errorf("missing name: %+v", m.Header)
	}
	s.SetFailure(true)
	if m := query(t, "tcp", s.Addr, "www.example.test.", dnsmessage.TypeA); m.RCode != dnsmessage.RCodeServerFailure || len(m.Answers) != 0 {
		t.Errorf("failure: %v, %+v", m.RCode, m.Answers)
	}
	if got := s.Queries(); got != 6 {
		t.Errorf("Queries() = %d, want 6", got)
	}
}

func TestMalformed(t *testing.T) {
	s := Start(t, records)
	udp, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, junk := range [][]byte{nil, {0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, make([]byte, 600)} {
		if _, err := udp.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	tcp, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	tcp.Write([]byte{0, 3, 1, 2, 3, 0, 40})
	tcp.Close()
	// Still serving, and nothing junk counted.
	if m := query(t, "udp", s.Addr, "www.example.test.", dnsmessage.TypeA); len(m.Answers) != 1 {
		t.Errorf("answers after junk: %+v", m.Answers)
	}
	if got := s.Queries(); got != 1 {
		t.Errorf("Queries() = %d, want 1", got)
	}
}

func goResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, StrictErrors: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func TestGoResolver(t *testing.T) {
	many := make([]netip.Addr, 100)
	for i := range many {
		many[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	s := Start(t, map[string][]netip.Addr{"www.example.test": records["WWW.Example.test."], "many.example.test": many})
	r := goResolver(s.Addr)
	ctx := t.Context()

	got, err := r.LookupNetIP(ctx, "ip", "www.example.test.")
	slices.SortFunc(got, netip.Addr.Compare)
	if err != nil || !slices.Equal(got, records["WWW.Example.test."]) {
		t.Errorf("LookupNetIP(www) = %v, %v", got, err)
	}
	// 2.8 kB of AAAA records do not fit the resolver's EDNS0 size: truncated, then over TCP.
	before := s.Queries()
	got, err = r.LookupNetIP(ctx, "ip6", "many.example.test.")
	if err != nil || len(got) != len(many) {
		t.Errorf("LookupNetIP(many) = %d addresses, %v", len(got), err)
	}
	if q := s.Queries() - before; q != 2 {
		t.Errorf("%d queries for a truncated answer, want 2 (UDP then TCP)", q)
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupNetIP(ctx, "ip", "missing.example.test."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("LookupNetIP(missing) error = %v, want not found", err)
	}

	s.SetDelay(time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := r.LookupNetIP(short, "ip4", "www.example.test."); err == nil {
		t.Error("LookupNetIP with a delayed server succeeded")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("timed-out lookup took %v", d)
	}
	// Cleanup must not wait for the delayed answers.
}
