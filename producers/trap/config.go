package trap

import (
	"errors"
	"net/netip"
	"strings"
	"time"
)

// Configuration of a trap. Every limit is counted in spamgeo_trap_rejected_total when it is hit.
type Configuration struct {
	// Listen are the addresses to accept SMTP on, host:port.
	Listen []string
	// TrapID names this trap in every event.
	TrapID string
	// Hostname is the name the trap gives in its greeting and Received headers.
	Hostname string
	// Domains are the trap domains: mail to any address in them is accepted.
	Domains []string
	// Addresses are single trap addresses accepted besides the domains.
	Addresses []string
	// AcceptAll accepts mail for any recipient (Domains and Addresses are then ignored).
	AcceptAll bool

	// MaxMessageBytes is the largest message accepted (552 beyond).
	MaxMessageBytes int64
	// MaxHeaderBytes is the largest header block accepted (552 beyond).
	MaxHeaderBytes int
	// MaxRecipients is the most recipients of one message (452 beyond).
	MaxRecipients int
	// MaxLineLength is the longest command or message line (500 beyond).
	MaxLineLength int
	// CommandTimeout is how long one command line may take to arrive in full, however slowly it
	// trickles in; past it the trap answers 421 and closes the connection.
	CommandTimeout time.Duration
	// DataTimeout is how long the whole DATA phase of one message may take (421 and closed beyond).
	DataTimeout time.Duration
	// SessionTimeout is how long one connection may last in all, however busy (slowloris).
	SessionTimeout time.Duration
	// MaxConnections is the most connections served at once; more are answered 421 and closed.
	MaxConnections int
	// MaxConnectionsPerIP is the most connections from one client address at once.
	MaxConnectionsPerIP int

	// TLSCert and TLSKey are PEM files for STARTTLS; without them a self-signed certificate for
	// Hostname is generated at start. NoTLS turns STARTTLS off.
	TLSCert, TLSKey string
	NoTLS           bool

	// ProxyFrom are the load balancers trusted to send a PROXY protocol (v1 or v2) header; a
	// connection from them must start with one, and the client it names becomes the source.
	// Others may not send one.
	ProxyFrom []netip.Prefix
	// TrustedRelays are the operator's own mail servers: mail they hand over is traced back
	// through its Received headers to the first untrusted hop.
	TrustedRelays []netip.Prefix

	// HandoffTimeout is how long a message waits for Kafka before it goes to the spool.
	HandoffTimeout time.Duration
	// SpoolDir keeps messages Kafka could not take, until it can, also when Kafka is down as the
	// trap starts; empty means no spool: the trap then answers 451 while Kafka is away (and
	// `spamgeo trap` does not start while it is down).
	SpoolDir string
	// MaxSpoolBytes bounds the spool; when it is full the trap answers 451.
	MaxSpoolBytes int64
	// ArchiveDir, when set, keeps every accepted message as received, with its envelope, in daily
	// gzip-compressed mbox files.
	ArchiveDir string
}

// DefaultConfiguration listens on loopback and accepts mail for any address.
func DefaultConfiguration() Configuration {
	return Configuration{
		Listen:              []string{"127.0.0.1:2525"},
		TrapID:              "trap",
		Hostname:            "trap.localhost",
		AcceptAll:           true,
		MaxMessageBytes:     10 << 20,
		MaxHeaderBytes:      256 << 10,
		MaxRecipients:       100,
		MaxLineLength:       2000,
		CommandTimeout:      60 * time.Second,
		DataTimeout:         5 * time.Minute,
		SessionTimeout:      15 * time.Minute,
		MaxConnections:      1000,
		MaxConnectionsPerIP: 20,
		HandoffTimeout:      5 * time.Second,
		MaxSpoolBytes:       1 << 30,
	}
}

// Validate reports the first setting that cannot work.
func (c *Configuration) Validate() error {
	switch {
	case len(c.Listen) == 0:
		return errors.New("trap: no listen address")
	case c.TrapID == "":
		return errors.New("trap: empty trap id")
	case !c.AcceptAll && len(c.Domains) == 0 && len(c.Addresses) == 0:
		return errors.New("trap: no trap domains or addresses (or accept all)")
	case c.MaxMessageBytes <= 0 || c.MaxHeaderBytes <= 0 || c.MaxRecipients <= 0 || c.MaxLineLength <= 0:
		return errors.New("trap: size limits must be positive")
	case c.MaxConnections <= 0 || c.MaxConnectionsPerIP <= 0:
		return errors.New("trap: connection limits must be positive")
	case c.CommandTimeout <= 0 || c.DataTimeout <= 0 || c.SessionTimeout <= 0 || c.HandoffTimeout <= 0:
		return errors.New("trap: timeouts must be positive")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("trap: a TLS certificate needs its key and the other way round")
	}
	return nil
}

// accepts reports whether rcpt is a trap address.
func (c *Configuration) accepts(rcpt string) bool {
	if c.AcceptAll {
		return true
	}
	rcpt = strings.ToLower(rcpt)
	for _, a := range c.Addresses {
		if strings.EqualFold(a, rcpt) {
			return true
		}
	}
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return false
	}
	for _, d := range c.Domains {
		if strings.EqualFold(d, rcpt[at+1:]) {
			return true
		}
	}
	return false
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
