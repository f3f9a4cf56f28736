package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
)

// docs/configuration.md is generated; it must say what the code does.
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config-reference"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(testenv.Path(t, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(doc) {
		t.Fatal("docs/configuration.md differs from `spamgeo config-reference`: run `make docs` and commit it")
	}
	for _, want := range []string{"`clickhouse-password-file`", "`SPAMGEO_KAFKA_SASL_MECHANISM`", "## spamgeo sink", "`sink-batch-rows`"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("reference lacks %s", want)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every key the reference shows is accepted, nested or joined; a misspelt one is refused
// instead of leaving its setting at the default.
func TestConfigKeys(t *testing.T) {
	good := writeFile(t, "good.yaml", "kafka:\n  brokers: [a:9092]\n  sasl:\n    mechanism: none\nclickhouse-database: d\nsink:\n  batch-rows: 10\nenrich-batch-wait: 1s\n")
	var cli CLI
	if _, err := parse(&cli, []string{"--config", good, "sink"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if cli.KafkaBrokers[0] != "a:9092" || cli.ClickhouseDatabase != "d" || cli.Sink.BatchRows != 10 {
		t.Errorf("settings not applied: brokers %v database %q sink rows %d", cli.KafkaBrokers, cli.ClickhouseDatabase, cli.Sink.BatchRows)
	}
	bad := writeFile(t, "bad.yaml", "kafka-broker: [a:9092]\nsink:\n  batch-row: 10\n  batch-rows: 5\n")
	_, err := parse(&CLI{}, []string{"--config", bad, "sink"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown settings kafka-broker, sink-batch-row ") {
		t.Fatalf("misspelt keys: error %v", err)
	}
}

// Passwords come from files (one trailing newline dropped) or the environment, and reach the
// connection settings.
func TestSecretsFromFiles(t *testing.T) {
	chFile := writeFile(t, "ch", "s3cret-clickhouse\n")
	kFile := writeFile(t, "kafka", "s3cret-kafka")
	t.Setenv("SPAMGEO_KAFKA_SASL_PASSWORD_FILE", kFile)
	var cli CLI
	if _, err := parse(&cli, []string{"--clickhouse-password-file", chFile, "--kafka-sasl-mechanism", "scram-sha-512",
		"--kafka-sasl-username", "spamgeo", "sink"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := cli.clickhouse().Password; got != "s3cret-clickhouse" {
		t.Errorf("ClickHouse password %q", got)
	}
	if cli.KafkaSASLPassword != "s3cret-kafka" || cli.kafkaSASL == nil || cli.kafkaSASL.Name() != "SCRAM-SHA-512" {
		t.Errorf("Kafka SASL: password %q mechanism %v", cli.KafkaSASLPassword, cli.kafkaSASL)
	}
	for _, args := range [][]string{
		{"--clickhouse-password-file", filepath.Join(t.TempDir(), "missing"), "sink"},
		{"--clickhouse-password-file", writeFile(t, "empty", "\n"), "sink"},
		{"--clickhouse-password", "x", "--clickhouse-password-file", chFile, "sink"},
		{"--kafka-tls-cert", chFile, "sink"},
		{"--kafka-sasl-mechanism", "plain", "sink"},
	} {
		if _, err := parse(&CLI{}, args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// A command that fails to connect says why without repeating the passwords it was given,
// even at debug level.
func TestSecretsAreNotLogged(t *testing.T) {
	t.Setenv("SPAMGEO_KAFKA_SASL_PASSWORD", "kafka-pass-4711")
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"--log-level", "debug", "--clickhouse-addr", "127.0.0.1:1",
		"--clickhouse-password-file", writeFile(t, "pw", "clickhouse-pass-4711\n"),
		"--kafka-sasl-mechanism", "plain", "--kafka-sasl-username", "u",
		"report", "--from", "2005-04-01", "--to", "2005-09-30"}, &out, &logs)
	if err == nil {
		t.Fatal("report against a closed port succeeded")
	}
	for _, s := range []string{out.String(), logs.String(), err.Error()} {
		if strings.Contains(s, "pass-4711") {
			t.Errorf("a password was printed: %s", s)
		}
	}
}

// The trap's defaults are written once, in trap.DefaultConfiguration: the flags with nothing
// given configure exactly that.
func TestTrapFlagsDefaultToTheConfiguration(t *testing.T) {
	var cli CLI
	if _, err := parse(&cli, []string{"trap"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got, err := cli.Trap.configuration()
	if err != nil {
		t.Fatal(err)
	}
	if want := trap.DefaultConfiguration(); !reflect.DeepEqual(got, want) {
		t.Errorf("the flags' defaults configure\n%+v\nnot trap.DefaultConfiguration()\n%+v", got, want)
	}
}
