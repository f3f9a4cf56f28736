// Package dnstest runs a small authoritative DNS server on loopback with known answers, for
// tests of code that resolves names.
package dnstest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// TTL is the time to live of every record the server answers, in seconds.
const TTL = 300

// Server answers A and AAAA queries from Records over UDP and TCP on 127.0.0.1 (an ephemeral
// port).
type Server struct {
	// Addr is "127.0.0.1:port", the same port for UDP and TCP.
	Addr string

	records map[string][]netip.Addr // lower-case names without the trailing dot
	udp     net.PacketConn
	tcp     net.Listener
	ctx     context.Context // cancelled when the server stops
	wg      sync.WaitGroup

	queries atomic.Int64
	delay   atomic.Int64 // time.Duration
	fail    atomic.Bool
}

// Start starts a server answering records: host name (without trailing dot, any case) ->
// addresses. Names not in records get NXDOMAIN; known names without an address of the asked
// type get an empty NOERROR answer. IPv4 addresses are A records, IPv6 ones (IPv4-mapped
// included) AAAA records. It stops at t.Cleanup.
//
// Over UDP, an answer larger than the client's EDNS0 payload size (512 bytes without EDNS0)
// is sent truncated, so the client retries over TCP.
func Start(t testing.TB, records map[string][]netip.Addr) *Server {
	t.Helper()
	s := &Server{records: make(map[string][]netip.Addr, len(records))}
	for name, addrs := range records {
		key := strings.TrimSuffix(strings.ToLower(name), ".")
		s.records[key] = append(s.records[key], addrs...)
	}
	var err error
	for range 10 {
		if s.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		port := s.udp.LocalAddr().(*net.UDPAddr).Port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if s.tcp, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		s.udp.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: no port free for both UDP and TCP: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ctx = ctx
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		cancel()
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

// Queries returns how many queries the server has answered so far (for tests of caching and
// rate limiting). SERVFAIL and truncated answers count; ignored malformed queries do not.
func (s *Server) Queries() int {
	return int(s.queries.Load())
}

// SetDelay makes the server wait d before each answer (for timeout tests). Queries being
// delayed are answered concurrently.
func (s *Server) SetDelay(d time.Duration) {
	s.delay.Store(int64(d))
}

// SetFailure makes the server answer SERVFAIL when true.
func (s *Server) SetFailure(fail bool) {
	s.fail.Store(fail)
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		query := append([]byte(nil), buf[:n]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if answer := s.answer(query, true); answer != nil {
				s.udp.WriteTo(answer, addr)
			}
		}()
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		conn, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			stop := context.AfterFunc(s.ctx, func() { conn.Close() })
			defer stop()
			for {
				var size [2]byte
				if _, err := io.ReadFull(conn, size[:]); err != nil {
					return
				}
				query := make([]byte, binary.BigEndian.Uint16(size[:]))
				if _, err := io.ReadFull(conn, query); err != nil {
					return
				}
				answer := s.answer(query, false)
				if answer == nil {
					continue
				}
				msg := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(answer)), uint16(len(answer)))
				if _, err := conn.Write(append(msg, answer...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer returns the response to query, or nil to ignore it (malformed, not a query, or the
// server stopping).
func (s *Server) answer(query []byte, udp bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response || h.OpCode != 0 {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	maxSize := 512
	if err := p.SkipAllQuestions(); err == nil {
		if err := p.SkipAllAnswers(); err == nil {
			if err := p.SkipAllAuthorities(); err == nil {
				for {
					rh, err := p.AdditionalHeader()
					if err != nil {
						break
					}
					if rh.Type == dnsmessage.TypeOPT && int(rh.Class) > maxSize {
						maxSize = int(rh.Class)
					}
					if p.SkipAdditional() != nil {
						break
					}
				}
			}
		}
	}

	if d := time.Duration(s.delay.Load()); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			return nil
		}
	}

	header := dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired,
	}
	addrs, known := s.records[strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")]
	switch {
	case s.fail.Load():
		header.RCode = dnsmessage.RCodeServerFailure
		addrs = nil
	case !known:
		header.RCode = dnsmessage.RCodeNameError
	}
	msg, err := build(header, q, addrs)
	if err != nil {
		return nil
	}
	if udp && len(msg) > maxSize {
		header.Truncated = true
		if msg, err = build(header, q, nil); err != nil {
			return nil
		}
	}
	s.queries.Add(1)
	return msg
}

// build writes a response echoing q with the addresses of the asked type among addrs.
func build(h dnsmessage.Header, q dnsmessage.Question, addrs []netip.Addr) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: TTL}
	if q.Class == dnsmessage.ClassINET || q.Class == dnsmessage.ClassANY {
		for _, a := range addrs {
			var err error
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
			case q.Type == dnsmessage.TypeAAAA && a.Is6():
				err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}
