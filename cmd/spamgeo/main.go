// Command spamgeo measures where the world's spam comes from: one binary with a subcommand per
// role (trap collectors, enricher, ClickHouse sink, reports). This package only wires flags to
// the packages that do the work.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	kongyaml "github.com/alecthomas/kong-yaml"
	"github.com/segmentio/kafka-go/sasl"
	"golang.org/x/term"

	"github.com/spamgeo/spamgeo/consumers/enrich"
	"github.com/spamgeo/spamgeo/consumers/sink"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/tlsconfig"
	"github.com/spamgeo/spamgeo/producers/trap"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the settings every subcommand shares.
type Globals struct {
	Config    kong.ConfigFlag  `help:"YAML file of settings, keyed by flag name (flags and SPAMGEO_* variables override it)." placeholder:"FILE"`
	LogLevel  string           `help:"Least severe log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info"`
	LogFormat string           `help:"Log format: text or json." enum:"text,json" default:"text"`
	Version   kong.VersionFlag `help:"Print the version and exit." env:"-"`

	KafkaBrokers          []string `help:"Kafka bootstrap brokers, host:port." default:"${kafka_brokers}" group:"Kafka"`
	KafkaRawTopic         string   `help:"Topic of raw events." default:"${kafka_raw_topic}" group:"Kafka"`
	KafkaEnrichedTopic    string   `help:"Topic of enriched events." default:"${kafka_enriched_topic}" group:"Kafka"`
	KafkaDLQTopic         string   `help:"Dead-letter topic: messages a stage refused, with the reason in headers." name:"kafka-dlq-topic" default:"${kafka_dlq_topic}" group:"Kafka"`
	KafkaPartitions       int      `help:"Partitions of topics spamgeo creates." default:"${kafka_partitions}" group:"Kafka"`
	KafkaReplication      int      `help:"Replication factor of topics spamgeo creates." default:"${kafka_replication}" group:"Kafka"`
	KafkaTLS              bool     `help:"Encrypt the connections to the brokers with TLS." name:"kafka-tls" group:"Kafka"`
	KafkaTLSCA            string   `help:"PEM bundle of the authorities that sign the brokers' certificates (default: the system's); turns TLS on." name:"kafka-tls-ca" placeholder:"FILE" group:"Kafka"`
	KafkaTLSCert          string   `help:"PEM client certificate, for brokers that ask for one; turns TLS on." name:"kafka-tls-cert" placeholder:"FILE" group:"Kafka"`
	KafkaTLSKey           string   `help:"Key of --kafka-tls-cert (PEM)." name:"kafka-tls-key" placeholder:"FILE" group:"Kafka"`
	KafkaSASLMechanism    string   `help:"SASL authentication to the brokers: none, plain, scram-sha-256 or scram-sha-512." name:"kafka-sasl-mechanism" enum:"${kafka_sasl_mechanisms}" default:"none" group:"Kafka"`
	KafkaSASLUsername     string   `help:"SASL user name." name:"kafka-sasl-username" group:"Kafka"`
	KafkaSASLPassword     string   `help:"SASL password. Prefer the environment variable or --kafka-sasl-password-file: other users of a machine can read a process's flags." name:"kafka-sasl-password" xor:"kafka-sasl-password" group:"Kafka"`
	KafkaSASLPasswordFile string   `help:"File holding the SASL password (a mounted secret); one trailing newline is ignored." name:"kafka-sasl-password-file" placeholder:"FILE" xor:"kafka-sasl-password" group:"Kafka"`

	ClickhouseAddr         []string `help:"ClickHouse native-protocol addresses, host:port (with TLS, the secure native port, 9440 by convention)." default:"${clickhouse_addr}" group:"ClickHouse"`
	ClickhouseDatabase     string   `help:"ClickHouse database of spamgeo's tables." default:"${clickhouse_database}" group:"ClickHouse"`
	ClickhouseUser         string   `help:"ClickHouse user." default:"${clickhouse_user}" group:"ClickHouse"`
	ClickhousePassword     string   `help:"ClickHouse password. Prefer the environment variable or --clickhouse-password-file: other users of a machine can read a process's flags." xor:"clickhouse-password" group:"ClickHouse"`
	ClickhousePasswordFile string   `help:"File holding the ClickHouse password (a mounted secret); one trailing newline is ignored." placeholder:"FILE" xor:"clickhouse-password" group:"ClickHouse"`
	ClickhouseTLS          bool     `help:"Encrypt the connections to ClickHouse with TLS." name:"clickhouse-tls" group:"ClickHouse"`
	ClickhouseTLSCA        string   `help:"PEM bundle of the authorities that sign the servers' certificates (default: the system's); turns TLS on." name:"clickhouse-tls-ca" placeholder:"FILE" group:"ClickHouse"`
	ClickhouseTLSCert      string   `help:"PEM client certificate, for servers that ask for one; turns TLS on." name:"clickhouse-tls-cert" placeholder:"FILE" group:"ClickHouse"`
	ClickhouseTLSKey       string   `help:"Key of --clickhouse-tls-cert (PEM)." name:"clickhouse-tls-key" placeholder:"FILE" group:"ClickHouse"`
	ClickhouseCluster      string   `help:"ClickHouse cluster (remote_servers) the schema spans: replicated *_local tables on every server and Distributed tables for reads; needs ZooKeeper. Empty for one server." group:"ClickHouse"`

	logger  *slog.Logger
	version string // of this binary, main.version
	// Loaded once the settings are known (AfterApply), for every connection of the process.
	kafkaTLS      *tls.Config
	kafkaSASL     sasl.Mechanism
	clickhouseTLS *tls.Config
}

// AfterApply reads the files the connection settings name, so a missing certificate or
// secret fails the command before it starts.
func (g *Globals) AfterApply() error {
	var err error
	if g.KafkaSASLPasswordFile != "" {
		if g.KafkaSASLPassword, err = readSecret(g.KafkaSASLPasswordFile); err != nil {
			return fmt.Errorf("--kafka-sasl-password-file: %w", err)
		}
	}
	if g.ClickhousePasswordFile != "" {
		if g.ClickhousePassword, err = readSecret(g.ClickhousePasswordFile); err != nil {
			return fmt.Errorf("--clickhouse-password-file: %w", err)
		}
	}
	if g.kafkaSASL, err = kafka.SASLMechanism(g.KafkaSASLMechanism, g.KafkaSASLUsername, g.KafkaSASLPassword); err != nil {
		return fmt.Errorf("--kafka-sasl-mechanism (with --kafka-sasl-username): %w", err)
	}
	kafkaTLS := tlsconfig.Configuration{Enable: g.KafkaTLS, CAFile: g.KafkaTLSCA, CertFile: g.KafkaTLSCert, KeyFile: g.KafkaTLSKey}
	if g.kafkaTLS, err = kafkaTLS.Load(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	clickhouseTLS := tlsconfig.Configuration{Enable: g.ClickhouseTLS, CAFile: g.ClickhouseTLSCA, CertFile: g.ClickhouseTLSCert, KeyFile: g.ClickhouseTLSKey}
	if g.clickhouseTLS, err = clickhouseTLS.Load(); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// readSecret reads a password file, without the newline editors and `echo` leave at its end.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// GeoIPFlags name the GeoIP files of the commands that place addresses.
type GeoIPFlags struct {
	GeoipCountry string        `help:"Country database (.mmdb): GeoIP2/GeoLite2 Country or City, DB-IP, or an ip-location-db country mmdb; or a directory of dated builds, each event answered by the build current at its date." default:"/var/lib/GeoIP/GeoLite2-Country.mmdb" placeholder:"FILE|DIR" group:"GeoIP"`
	GeoipASN     []string      `help:"ASN databases: GeoLite2-ASN .mmdb files (or directories of dated builds) or ip-location-db .csv range files, consulted in order." name:"geoip-asn" default:"/var/lib/GeoIP/GeoLite2-ASN.mmdb" placeholder:"FILE,..." group:"GeoIP"`
	GeoipReload  time.Duration `help:"How often the GeoIP files are checked for changes; a changed file is checked in full before it replaces the old one." default:"1m" group:"GeoIP"`
}

func (f GeoIPFlags) configuration() geoip.Configuration {
	return geoip.Configuration{CountryDatabase: f.GeoipCountry, ASNDatabases: f.GeoipASN}
}

// CLI is the command line.
type CLI struct {
	Globals

	Trap   TrapCmd   `cmd:"" group:"collect" servers:"Kafka" help:"Run an SMTP spam trap that publishes a raw event for every message it accepts." example:"spamgeo trap --listen 0.0.0.0:25 --domains trap.example.org"`
	Replay ReplayCmd `cmd:"" group:"collect" servers:"Kafka" help:"Import archived trap mail (mbox, Maildir, .eml; plain or compressed) as raw events." example:"spamgeo replay /var/lib/spamgeo/archive"`
	Synth  SynthCmd  `cmd:"" group:"collect" servers:"Kafka" help:"Publish synthetic trap traffic whose country shares follow a profile." example:"spamgeo synth --profile sophos-2005-apr-sep --events 100000"`

	Enrich EnrichCmd `cmd:"" group:"process" servers:"Kafka" help:"Read raw events, add GeoIP country, continent and network, publish enriched events." example:"spamgeo enrich --geoip-country /var/lib/GeoIP/dbip-country.mmdb"`
	Sink   SinkCmd   `cmd:"" group:"process" servers:"Kafka,ClickHouse" help:"Store enriched events in ClickHouse." example:"spamgeo sink --batch-rows 50000"`

	Report    ReportCmd    `cmd:"" group:"read" servers:"ClickHouse" help:"Print the share of spam by relaying country for a period, with a comparison." example:"spamgeo report --period 2005Q2 --compare previous --format html"`
	Serve     ServeCmd     `cmd:"" group:"read" servers:"ClickHouse" help:"Serve the dashboard (at /) and the statistics as a read-only HTTP JSON API." example:"spamgeo serve --listen 0.0.0.0:9560"`
	Export    ExportCmd    `cmd:"" group:"read" servers:"ClickHouse" help:"Write the events of a period to a Parquet or Arrow file." example:"spamgeo export --period 2005 --output events-2005.parquet"`
	Campaigns CampaignsCmd `cmd:"" group:"read" servers:"ClickHouse" help:"List the top spam campaigns of a period: messages, sources, relay, hosting and domain countries." example:"spamgeo campaigns --period 2005-04 --top 10"`
	Evidence  EvidenceCmd  `cmd:"" group:"read" servers:"ClickHouse" help:"Build the evidence bundle of one campaign: raw messages, manifest with hashes, readable summary." example:"spamgeo evidence --last 30d --campaign ID --archive mail -o case"`

	AddressSpace    AddressSpaceCmd    `cmd:"" group:"operate" name:"address-space" servers:"ClickHouse" help:"Store the address space the GeoIP files place in each country and network, for report --per address-space." example:"spamgeo address-space --geoip-country dbip-country.mmdb"`
	Migrate         MigrateCmd         `cmd:"" group:"operate" servers:"ClickHouse" help:"Create or upgrade the ClickHouse schema (idempotent)." example:"spamgeo migrate --dry-run"`
	Verify          VerifyCmd          `cmd:"" group:"operate" servers:"Kafka,ClickHouse" help:"Check that every rollup and view agrees with the events table, day by day and trap by trap." example:"spamgeo verify --period 2005"`
	Repair          RepairCmd          `cmd:"" group:"operate" servers:"Kafka,ClickHouse" help:"Rebuild from events the rollup partitions verify finds out of step (sinks stopped)." example:"spamgeo repair --period 2005-04"`
	Retention       RetentionCmd       `cmd:"" group:"operate" servers:"ClickHouse" help:"Expire old data: table TTLs on current servers, dropped partitions on old ones." example:"spamgeo retention --events-days 730 --dry-run"`
	ConfigReference ConfigReferenceCmd `cmd:"" group:"operate" name:"config-reference" help:"Print every setting with its flag, environment variable, YAML key and default, as Markdown." example:"spamgeo config-reference > docs/configuration.md"`
}

func (g *Globals) kafka() kafka.Configuration {
	c := kafka.DefaultConfiguration()
	c.Brokers = g.KafkaBrokers
	c.RawTopic, c.EnrichedTopic, c.DLQTopic = g.KafkaRawTopic, g.KafkaEnrichedTopic, g.KafkaDLQTopic
	c.Partitions, c.ReplicationFactor = g.KafkaPartitions, g.KafkaReplication
	return c.Secure(g.kafkaTLS, g.kafkaSASL)
}

func (g *Globals) clickhouse() clickhousedb.Configuration {
	c := clickhousedb.DefaultConfiguration()
	c.Addrs, c.Database = g.ClickhouseAddr, g.ClickhouseDatabase
	c.Username, c.Password = g.ClickhouseUser, g.ClickhousePassword
	c.Cluster = g.ClickhouseCluster
	c.TLS = g.clickhouseTLS
	return c
}

// progress is where progress bars go: standard error when it is a terminal, nowhere otherwise.
func progress() io.Writer {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return os.Stderr
	}
	return nil
}

func vars() kong.Vars {
	k, c := kafka.DefaultConfiguration(), clickhousedb.DefaultConfiguration()
	e, s, t := enrich.DefaultConfiguration(), sink.DefaultConfiguration(), trap.DefaultConfiguration()
	return kong.Vars{
		"trap_listen":                 strings.Join(t.Listen, ","),
		"trap_id":                     t.TrapID,
		"trap_hostname":               t.Hostname,
		"trap_max_message_bytes":      fmt.Sprint(t.MaxMessageBytes),
		"trap_max_header_bytes":       fmt.Sprint(t.MaxHeaderBytes),
		"trap_max_recipients":         fmt.Sprint(t.MaxRecipients),
		"trap_max_line_length":        fmt.Sprint(t.MaxLineLength),
		"trap_command_timeout":        shortDuration(t.CommandTimeout),
		"trap_data_timeout":           shortDuration(t.DataTimeout),
		"trap_session_timeout":        shortDuration(t.SessionTimeout),
		"trap_max_connections":        fmt.Sprint(t.MaxConnections),
		"trap_max_connections_per_ip": fmt.Sprint(t.MaxConnectionsPerIP),
		"trap_handoff_timeout":        shortDuration(t.HandoffTimeout),
		"trap_max_spool_bytes":        fmt.Sprint(t.MaxSpoolBytes),
		"enrich_batch_rows":           fmt.Sprint(e.Batch.MaxMessages),
		"enrich_batch_wait":           e.Batch.MaxWait.String(),
		"sink_batch_rows":             fmt.Sprint(s.Batch.MaxMessages),
		"sink_batch_wait":             s.Batch.MaxWait.String(),
		"version":                     version,
		"kafka_brokers":               strings.Join(k.Brokers, ","),
		"kafka_raw_topic":             k.RawTopic,
		"kafka_enriched_topic":        k.EnrichedTopic,
		"kafka_dlq_topic":             k.DLQTopic,
		"kafka_partitions":            fmt.Sprint(k.Partitions),
		"kafka_replication":           fmt.Sprint(k.ReplicationFactor),
		"kafka_sasl_mechanisms":       strings.Join(kafka.SASLMechanisms, ","),
		"clickhouse_addr":             strings.Join(c.Addrs, ","),
		"clickhouse_database":         c.Database,
		"clickhouse_user":             c.Username,
	}
}

// shortDuration writes d as people do in flags: 1m, not time's 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parse reads the command line into cli. Precedence, lowest first: defaults, the --config
// YAML file, SPAMGEO_* environment variables, flags.
func parse(cli *CLI, args []string, stdout, stderr io.Writer, options ...kong.Option) (*kong.Context, error) {
	parser, err := kong.New(cli, append([]kong.Option{
		kong.Name("spamgeo"),
		kong.Description("Measures where spam comes from: trap mail becomes events, events get their " +
			"source's country and network, and ClickHouse keeps each country's share over time.\n\n" +
			"Every flag can also be set with a SPAMGEO_* environment variable (shown with each flag) " +
			"or in the YAML file given with --config."),
		kong.UsageOnError(),
		kong.DefaultEnvars("SPAMGEO"),
		kong.Configuration(yamlBelowEnv),
		kong.Writers(stdout, stderr),
		kong.Help(help),
		kong.ExplicitGroups(commandGroups),
		vars(),
	}, options...)...)
	if err != nil {
		return nil, err
	}
	kctx, err := parser.Parse(args)
	if err == nil && cli.Config != "" {
		err = checkConfigKeys(parser.Model, string(cli.Config))
	}
	return kctx, err
}

// yamlBelowEnv loads a YAML configuration whose values give way to environment variables:
// kong on its own lets a configuration file override them.
func yamlBelowEnv(r io.Reader) (kong.Resolver, error) {
	res, err := kongyaml.Loader(r)
	return envFirst{res}, err
}

type envFirst struct{ kong.Resolver }

func (r envFirst) Resolve(ctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	return r.Resolver.Resolve(ctx, parent, flag)
}

// run parses args and runs the chosen subcommand, writing results to stdout and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cli CLI
	kctx, err := parse(&cli, args, stdout, stderr)
	if err != nil {
		return err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cli.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	if cli.LogFormat == "json" {
		cli.logger = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		cli.logger = slog.New(slog.NewTextHandler(stderr, opts))
	}
	cli.version = version
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.BindTo(stdout, (*io.Writer)(nil))
	return kctx.Run(&cli.Globals)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "spamgeo: %v\n", err)
		os.Exit(1)
	}
}
