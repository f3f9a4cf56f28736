// Package testenv is the tests' hub. It gives integration tests the real local servers started
// by deploy/: a Kafka configuration with topics of their own and a ClickHouse database of their
// own (migrated if they like), removed afterwards; and what they share besides: waiting for a
// condition, the spamgeo binary, the project's Python. Under `make test` (SPAMGEO_INTEGRATION=1)
// a server that does not answer fails the test; a plain `go test` without that variable skips
// integration tests instead.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

func required(t testing.TB) bool {
	return os.Getenv("SPAMGEO_INTEGRATION") == "1"
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if required(t) {
		t.Fatalf("%s is required (SPAMGEO_INTEGRATION=1) but unavailable: %v", what, err)
	}
	t.Skipf("%s unavailable (%v); `make test` starts it and runs this test", what, err)
}

// Suffix returns a short random name part that keeps concurrent tests apart.
func Suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Kafka returns a configuration for the local broker ($SPAMGEO_TEST_KAFKA, default
// 127.0.0.1:9092) whose three topics exist, with three partitions each, and belong to this
// test alone.
func Kafka(t testing.TB) kafka.Configuration {
	t.Helper()
	return KafkaPartitions(t, 3)
}

// KafkaPartitions is Kafka with topics of the given number of partitions.
func KafkaPartitions(t testing.TB, partitions int) kafka.Configuration {
	t.Helper()
	cfg := kafka.DefaultConfiguration()
	if b := os.Getenv("SPAMGEO_TEST_KAFKA"); b != "" {
		cfg.Brokers = strings.Split(b, ",")
	}
	s := Suffix()
	cfg.RawTopic += ".test-" + s
	cfg.EnrichedTopic += ".test-" + s
	cfg.DLQTopic += ".test-" + s
	cfg.Partitions = partitions
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cfg.EnsureTopics(ctx); err != nil {
		unavailable(t, "Kafka", err)
	}
	return cfg
}

// CreateTopic creates topic on cfg's brokers with cfg.Partitions partitions and the given topic
// configs (such as max.message.bytes), for tests of what a stage does with an unusual topic.
func CreateTopic(t testing.TB, cfg kafka.Configuration, topic string, configs map[string]string) {
	t.Helper()
	tc := kafkago.TopicConfig{Topic: topic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor}
	for k, v := range configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...)}
	resp, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{tc}})
	if err != nil {
		unavailable(t, "Kafka", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// ClickHouse returns a configuration for the local server ($SPAMGEO_TEST_CLICKHOUSE, default
// 127.0.0.1:9000) naming a database for this test alone, dropped when the test ends. The
// database is not created: migrating it is part of what tests exercise.
func ClickHouse(t testing.TB) clickhousedb.Configuration {
	t.Helper()
	cfg := clickhousedb.DefaultConfiguration()
	if a := os.Getenv("SPAMGEO_TEST_CLICKHOUSE"); a != "" {
		cfg.Addrs = strings.Split(a, ",")
	}
	cfg.Database = "spamgeo_test_" + Suffix()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cfg.OpenServer(ctx)
	if err != nil {
		unavailable(t, "ClickHouse", err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return cfg
}

// MigratedClickHouse is ClickHouse with spamgeo's schema applied, and an open connection to the
// database, closed when the test ends.
func MigratedClickHouse(t testing.TB) (clickhousedb.Configuration, clickhousedb.Conn) {
	t.Helper()
	cfg := ClickHouse(t)
	conn := migrate(t, cfg)
	t.Cleanup(func() { conn.Close() })
	return cfg, conn
}

// migrate applies the migrations to cfg's database and opens a connection to it.
func migrate(t testing.TB, cfg clickhousedb.Configuration) clickhousedb.Conn {
	t.Helper()
	ctx := context.Background()
	if _, err := migrations.New(cfg, Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// Counts runs q, whose rows are a key (such as a country code) and a count.
func Counts(t testing.TB, conn clickhousedb.Conn, q string) map[string]uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var key string
		var n uint64
		if err := rows.Scan(&key, &n); err != nil {
			t.Fatal(err)
		}
		out[key] = n
	}
	return out
}

// Python is $SPAMGEO_PYTHON, the project's venv's python (make test sets it); without it the test
// is skipped, naming what it needs the Python for.
func Python(t testing.TB, needs string) string {
	t.Helper()
	python := os.Getenv("SPAMGEO_PYTHON")
	if python == "" {
		t.Skipf("SPAMGEO_PYTHON (%s) is not set; make test sets it", needs)
	}
	return python
}

// BuildSpamgeo builds the spamgeo command into a directory of the test's and returns its path,
// for tests that run it as a child process.
func BuildSpamgeo(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spamgeo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spamgeo/spamgeo/cmd/spamgeo").CombinedOutput(); err != nil {
		t.Fatalf("build spamgeo: %v\n%s", err, out)
	}
	return bin
}

// KafkaFlags are the spamgeo flags that point a command at k's brokers and topics.
func KafkaFlags(k kafka.Configuration) []string {
	return []string{"--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-raw-topic", k.RawTopic,
		"--kafka-enriched-topic", k.EnrichedTopic, "--kafka-dlq-topic", k.DLQTopic,
		"--kafka-partitions", fmt.Sprint(k.Partitions), "--kafka-replication", fmt.Sprint(k.ReplicationFactor)}
}

// ClickHouseFlags are the spamgeo flags that point a command at ch's servers and database.
func ClickHouseFlags(ch clickhousedb.Configuration) []string {
	return []string{"--clickhouse-addr", strings.Join(ch.Addrs, ","), "--clickhouse-database", ch.Database}
}

// Logger returns a logger that writes through t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TopicCount is the number of messages a topic holds (its end offsets summed).
func TopicCount(t testing.TB, cfg kafka.Configuration, topic string) int64 {
	t.Helper()
	n, err := cfg.Lag(context.Background(), "never-committed-"+Suffix(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ReadAll reads a topic from the beginning and fails unless it holds exactly want messages.
// It commits nothing: a commit per message made reading 60,000 messages under -race take
// longer than the deadline.
func ReadAll(t testing.TB, cfg kafka.Configuration, topic string, want int) []kafka.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cfg.Brokers, GroupID: "read-" + Suffix(), Topic: topic})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s after %d messages: %v", topic, len(out), err)
		}
		out = append(out, m)
	}
	if n := TopicCount(t, cfg, topic); n != int64(want) {
		t.Errorf("%s holds %d messages, want %d", topic, n, want)
	}
	return out
}

// CounterValue reads the value of the counter called name (its first series) from reg.
func CounterValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Period is the period s names (as --period writes one), failing the test when it names none.
func Period(t testing.TB, s string) period.Period {
	t.Helper()
	p, err := period.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
