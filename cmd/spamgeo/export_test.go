package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// readWithPyarrow reads an export file with pyarrow (another Arrow implementation than the one
// that wrote it) and returns its rows as JSON-friendly maps.
func readWithPyarrow(t *testing.T, path string) []map[string]any {
	t.Helper()
	python := os.Getenv("SPAMGEO_PYTHON")
	if python == "" {
		t.Skip("SPAMGEO_PYTHON (a Python with pyarrow) is not set; make test sets it")
	}
	script := `
import datetime, json, sys, pyarrow as pa, pyarrow.parquet as pq, pyarrow.ipc as ipc
path = sys.argv[1]
t = pq.read_table(path) if path.endswith(".parquet") else ipc.open_file(pa.memory_map(path)).read_all()
if "received_at" in t.schema.names:
    assert t.schema.field("received_at").type == pa.timestamp("ms", tz="UTC"), t.schema
rows = t.to_pylist()
for r in rows:
    for k, v in r.items():
        if isinstance(v, datetime.datetime):
            r[k] = v.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(v, datetime.date):
            r[k] = v.isoformat()
json.dump(rows, sys.stdout)
`
	out, err := exec.Command(python, "-c", script, path).Output()
	if err != nil {
		t.Fatalf("pyarrow could not read %s: %v", path, err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// spamgeo export on the real pipeline: Parquet and Arrow files of a period (and of one country)
// read back by pyarrow hold exactly the rows ClickHouse holds, in the same order, value for value.
func TestExportOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	spamgeo(t, env, "migrate")
	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-2005-apr-sep", "--events", "20000", "--seed", "3", "--ipv6"}, geo...)...)
	group := "x-" + testenv.Suffix()
	spamgeo(t, env, append([]string{"enrich", "--drain", "--metrics-listen", "", "--group", group}, geo...)...)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", group)

	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stored := func(where string) []string {
		rows, err := conn.Query(context.Background(), `SELECT toString(event_id), toString(received_at), trap_id, collector,
			replaceRegexpOne(IPv6NumToString(source_ip), '^::ffff:', ''), helo, mail_from, rcpt_count, size, country_code,
			continent_code, asn, as_org, geoip_build FROM events WHERE `+where+` ORDER BY received_at, event_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, at, trap, coll, ip, helo, from, cc, cont, org, build string
			var rcpt uint16
			var size, asn uint32
			if err := rows.Scan(&id, &at, &trap, &coll, &ip, &helo, &from, &rcpt, &size, &cc, &cont, &asn, &org, &build); err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Join([]string{id, at, trap, coll, ip, helo, from, itoa(rcpt), itoa(size), cc, cont, itoa(asn), org, build}, "|"))
		}
		return out
	}
	exported := func(rows []map[string]any) []string {
		var out []string
		for _, r := range rows {
			var parts []string
			for _, c := range []string{"event_id", "received_at", "trap_id", "collector", "source_ip", "helo", "mail_from",
				"rcpt_count", "size", "country_code", "continent_code", "asn", "as_org", "geoip_build"} {
				switch v := r[c].(type) {
				case string:
					parts = append(parts, v)
				case float64:
					parts = append(parts, strconv.FormatUint(uint64(v), 10))
				default:
					t.Fatalf("column %s: unexpected %T", c, v)
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
		return out
	}

	dir := t.TempDir()
	for _, c := range []struct {
		file, where string
		args        []string
	}{
		{"all.parquet", "received_at >= '2005-04-01 00:00:00' AND received_at < '2005-07-01 00:00:00'", []string{"--period", "2005Q2"}},
		{"us.arrow", "country_code = 'US'", []string{"--period", "2005", "--country", "us"}},
	} {
		path := filepath.Join(dir, c.file)
		start := time.Now()
		out := spamgeo(t, env, append([]string{"export", "-o", path}, c.args...)...)
		want := stored(c.where)
		got := exported(readWithPyarrow(t, path))
		t.Logf("%s: %s(%d rows in %s)", c.file, out, len(got), time.Since(start).Round(time.Millisecond))
		if len(want) < 1000 || len(got) != len(want) {
			t.Fatalf("%s: %d rows exported, ClickHouse holds %d", c.file, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s row %d differs:\n file %s\n   ch %s", c.file, i, got[i], want[i])
			}
		}
	}
	// Per-day country counts from the rollup, against the same counts from events.
	path := filepath.Join(dir, "days.parquet")
	spamgeo(t, env, "export", "--rows", "country-days", "--period", "2005Q2", "-o", path)
	var want []string
	rows, err := conn.Query(context.Background(), `SELECT concat(toString(toDate(received_at)), '|', country_code, '|', toString(count()))
		FROM events WHERE received_at >= '2005-04-01 00:00:00' AND received_at < '2005-07-01 00:00:00'
		GROUP BY toDate(received_at), country_code, continent_code ORDER BY toDate(received_at), country_code, continent_code`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		want = append(want, s)
	}
	rows.Close()
	var got []string
	for _, r := range readWithPyarrow(t, path) {
		got = append(got, fmt.Sprintf("%s|%s|%d", r["day"], r["country_code"], uint64(r["messages"].(float64))))
	}
	if !slices.Equal(got, want) || len(got) < 100 {
		t.Errorf("country-days export: %d rows, events say %d\nfirst %v\nwant  %v", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
	}

	if err := runErr(env, "export", "--period", "2005", "-o", filepath.Join(dir, "x.csv"), "--format", "csv"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func itoa[T uint16 | uint32](v T) string { return strconv.FormatUint(uint64(v), 10) }
