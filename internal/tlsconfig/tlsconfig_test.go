package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCA writes a self-signed authority and a certificate it signs for 127.0.0.1; it
// returns the CA's file and the server's certificate.
func writeCA(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// handshake dials a TLS server presenting cert with the client configuration cfg.
func handshake(t *testing.T, cert tls.Certificate, cfg *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err == nil {
		conn.Close()
	}
	return err
}

func TestLoadTrustsTheNamedAuthorityOnly(t *testing.T) {
	dir := t.TempDir()
	caFile, cert := writeCA(t, dir)
	cfg, err := Configuration{CAFile: caFile}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, cert, cfg); err != nil {
		t.Fatalf("server signed by the CA file refused: %v", err)
	}
	system, err := Configuration{Enable: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, cert, system); err == nil {
		t.Fatal("a server signed by an unknown authority was trusted")
	}
}

func TestLoadOffAndErrors(t *testing.T) {
	if cfg, err := (Configuration{}).Load(); cfg != nil || err != nil {
		t.Fatalf("TLS off: got %v, %v", cfg, err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		c    Configuration
		want string
	}{
		{Configuration{CAFile: filepath.Join(dir, "missing.pem")}, "no such file"},
		{Configuration{CAFile: notPEM}, "no PEM certificate"},
		{Configuration{CertFile: notPEM}, "both its certificate and its key"},
		{Configuration{CertFile: notPEM, KeyFile: notPEM}, "client certificate"},
	} {
		if _, err := tc.c.Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one saying %q", tc.c, err, tc.want)
		}
	}
}
