package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/internal/tlsconfig"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// The pipeline through servers in secure mode: Kafka with TLS and SASL/SCRAM only, ClickHouse
// with TLS on its secure native port and a password for every user, both with certificates
// from the scripts' local CA. Synthetic events go in through the Go API; migrate, enrich and
// sink run as processes configured by one YAML file whose passwords are files; the totals in
// ClickHouse equal the ground truth. Clients without the CA or the passwords are turned away.
func TestPipelineOnSecureServers(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("runs real servers and processes; make test sets SPAMGEO_INTEGRATION=1")
	}
	const events = 20_000
	ctx := context.Background()
	local := t.TempDir()
	env := append(os.Environ(), "SPAMGEO_LOCAL="+local,
		"KAFKA_SECURE=1", "KAFKA_PORT=19292", "KAFKA_CONTROLLER_PORT=19293", "KAFKA_HEAP=384m",
		"CLICKHOUSE_SECURE=1", "CLICKHOUSE_TCP_PORT=19500", "CLICKHOUSE_HTTP_PORT=19510",
		"CLICKHOUSE_INTERSERVER_PORT=19520", "CLICKHOUSE_TCP_PORT_SECURE=19540")
	runScript(t, env, "clickhouse.sh", "start")
	t.Cleanup(func() { runScript(t, env, "clickhouse.sh", "stop") })
	runScript(t, env, "kafka.sh", "start")
	t.Cleanup(func() { runScript(t, env, "kafka.sh", "stop") })
	ca := filepath.Join(local, "certs", "ca.pem")
	kafkaPassword := filepath.Join(local, "secrets", "kafka")
	clickhousePassword := filepath.Join(local, "secrets", "clickhouse")

	config := filepath.Join(t.TempDir(), "spamgeo.yaml")
	raw, enriched := "secure.raw."+testenv.Suffix(), "secure.enriched."+testenv.Suffix()
	if err := os.WriteFile(config, fmt.Appendf(nil, `log-format: json
kafka:
  brokers: [127.0.0.1:19292]
  raw-topic: %s
  enriched-topic: %s
  dlq-topic: secure.dlq
  partitions: 3
  tls-ca: %s
  sasl-mechanism: scram-sha-512
  sasl-username: spamgeo
  sasl-password-file: %s
clickhouse:
  addr: [127.0.0.1:19540]
  database: spamgeo_secure
  user: spamgeo
  password-file: %s
  tls-ca: %s
`, raw, enriched, ca, kafkaPassword, clickhousePassword, ca), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := testenv.BuildSpamgeo(t)
	if out, err := exec.Command(bin, "--config", config, "migrate").CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	// Ground truth, published through the Go API with SCRAM-SHA-256 this time.
	tlsCfg, err := tlsconfig.Configuration{CAFile: ca}.Load()
	if err != nil {
		t.Fatal(err)
	}
	mechanism, err := kafka.SASLMechanism("scram-sha-256", "spamgeo", readFile(t, kafkaPassword))
	if err != nil {
		t.Fatal(err)
	}
	kcfg := kafka.DefaultConfiguration()
	kcfg.Brokers, kcfg.RawTopic, kcfg.EnrichedTopic, kcfg.DLQTopic, kcfg.Partitions = []string{"127.0.0.1:19292"}, raw, enriched, "secure.dlq", 3
	kcfg = kcfg.Secure(tlsCfg, mechanism)
	country, asn := geoiptest.Files(t)
	scfg := synth.DefaultConfiguration()
	scfg.Profile, scfg.Events, scfg.Seed, scfg.CountryDatabase = "sophos-2005-apr-sep", events, 7, country
	plan, err := synth.Run(ctx, scfg, synth.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := groundTruth(plan)

	enricher := start(t, bin, "--config", config, "enrich", "--drain", "--metrics-listen", "",
		"--geoip-country", country, "--geoip-asn", asn, "--group", "secure-enrich")
	sink := start(t, bin, "--config", config, "sink", "--drain", "--metrics-listen", "", "--group", "secure-sink")
	for _, p := range []*process{enricher, sink} {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("%v: %v\n%s", p.cmd.Args[3], err, p.tail())
			}
		case <-time.After(3 * time.Minute):
			_ = p.cmd.Process.Kill()
			t.Fatalf("%v did not drain in 3 minutes\n%s", p.cmd.Args[3], p.tail())
		}
	}

	chcfg := clickhousedb.DefaultConfiguration()
	chcfg.Addrs, chcfg.Database, chcfg.Username, chcfg.Password = []string{"127.0.0.1:19540"}, "spamgeo_secure", "spamgeo", readFile(t, clickhousePassword)
	chcfg.TLS = tlsCfg
	conn, err := chcfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	checkExact(t, conn, want, events)

	// Turned away: no TLS or no SASL at the broker; no password, or an unknown authority, at
	// ClickHouse.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for name, c := range map[string]kafka.Configuration{
		"plaintext": kcfg.Secure(nil, nil),
		"TLS only":  kcfg.Secure(tlsCfg, nil),
	} {
		if err := c.EnsureTopics(tctx); err == nil {
			t.Errorf("Kafka accepted a %s client", name)
		}
	}
	noPassword := chcfg
	noPassword.Password = ""
	if c, err := noPassword.Open(ctx); err == nil || !strings.Contains(err.Error(), "assword") {
		t.Errorf("ClickHouse without a password: %v", err)
		if c != nil {
			c.Close()
		}
	}
	systemCAs := chcfg
	if systemCAs.TLS, err = (tlsconfig.Configuration{Enable: true}).Load(); err != nil {
		t.Fatal(err)
	}
	if c, err := systemCAs.Open(ctx); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("ClickHouse with a certificate from an unknown authority: %v", err)
		if c != nil {
			c.Close()
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
