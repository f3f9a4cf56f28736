package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASLMechanisms are the names SASLMechanism accepts; "none" turns SASL off.
var SASLMechanisms = []string{"none", "plain", "scram-sha-256", "scram-sha-512"}

// SASLMechanism returns the SASL mechanism called name, authenticating as username with
// password; for "none" (or "") it returns nil.
func SASLMechanism(name, username, password string) (sasl.Mechanism, error) {
	if name != "" && name != "none" && username == "" {
		return nil, fmt.Errorf("SASL %s needs a user name", name)
	}
	switch name {
	case "", "none":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: username, Password: password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, username, password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, username, password)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q (want one of %v)", name, SASLMechanisms)
}

// Secure returns c with every connection to the brokers encrypted with tlsConfig (when not nil)
// and authenticated with mechanism (when not nil). All writers, readers, groups and admin
// requests made from the result share one connection pool, as unsecured ones share kafka-go's
// default transport.
func (c Configuration) Secure(tlsConfig *tls.Config, mechanism sasl.Mechanism) Configuration {
	if tlsConfig == nil && mechanism == nil {
		c.transport, c.dialer = nil, nil
		return c
	}
	c.transport = &kafkago.Transport{TLS: tlsConfig, SASL: mechanism}
	c.dialer = &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tlsConfig, SASLMechanism: mechanism}
	return c
}

// roundTripper is the transport of c's writers and admin clients: nil (kafka-go's default)
// unless c is secured. A nil *Transport in the interface would not count as nil.
func (c Configuration) roundTripper() kafkago.RoundTripper {
	if c.transport == nil {
		return nil
	}
	return c.transport
}

// connect opens and closes one connection to the first broker that accepts it, with c's TLS
// and SASL, and returns why none did.
func (c Configuration) connect(ctx context.Context) error {
	d := c.dialer
	if d == nil {
		d = &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true}
	}
	var err error
	for _, b := range c.Brokers {
		var conn *kafkago.Conn
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			return conn.Close()
		}
		err = fmt.Errorf("connect to %s: %w", b, err)
	}
	return err
}
