package trap

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	proxyproto "github.com/pires/go-proxyproto"
)

// listen opens one address with the trap's connection limits and, for trusted load balancers,
// the PROXY protocol.
func (t *Trap) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var limited net.Listener = &limitedListener{Listener: ln, trap: t}
	if len(t.cfg.ProxyFrom) == 0 {
		return limited, nil
	}
	return &proxyproto.Listener{
		Listener: limited,
		// A balancer sends its header at once; a client of its own that does not is not waited for long.
		ReadHeaderTimeout: 5 * time.Second,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if contains(t.cfg.ProxyFrom, addrOf(o.Upstream)) {
				return proxyproto.REQUIRE, nil
			}
			return proxyproto.SKIP, nil
		},
	}, nil
}

// sessionConnOf finds the sessionConn under the TLS and PROXY protocol layers of c.
func sessionConnOf(c net.Conn) *sessionConn {
	for {
		switch v := c.(type) {
		case *sessionConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		case *proxyproto.Conn:
			c = v.Raw()
		default:
			return nil
		}
	}
}

// limitedListener refuses connections beyond the global and per-address limits with a 421
// and bounds every session's total duration.
type limitedListener struct {
	net.Listener
	trap *Trap
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		t := l.trap
		t.metrics.connections.Inc()
		// A trusted proxy's connections are counted per client once its header is read (see
		// session); counting them per proxy address would throttle the whole load balancer.
		peer := addrOf(c.RemoteAddr())
		perIP := !contains(t.cfg.ProxyFrom, peer)
		if reason := t.conns.acquire(peer, perIP); reason != "" {
			t.metrics.rejected.WithLabelValues(reason).Inc()
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("421 4.7.0 Too many connections, try again later\r\n"))
			c.Close()
			continue
		}
		sc := &sessionConn{Conn: c, deadline: time.Now().Add(t.cfg.SessionTimeout)}
		sc.release = func() {
			t.conns.release(peer, perIP)
			t.metrics.sessions.WithLabelValues(sc.outcome()).Inc()
		}
		sc.timeout = func(limit string) {
			t.metrics.rejected.WithLabelValues(strings.ToLower(limit) + "-timeout").Inc()
		}
		return sc, nil
	}
}

// sessionConn caps every deadline the SMTP server sets at the end of the session (and of the
// DATA phase, while one runs), so a client that trickles bytes cannot hold a connection forever.
//
// A deadline, once passed, ends the session: every later read fails at once. go-smtp alone would
// go on: it sets the command timeout as each command line starts, but its line reader hands the
// part of a line read by the deadline up as a whole command, and the next line gets a deadline
// of its own, so a line trickled a byte at a time was never cut.
type sessionConn struct {
	net.Conn
	mu       sync.Mutex
	deadline time.Time     // the session's end
	dataEnd  time.Time     // the current DATA phase's end, zero outside DATA
	passed   *timeoutError // the deadline that passed, nil while none has
	hungUp   bool
	once     sync.Once
	release  func()
	timeout  func(limit string) // told the first deadline that passes
	// What the session came to, for spamgeo_trap_sessions_total when the connection closes.
	greeted, delivered, refused atomic.Bool
}

// timeoutError is what reads return once a deadline has passed; it names the limit (Session,
// Data or Command), and not the socket's addresses as the system's error does. Like the
// system's, it is temporary: crypto/tls would keep a permanent one for every later read, and
// a TLS session could then not be hung up (see hangUp).
type timeoutError struct{ limit string }

func (e *timeoutError) Error() string   { return strings.ToLower(e.limit) + " timeout" }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// reply is the trap's answer to a client that let a deadline pass; it ends the session.
func (e *timeoutError) reply() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: e.limit + " timeout, closing connection"}
}

func (c *sessionConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.hungUp:
		c.mu.Unlock()
		return 0, net.ErrClosed
	case c.passed != nil:
		err := c.passed
		c.mu.Unlock()
		return 0, err
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return n, c.expire()
	}
	return n, err
}

// expire records that a deadline passed, and which: the session's, the DATA phase's, or else
// the command's.
func (c *sessionConn) expire() *timeoutError {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.passed == nil {
		now := time.Now()
		switch {
		case !now.Before(c.deadline):
			c.passed = &timeoutError{"Session"}
		case !c.dataEnd.IsZero() && !now.Before(c.dataEnd):
			c.passed = &timeoutError{"Data"}
		default:
			c.passed = &timeoutError{"Command"}
		}
		c.timeout(c.passed.limit)
	}
	return c.passed
}

// expired returns the deadline that passed, nil while none has.
func (c *sessionConn) expired() *timeoutError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.passed
}

// hangUp makes every later read fail as on a closed connection: go-smtp then writes the reply
// it has (the trap's last word) and closes without reading anything more.
func (c *sessionConn) hangUp() {
	c.mu.Lock()
	c.hungUp = true
	c.mu.Unlock()
}

// outcome classifies the session for metrics.
func (c *sessionConn) outcome() string {
	switch {
	case c.delivered.Load():
		return "delivered"
	case c.expired() != nil:
		return "timeout"
	case c.refused.Load():
		return "refused"
	case !c.greeted.Load():
		return "no-helo"
	}
	return "empty"
}

func (c *sessionConn) limit(d time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.deadline
	if !c.dataEnd.IsZero() && c.dataEnd.Before(end) {
		end = c.dataEnd
	}
	if d.IsZero() || end.Before(d) {
		return end
	}
	return d
}

func (c *sessionConn) SetDeadline(d time.Time) error     { return c.Conn.SetDeadline(c.limit(d)) }
func (c *sessionConn) SetReadDeadline(d time.Time) error { return c.Conn.SetReadDeadline(c.limit(d)) }

// startData bounds the DATA phase that begins now; endData lifts that bound.
func (c *sessionConn) startData(d time.Duration) {
	c.mu.Lock()
	c.dataEnd = time.Now().Add(d)
	c.mu.Unlock()
	c.Conn.SetReadDeadline(c.limit(time.Time{}))
}

func (c *sessionConn) endData() {
	c.mu.Lock()
	c.dataEnd = time.Time{}
	c.mu.Unlock()
}

func (c *sessionConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// connCounter counts open connections, in all and per client address.
type connCounter struct {
	mu          sync.Mutex
	total       int
	perIP       map[netip.Addr]int
	max, maxPer int
	open        func(n int) // told the number of open connections on every change
}

// acquire counts a new connection, or says which limit refuses it.
func (c *connCounter) acquire(a netip.Addr, perIP bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= c.max {
		return "too-many-connections"
	}
	if perIP && !c.takeIP(a) {
		return "too-many-connections-per-ip"
	}
	c.total++
	c.open(c.total)
	return ""
}

func (c *connCounter) release(a netip.Addr, perIP bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if perIP {
		c.dropIP(a)
	}
	c.total--
	c.open(c.total)
}

// acquireIP counts a proxied client by its own address.
func (c *connCounter) acquireIP(a netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.takeIP(a)
}

func (c *connCounter) releaseIP(a netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropIP(a)
}

// takeIP and dropIP count one address's connections; the caller holds mu.
func (c *connCounter) takeIP(a netip.Addr) bool {
	if c.perIP[a] >= c.maxPer {
		return false
	}
	c.perIP[a]++
	return true
}

func (c *connCounter) dropIP(a netip.Addr) {
	if c.perIP[a]--; c.perIP[a] <= 0 {
		delete(c.perIP, a)
	}
}

// addrOf returns the address of a, without the zone a link-local peer comes with (fe80::1%eth0):
// it names one of this host's interfaces, and events carry none.
func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

func portOf(a net.Addr) uint16 {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Port()
	}
	return 0
}
