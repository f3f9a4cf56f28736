package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spamgeo/spamgeo/internal/telemetry"
	"github.com/spamgeo/spamgeo/mail/mailparse"
	"github.com/spamgeo/spamgeo/producers/trap"
)

// TrapCmd is `spamgeo trap`.
type TrapCmd struct {
	Listen    []string `help:"Addresses to accept SMTP on." default:"${trap_listen}" sep:"," env:"SPAMGEO_TRAP_LISTEN"`
	TrapID    string   `help:"Name of this trap in every event." default:"${trap_id}" env:"SPAMGEO_TRAP_ID"`
	Hostname  string   `help:"Name the trap gives in its greeting and Received headers." default:"${trap_hostname}" env:"SPAMGEO_TRAP_HOSTNAME"`
	Domains   []string `help:"Trap domains: mail to any address in them is accepted. With neither --domains nor --addresses, every recipient is accepted." sep:"," env:"SPAMGEO_TRAP_DOMAINS"`
	Addresses []string `help:"Single trap addresses accepted besides the domains." sep:"," env:"SPAMGEO_TRAP_ADDRESSES"`

	MaxMessageBytes     int64         `help:"Largest message accepted (552 beyond)." default:"${trap_max_message_bytes}" env:"SPAMGEO_TRAP_MAX_MESSAGE_BYTES"`
	MaxHeaderBytes      int           `help:"Largest header block accepted (552 beyond)." default:"${trap_max_header_bytes}" env:"SPAMGEO_TRAP_MAX_HEADER_BYTES"`
	MaxRecipients       int           `help:"Most recipients of one message (452 beyond)." default:"${trap_max_recipients}" env:"SPAMGEO_TRAP_MAX_RECIPIENTS"`
	MaxLineLength       int           `help:"Longest command or message line." default:"${trap_max_line_length}" env:"SPAMGEO_TRAP_MAX_LINE_LENGTH"`
	CommandTimeout      time.Duration `help:"Longest one command line may take to arrive in full, however slowly it trickles in (421 and the connection closed beyond)." default:"${trap_command_timeout}" env:"SPAMGEO_TRAP_COMMAND_TIMEOUT"`
	DataTimeout         time.Duration `help:"Longest the DATA phase of one message may take in all (421 and the connection closed beyond)." default:"${trap_data_timeout}" env:"SPAMGEO_TRAP_DATA_TIMEOUT"`
	SessionTimeout      time.Duration `help:"Longest one connection may last in all (slow clients)." default:"${trap_session_timeout}" env:"SPAMGEO_TRAP_SESSION_TIMEOUT"`
	MaxConnections      int           `help:"Most connections served at once; more are answered 421." default:"${trap_max_connections}" env:"SPAMGEO_TRAP_MAX_CONNECTIONS"`
	MaxConnectionsPerIP int           `help:"Most connections from one client address at once." default:"${trap_max_connections_per_ip}" env:"SPAMGEO_TRAP_MAX_CONNECTIONS_PER_IP"`

	TLSCert string `help:"PEM certificate for STARTTLS; without it a self-signed one is made at start." type:"existingfile" env:"SPAMGEO_TRAP_TLS_CERT"`
	TLSKey  string `help:"PEM key of --tls-cert." type:"existingfile" env:"SPAMGEO_TRAP_TLS_KEY"`
	NoTLS   bool   `help:"Do not offer STARTTLS." env:"SPAMGEO_TRAP_NO_TLS"`

	ProxyFrom     []string `help:"Load balancers (addresses or CIDRs) that must start each connection with a PROXY protocol v1/v2 header naming the client." sep:"," env:"SPAMGEO_TRAP_PROXY_FROM"`
	TrustedRelays []string `help:"Your own mail servers (addresses or CIDRs): mail they hand over is traced through its Received headers to the first untrusted hop." sep:"," env:"SPAMGEO_TRAP_TRUSTED_RELAYS"`

	HandoffTimeout time.Duration `help:"How long a message waits for Kafka before it goes to the spool." default:"${trap_handoff_timeout}" env:"SPAMGEO_TRAP_HANDOFF_TIMEOUT"`
	SpoolDir       string        `help:"Directory keeping messages Kafka could not take, until it can; with it the trap also starts while Kafka is down. Without it the trap answers 451 while Kafka is away and does not start while Kafka is down." env:"SPAMGEO_TRAP_SPOOL_DIR"`
	MaxSpoolBytes  int64         `help:"Spool size beyond which the trap answers 451." default:"${trap_max_spool_bytes}" env:"SPAMGEO_TRAP_MAX_SPOOL_BYTES"`
	ArchiveDir     string        `help:"Keep every accepted message in daily gzip mbox files here (spamgeo replay reads them)." env:"SPAMGEO_TRAP_ARCHIVE_DIR"`
	MetricsListen  string        `help:"Serve Prometheus /metrics and /healthz on this address; empty turns it off." default:"127.0.0.1:9553" env:"SPAMGEO_TRAP_METRICS_LISTEN"`
}

// Run serves the trap until interrupted.
func (c *TrapCmd) Run(ctx context.Context, g *Globals) error {
	cfg, err := c.configuration()
	if err != nil {
		return err
	}
	kcfg := g.kafka()
	if cfg.SpoolDir == "" {
		// Such a trap could only answer 451 until Kafka is back.
		if err := kcfg.EnsureTopics(ctx); err != nil {
			return fmt.Errorf("%w; without --spool-dir the trap cannot take mail while Kafka is away", err)
		}
	}
	reg := telemetry.NewRegistry()
	t, err := trap.New(cfg, trap.Dependencies{Kafka: kcfg, Registry: reg, Logger: g.logger})
	if err != nil {
		return err
	}
	return runComponent(ctx, t, c.MetricsListen, reg, g.logger)
}

func (c *TrapCmd) configuration() (trap.Configuration, error) {
	cfg := trap.DefaultConfiguration()
	cfg.Listen, cfg.TrapID, cfg.Hostname = c.Listen, c.TrapID, c.Hostname
	cfg.Domains, cfg.Addresses = c.Domains, c.Addresses
	cfg.AcceptAll = len(c.Domains) == 0 && len(c.Addresses) == 0
	cfg.MaxMessageBytes, cfg.MaxHeaderBytes, cfg.MaxRecipients, cfg.MaxLineLength = c.MaxMessageBytes, c.MaxHeaderBytes, c.MaxRecipients, c.MaxLineLength
	cfg.CommandTimeout, cfg.DataTimeout, cfg.SessionTimeout = c.CommandTimeout, c.DataTimeout, c.SessionTimeout
	cfg.MaxConnections, cfg.MaxConnectionsPerIP = c.MaxConnections, c.MaxConnectionsPerIP
	cfg.TLSCert, cfg.TLSKey, cfg.NoTLS = c.TLSCert, c.TLSKey, c.NoTLS
	cfg.HandoffTimeout, cfg.SpoolDir, cfg.MaxSpoolBytes, cfg.ArchiveDir = c.HandoffTimeout, c.SpoolDir, c.MaxSpoolBytes, c.ArchiveDir
	var err error
	if cfg.ProxyFrom, err = mailparse.ParsePrefixes(c.ProxyFrom); err != nil {
		return cfg, err
	}
	if cfg.TrustedRelays, err = mailparse.ParsePrefixes(c.TrustedRelays); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}
