package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/parquet/file"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// readWithPyarrow reads an export file with pyarrow (another Arrow implementation than the one
// that wrote it) and returns its rows as JSON-friendly maps.
func readWithPyarrow(t *testing.T, path string) []map[string]any {
	t.Helper()
	python := testenv.Python(t, "a Python with pyarrow")
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

// exportEnv is a migrated database holding n events in April 2005, with HELO and sender
// strings that compress poorly, so that their export is far larger than a pipe's buffer.
func exportEnv(t *testing.T, n int) pipelineEnv {
	t.Helper()
	env := pipelineEnv{kafka: kafka.DefaultConfiguration(), clickhouse: testenv.ClickHouse(t)}
	spamgeo(t, env, "migrate")
	conn, err := env.clickhouse.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(t.Context(), `INSERT INTO events (event_id, received_at, trap_id, collector, source_ip, helo,
		mail_from, rcpt_count, size, country_code, continent_code, asn, as_org, geoip_build)
		SELECT generateUUIDv4(), toDateTime('2005-04-01 00:00:00', 'UTC') + number * 60, 't1', 'c1', MD5(toString(number)),
			hex(MD5(concat('helo', toString(number)))), concat(hex(MD5(toString(number))), '@example.org'), 1,
			toUInt32(number % 5000), ['US', 'CN', 'KR'][number % 3 + 1], ['NA', 'AS', 'AS'][number % 3 + 1],
			toUInt32(number % 1000), 'AS', 'test' FROM numbers(?)`, n); err != nil {
		t.Fatal(err)
	}
	return env
}

// exportedRows counts the rows of a Parquet file or an Arrow IPC stream read from b.
func exportedRows(t *testing.T, format string, b []byte) int64 {
	t.Helper()
	if format == "parquet" {
		r, err := file.NewParquetReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not a Parquet file (%d bytes): %v", len(b), err)
		}
		defer r.Close()
		return r.NumRows()
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an Arrow IPC stream (%d bytes): %v", len(b), err)
	}
	defer r.Release()
	var n int64
	for r.Next() {
		n += r.Record().NumRows()
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("Arrow IPC stream: %v", err)
	}
	return n
}

// Issue 18, finding 20: `-o -` streams the file to standard output, and nothing else goes there;
// before, it wrote a file named "-".
func TestExportToStandardOutputOnRealServers(t *testing.T) {
	env := exportEnv(t, 5000)
	t.Chdir(t.TempDir())
	for _, format := range []string{"parquet", "arrow"} {
		out, err := runWith(env, "export", "--period", "2005-04", "--format", format, "-o", "-")
		if err != nil {
			t.Fatal(err)
		}
		if n := exportedRows(t, format, []byte(out)); n != 5000 {
			t.Errorf("%s on standard output: %d rows, want 5000", format, n)
		}
		if _, err := os.Lstat("-"); err == nil {
			t.Fatalf("%s: a file named - was written", format)
		}
	}
}
