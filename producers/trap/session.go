package trap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/schemas/event"
)

type backend struct{ t *Trap }

// NewSession starts a session when the client says HELO/EHLO.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	t := b.t
	sc := sessionConnOf(c.Conn())
	if err := timedOut(sc); err != nil {
		return nil, err
	}
	s := &session{t: t, conn: c, sc: sc, rule: event.SourceSMTPClient}
	if sc != nil {
		sc.greeted.Store(true)
	}
	s.client = addrOf(c.Conn().RemoteAddr())
	s.port = portOf(c.Conn().RemoteAddr())
	s.listener = c.Conn().LocalAddr().String()
	if sc != nil && contains(t.cfg.ProxyFrom, addrOf(sc.RemoteAddr())) {
		if !s.client.IsValid() || s.client == addrOf(sc.RemoteAddr()) {
			t.metrics.rejected.WithLabelValues("bad-proxy-header").Inc()
			return nil, errors.New("no PROXY protocol header from the load balancer")
		}
		if !t.conns.acquireIP(s.client) {
			t.metrics.rejected.WithLabelValues("too-many-connections-per-ip").Inc()
			return nil, errors.New("too many connections from your address")
		}
		s.proxied, s.rule = true, event.SourceProxy
	}
	return s, nil
}

// session is one SMTP conversation; it may carry several messages.
type session struct {
	t        *Trap
	conn     *smtp.Conn
	sc       *sessionConn
	client   netip.Addr
	port     uint16
	listener string
	rule     string
	proxied  bool

	from       string
	recipients []string
}

func (s *session) refuse(reason string, err *smtp.SMTPError) error {
	s.t.metrics.rejected.WithLabelValues(reason).Inc()
	if s.sc != nil {
		s.sc.refused.Store(true)
	}
	return err
}

// timedOut ends a session whose deadline passed while its command was read: what go-smtp took
// for the command is only the part of the line read by then.
func timedOut(sc *sessionConn) error {
	if sc == nil {
		return nil
	}
	if e := sc.expired(); e != nil {
		sc.hangUp()
		return e.reply()
	}
	return nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := timedOut(s.sc); err != nil {
		return err
	}
	s.from, s.recipients = envelopeAddress(from), nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := timedOut(s.sc); err != nil {
		return err
	}
	to = envelopeAddress(to)
	if !s.t.cfg.accepts(to) {
		// There is no relay path at all: anything that is not a trap address is refused.
		return s.refuse("relay-denied", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Relaying denied"})
	}
	if len(s.recipients) >= s.t.cfg.MaxRecipients {
		return s.refuse("too-many-recipients", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3},
			Message: "Too many recipients"})
	}
	s.recipients = append(s.recipients, to)
	return nil
}

var (
	errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure, please try again later"}
	errIncomplete = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Message not received in full, please try again"}
)

func (s *session) Data(r io.Reader) error {
	if err := timedOut(s.sc); err != nil {
		return err
	}
	if s.sc != nil {
		s.sc.startData(s.t.cfg.DataTimeout)
		defer s.sc.endData()
	}
	data, err := io.ReadAll(r)
	var timeout *timeoutError
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return s.refuse("message-too-large", smtp.ErrDataTooLarge)
	case errors.Is(err, smtp.ErrTooLongLine):
		return s.refuse("line-too-long", &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"})
	case errors.As(err, &timeout):
		// Counted when the deadline passed (see sessionConn). What follows the deadline would
		// be the rest of the body, not commands: the session ends with this reply.
		s.sc.hangUp()
		return timeout.reply()
	case err != nil:
		// The client went away or sent RSET in the middle of a BDAT message; the reason is no
		// business of the client's.
		s.t.metrics.rejected.WithLabelValues("data-read-error").Inc()
		s.t.deps.Logger.Debug("message not read in full", "client", s.client, "error", err)
		return errIncomplete
	}
	if headerLength(data) > s.t.cfg.MaxHeaderBytes {
		return s.refuse("header-too-large", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: "Message header too large"})
	}
	r2 := s.event(data)
	if s.t.archive != nil {
		if err := s.t.archive.write(r2, data); err != nil {
			s.t.metrics.archiveFailures.Inc()
			s.t.deps.Logger.Error("archive", "error", err)
		} else {
			s.t.metrics.archived.Inc()
		}
	}
	to, err := s.t.handoff(context.Background(), r2)
	if err != nil {
		s.t.deps.Logger.Warn("message not handed on; answering 451", "event_id", r2.EventID, "error", err)
		return s.refuse("handoff-failed", errTemporary)
	}
	if s.t.deps.Logger.Enabled(context.Background(), slog.LevelDebug) { // its arguments would allocate on every message
		s.t.deps.Logger.Debug("message accepted", "event_id", r2.EventID, "to", to)
	}
	if s.sc != nil {
		s.sc.delivered.Store(true)
	}
	s.t.metrics.accepted.Inc()
	s.t.metrics.bytes.Add(float64(len(data)))
	return nil
}

// event builds the raw event of one message.
func (s *session) event(data []byte) *event.Raw {
	msg := mailparse.Parse(data, s.t.parse)
	_, usedTLS := s.conn.TLSConnectionState()
	m := msg.Mail()
	m.SourceRule, m.SourcePort, m.Listener, m.TLS, m.Recipients = s.rule, s.port, s.listener, usedTLS, s.recipients
	source := s.client
	if !s.proxied && contains(s.t.cfg.TrustedRelays, s.client) {
		// One of the operator's own relays: the sender is further down the Received chain.
		if found := mailparse.FindSource(msg.Received, s.t.cfg.TrustedRelays); found.IP.IsValid() {
			source, m.SourceRule, m.SourceHop, m.SourceHeader = found.IP, event.SourceReceived, found.Hop, found.Header
		} else {
			m.Defects = append(m.Defects, "received-"+found.Reason)
		}
	}
	for _, d := range m.Defects {
		s.t.metrics.defects.WithLabelValues(d).Inc()
	}
	return &event.Raw{
		SchemaVersion: event.SchemaVersion,
		// Unique per accepted message: identical spam sent twice is two messages. The id stays
		// with the event through the spool and is written into the archive's envelope record.
		EventID:    uuid.NewString(),
		ReceivedAt: time.Now().UTC(),
		TrapID:     s.t.cfg.TrapID,
		Collector:  event.CollectorTrap,
		SourceIP:   source,
		HELO:       s.conn.Hostname(),
		MailFrom:   s.from,
		RcptCount:  len(s.recipients),
		Size:       int64(len(data)),
		Mail:       m,
	}
}

// headerLength is the size of the header block: up to the first empty line.
func headerLength(data []byte) int {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return i
	}
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		return i
	}
	return len(data)
}

func (s *session) Reset() { s.from, s.recipients = "", nil }

func (s *session) Logout() error {
	if s.proxied {
		s.t.conns.releaseIP(s.client)
	}
	return nil
}
