// Package tlsconfig turns the TLS settings of a client connection (on or off, a CA bundle, a
// client certificate) into a crypto/tls configuration, the same way for Kafka and ClickHouse.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Configuration is how a client secures its connections to one kind of server.
type Configuration struct {
	// Enable turns TLS on. Naming any of the files below turns it on too.
	Enable bool
	// CAFile is a PEM bundle of the authorities that sign the servers' certificates; empty
	// trusts the system's authorities.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for servers that ask
	// clients for one.
	CertFile, KeyFile string
}

// Enabled says whether connections use TLS.
func (c Configuration) Enabled() bool {
	return c.Enable || c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
}

// Load reads the files named by c. It returns nil when TLS is off. The server's name is
// checked against its certificate; the name is the host part of the address dialled.
func (c Configuration) Load() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA bundle: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA bundle %s: no PEM certificate in it", c.CAFile)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("a TLS client certificate needs both its certificate and its key file")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
