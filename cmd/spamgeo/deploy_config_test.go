package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// deploy/config/spamgeo.yaml, the one settings file that deploy/compose mounts into every spamgeo
// container and deploy/kubernetes turns into a ConfigMap (deploy/validate checks both), is
// accepted by the real parser for every role, named by SPAMGEO_CONFIG as the containers name it,
// and sets what the containers need.
func TestDeployConfigForEveryRole(t *testing.T) {
	const site = "../../deploy/config/spamgeo.yaml"
	t.Setenv("SPAMGEO_CONFIG", site)
	// The file names the secret mounted at /run/secrets; the environment, which overrides it,
	// names a file of the test's.
	t.Setenv("SPAMGEO_CLICKHOUSE_PASSWORD_FILE", writeFile(t, "clickhouse_password", "pw\n"))
	// Servers listen on every interface of the container, not on loopback as by default.
	listens := map[string]func(*CLI) []string{
		"migrate": func(*CLI) []string { return nil },
		"trap":    func(c *CLI) []string { return append(slices.Clone(c.Trap.Listen), c.Trap.MetricsListen) },
		"enrich":  func(c *CLI) []string { return []string{c.Enrich.MetricsListen} },
		"sink":    func(c *CLI) []string { return []string{c.Sink.MetricsListen} },
		"serve":   func(c *CLI) []string { return []string{c.Serve.Listen, c.Serve.MetricsListen} },
	}
	for role, listen := range listens {
		var cli CLI
		kctx, err := parse(&cli, []string{role}, &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if kctx.Command() != role || string(cli.Config) != site {
			t.Errorf("%s: ran %q with settings %q", role, kctx.Command(), cli.Config)
		}
		if !slices.Equal(cli.KafkaBrokers, []string{"kafka:9092"}) || cli.ClickhouseCluster != "spamgeo" || cli.ClickhouseUser != "spamgeo" ||
			cli.ClickhousePassword != "pw" || cli.LogFormat != "json" {
			t.Errorf("%s: brokers %v, cluster %q, user %q, password read %v, log format %s", role, cli.KafkaBrokers,
				cli.ClickhouseCluster, cli.ClickhouseUser, cli.ClickhousePassword == "pw", cli.LogFormat)
		}
		for _, addr := range listen(&cli) {
			if !strings.HasPrefix(addr, ":") {
				t.Errorf("%s listens on %q", role, addr)
			}
		}
		if role == "trap" && cli.Trap.SpoolDir != "/var/spool/spamgeo" {
			t.Errorf("trap spool %q: the image's directory and the volumes are /var/spool/spamgeo", cli.Trap.SpoolDir)
		}
	}
}
