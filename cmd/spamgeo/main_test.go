package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Settings come from, lowest first: defaults, the YAML file, SPAMGEO_* variables, flags.
func TestSettingsPrecedence(t *testing.T) {
	config := filepath.Join(t.TempDir(), "spamgeo.yaml")
	if err := os.WriteFile(config, []byte("clickhouse-database: from_yaml\nkafka-brokers: [yaml:9092]\nreport:\n  top: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config", config, "report", "--from", "2005-04-01", "--to", "2005-09-30"}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		flags    []string
		database string
		top      int
		brokers  []string
	}{
		{"yaml over defaults", nil, nil, "from_yaml", 3, []string{"yaml:9092"}},
		{"env over yaml", map[string]string{"SPAMGEO_CLICKHOUSE_DATABASE": "from_env", "SPAMGEO_REPORT_TOP": "5"}, nil, "from_env", 5, []string{"yaml:9092"}},
		{"flags over env", map[string]string{"SPAMGEO_CLICKHOUSE_DATABASE": "from_env", "SPAMGEO_KAFKA_BROKERS": "env:1,env:2"},
			[]string{"--clickhouse-database", "from_flag", "--top", "7"}, "from_flag", 7, []string{"env:1", "env:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cli CLI
			if _, err := parse(&cli, append(slices.Clone(base), tc.flags...), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if cli.ClickhouseDatabase != tc.database || cli.Report.Top != tc.top || !slices.Equal(cli.KafkaBrokers, tc.brokers) {
				t.Errorf("database %q top %d brokers %v; want %q %d %v",
					cli.ClickhouseDatabase, cli.Report.Top, cli.KafkaBrokers, tc.database, tc.top, tc.brokers)
			}
		})
	}
}

func TestDefaultsPointAtLoopback(t *testing.T) {
	var cli CLI
	if _, err := parse(&cli, []string{"sink"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	g := cli.Globals
	if !slices.Equal(g.KafkaBrokers, []string{"127.0.0.1:9092"}) || !slices.Equal(g.ClickhouseAddr, []string{"127.0.0.1:9000"}) ||
		g.ClickhouseDatabase != "spamgeo" || g.KafkaRawTopic != "spamgeo.raw" || g.KafkaEnrichedTopic != "spamgeo.enriched" ||
		g.KafkaDLQTopic != "spamgeo.dlq" || cli.Sink.MetricsListen != "127.0.0.1:9552" {
		t.Errorf("defaults: %+v, sink metrics %q", g, cli.Sink.MetricsListen)
	}
}
