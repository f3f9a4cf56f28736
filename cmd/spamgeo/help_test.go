package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// helpOf is what `spamgeo args... --help` prints.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	// With exit a no-op the parser goes on after --help and may complain of missing arguments.
	_, _ = parse(&CLI{}, append(args, "--help"), &out, &bytes.Buffer{}, kong.Exit(func(int) {}))
	return out.String()
}

// The top-level page starts with the commands by stage, an example each, and leaves the
// connection flags to the commands that use them.
func TestTopLevelHelpListsCommandsByStage(t *testing.T) {
	page := helpOf(t)
	lines := strings.Split(strings.TrimSpace(page), "\n")
	if len(lines) > 80 {
		t.Errorf("spamgeo --help is %d lines", len(lines))
	}
	at := 0
	for _, title := range []string{"Collect:", "Process:", "Read:", "Operate", "Flags of every command:"} {
		i := strings.Index(page[at:], "\n"+title)
		if i < 0 {
			t.Fatalf("no %q after byte %d:\n%s", title, at, page)
		}
		at += i + 1
	}
	var cli CLI
	parser, err := kong.New(&cli, vars())
	if err != nil {
		t.Fatal(err)
	}
	flagsAt := strings.Index(page, "Flags of every command:")
	for _, c := range parser.Model.Leaves(true) {
		ex := strings.Index(page, "$ spamgeo "+c.Name+" ")
		if ex < 0 || ex > flagsAt {
			t.Errorf("no example of %s among the commands", c.Name)
		}
	}
	for _, flag := range []string{"--kafka-", "--clickhouse-"} {
		if strings.Contains(page, flag) {
			t.Errorf("the top-level page lists %s flags", flag)
		}
	}
	for _, line := range lines {
		if len(line) > 80 {
			t.Errorf("line wider than 80 columns: %q", line)
		}
	}
}

// A command's page shows the connection flags of the servers it talks to and no others.
func TestCommandHelpShowsTheServersItUses(t *testing.T) {
	for cmd, uses := range map[string]struct{ kafka, clickhouse bool }{
		"trap": {kafka: true}, "replay": {kafka: true}, "synth": {kafka: true}, "enrich": {kafka: true},
		"sink":   {kafka: true, clickhouse: true},
		"report": {clickhouse: true}, "serve": {clickhouse: true}, "export": {clickhouse: true},
		"campaigns": {clickhouse: true}, "evidence": {clickhouse: true},
		"migrate": {clickhouse: true}, "retention": {clickhouse: true}, "verify": {kafka: true, clickhouse: true},
		"repair":           {kafka: true, clickhouse: true},
		"config-reference": {},
	} {
		page := helpOf(t, cmd)
		if !strings.HasPrefix(page, "Usage: spamgeo "+cmd) {
			t.Fatalf("%s --help:\n%s", cmd, page)
		}
		if got := strings.Contains(page, "--kafka-brokers"); got != uses.kafka {
			t.Errorf("%s --help lists Kafka flags: %v, want %v", cmd, got, uses.kafka)
		}
		if got := strings.Contains(page, "--clickhouse-addr"); got != uses.clickhouse {
			t.Errorf("%s --help lists ClickHouse flags: %v, want %v", cmd, got, uses.clickhouse)
		}
	}
}

func TestServeHelpNamesTheDashboard(t *testing.T) {
	page := helpOf(t, "serve")
	for _, want := range []string{"Serve the dashboard (at /)", "http://127.0.0.1:9560/"} {
		if !strings.Contains(page, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, page)
		}
	}
}

// The flags a command's page leaves out still work, so one settings file serves every role.
func TestHiddenConnectionFlagsStillParse(t *testing.T) {
	var report, trap CLI
	if _, err := parse(&report, []string{"report", "--period", "2005Q2", "--kafka-brokers", "k:9092"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := parse(&trap, []string{"trap", "--clickhouse-database", "d"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if report.KafkaBrokers[0] != "k:9092" || trap.ClickhouseDatabase != "d" {
		t.Errorf("report brokers %v, trap database %q", report.KafkaBrokers, trap.ClickhouseDatabase)
	}
}
