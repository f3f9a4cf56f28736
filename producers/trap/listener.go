package trap

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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
		return sc, nil
	}
}

// sessionConn caps every deadline the SMTP server sets at the end of the session (and of the
// DATA phase, while one runs), so a client that trickles bytes cannot hold a connection forever.
type sessionConn struct {
	net.Conn
	mu       sync.Mutex
	deadline time.Time // the session's end
	dataEnd  time.Time // the current DATA phase's end, zero outside DATA
	once     sync.Once
	release  func()
	// What the session came to, for spamgeo_trap_sessions_total when the connection closes.
	greeted, delivered, refused, timedOut atomic.Bool
}

func (c *sessionConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.timedOut.Store(true)
	}
	return n, err
}

// outcome classifies the session for metrics.
func (c *sessionConn) outcome() string {
	switch {
	case c.delivered.Load():
		return "delivered"
	case c.timedOut.Load():
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
