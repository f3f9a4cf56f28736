package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// spamgeo runs the command line in-process against the test's own topics and database.
func spamgeo(t *testing.T, env pipelineEnv, args ...string) string {
	t.Helper()
	out, err := runWith(env, args...)
	if err != nil {
		t.Fatalf("spamgeo %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// runErr runs the command line and returns its error.
func runErr(env pipelineEnv, args ...string) error {
	_, err := runWith(env, args...)
	return err
}

func runWith(env pipelineEnv, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	all := slices.Concat(testenv.KafkaFlags(env.kafka), testenv.ClickHouseFlags(env.clickhouse), args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, all, &stdout, &stderr); err != nil {
		return stdout.String(), fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return stdout.String(), nil
}

type pipelineEnv struct {
	kafka      kafka.Configuration
	clickhouse clickhousedb.Configuration
}

// The whole path on the real servers: synthesized events travel through the real Kafka broker,
// are enriched from a GeoIP database whose answers are known, stored in the real ClickHouse,
// and read back from the rollup as the calibrated shares. A poison message in the raw topic
// goes to the dead-letter topic with its reason while every good event still arrives.
func TestPipelineOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	groups := []string{"--group", "test-" + testenv.Suffix()}

	all, _ := migrations.All()
	if out := spamgeo(t, env, "migrate"); !strings.Contains(out, fmt.Sprintf(": %d migration(s) applied", len(all))) {
		t.Errorf("first migrate: %q", out)
	}
	if out := spamgeo(t, env, "migrate"); !strings.Contains(out, "0 migration(s) applied") {
		t.Errorf("second migrate: %q", out)
	}

	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-2004-apr-sep", "--events", "20000", "--seed", "4"}, geo...)...)
	produce(t, env.kafka, env.kafka.RawTopic, []byte("this is not an event"), []byte(`{"schema_version":1,"event_id":"nope"}`))
	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-2005-apr-sep", "--events", "20000", "--seed", "5"}, geo...)...)

	spamgeo(t, env, append(append([]string{"enrich", "--drain", "--metrics-listen", ""}, groups...), geo...)...)
	spamgeo(t, env, append([]string{"sink", "--drain", "--metrics-listen", ""}, groups...)...)

	if got := testenv.TopicCount(t, env.kafka, env.kafka.RawTopic); got != 40002 {
		t.Errorf("raw topic holds %d messages, want 40002", got)
	}
	if got := testenv.TopicCount(t, env.kafka, env.kafka.EnrichedTopic); got != 40000 {
		t.Errorf("enriched topic holds %d messages, want 40000", got)
	}
	dead := testenv.ReadAll(t, env.kafka, env.kafka.DLQTopic, 2)
	for i, want := range []string{"not an event", "event_id \"nope\" is not a UUID"} {
		if got := kafka.HeaderValue(dead[i], "spamgeo.reason"); !strings.Contains(got, want) {
			t.Errorf("dead letter %d reason %q, want it to mention %q", i, got, want)
		}
		if got := kafka.HeaderValue(dead[i], "spamgeo.stage"); got != "enrich" {
			t.Errorf("dead letter %d stage %q", i, got)
		}
	}

	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows, ids uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != 40000 || ids != 40000 {
		t.Errorf("events table: %d rows, %d distinct ids; want 40000 of each", rows, ids)
	}

	for _, table := range []string{"rollup_country_minute", "rollup_country_hour", "rollup_country_day", "rollup_asn_hour", "rollup_asn_day"} {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT countMerge(messages) FROM "+table).Scan(&n); err != nil || n != 40000 {
			t.Errorf("%s totals %d messages (%v), want 40000", table, n, err)
		}
	}

	// The report, as JSON, reproduces the calibrated shares read back from ClickHouse.
	var rep report.Report
	out := spamgeo(t, env, "report", "--from", "2005-04-01", "--to", "2005-09-30",
		"--compare-from", "2004-04-01", "--compare-to", "2004-09-30", "--format", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	byCode := map[string]report.Line{}
	for _, l := range rep.Rows {
		byCode[l.Code] = l
	}
	for _, want := range []struct {
		code        string
		rank        int
		now, before float64
		rankChange  int
	}{
		{"US", 1, 26.5, 41.5, 0}, {"CN", 2, 22.3, 11.62, 1}, {"KR", 3, 9.7, 15.42, -1}, {"FR", 4, 5.0, 1.24, 4}, {"DE", 12, 1.8, 1.28, -5},
	} {
		got := byCode[want.code]
		if got.PreviousShare == nil || got.RankChange == nil {
			t.Errorf("%s has no comparison: %+v", want.code, got)
			continue
		}
		if got.Rank != want.rank || math.Abs(got.Share-want.now) > 1e-9 || math.Abs(*got.PreviousShare-want.before) > 1e-9 ||
			math.Abs(*got.ChangePP-(want.now-want.before)) > 1e-9 || *got.RankChange != want.rankChange {
			t.Errorf("%s: %+v, want rank %d, %.2f%% from %.2f%%, rank change %d", want.code, got, want.rank, want.now, want.before, want.rankChange)
		}
		if got.Low >= got.Share || got.High <= got.Share || got.SourceShare <= 0 {
			t.Errorf("%s: interval [%.2f, %.2f] or source share %.2f wrong", want.code, got.Low, got.High, got.SourceShare)
		}
	}
	// Austria is not in the 2004 profile: there it got a share of the spread-out rest.
	if at := byCode["AT"]; at.Rank != 8 || at.Share != 2.4 || at.PreviousShare == nil || *at.PreviousShare >= 1 {
		t.Errorf("Austria: %+v", at)
	}
	if rest := byCode[""]; math.Abs(rest.Share-18.1) > 1e-9 || rep.Messages != 20000 {
		t.Errorf("rest of the world %.2f%% of %d", rest.Share, rep.Messages)
	}
	if !strings.Contains(rep.Sentences[0], "down from 41.5% a year earlier") {
		t.Errorf("headline: %q", rep.Sentences[0])
	}
	// What moved: China's rise and the falls of the United States and South Korea are beyond
	// chance on 20,000 messages a period; Canada's 2.91% → 3.00% is not.
	var moved report.Report
	out = spamgeo(t, env, "report", "--period", "2005-04-01..2005-09-30", "--compare", "year", "--movers", "--format", "json")
	if err := json.Unmarshal([]byte(out), &moved); err != nil || moved.Movers == nil {
		t.Fatalf("report --movers JSON: %v\n%s", err, out)
	}
	codes := func(ls []report.MoverLine) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Code)
		}
		return out
	}
	risen, fallen := codes(moved.Movers.Risen), codes(moved.Movers.Fallen)
	if !slices.Contains(risen, "CN") || !slices.Contains(fallen, "US") || !slices.Contains(fallen, "KR") ||
		slices.Contains(risen, "CA") || slices.Contains(fallen, "CA") || risen[0] != "CN" || fallen[0] != "US" {
		t.Errorf("movers: rose %v, fell %v", risen, fallen)
	}
	if err := runErr(env, "report", "--period", "2005", "--movers"); err == nil || !strings.Contains(err.Error(), "give --compare") {
		t.Errorf("--movers without a comparison: %v", err)
	}
	out = spamgeo(t, env, "report", "--period", "2004-04-01..2004-09-30")
	for _, want := range []string{`12 │ Taiwan\s+│ TW\s+│\s+0\.91%`, `All other countries\s+│\s+│\s+12\.79%`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("2004 report does not match %q:\n%s", want, out)
		}
	}
}

func produce(t *testing.T, cfg kafka.Configuration, topic string, values ...[]byte) {
	t.Helper()
	w := cfg.Writer(topic, kafka.DefaultWriterOptions(), testenv.Logger(t))
	defer w.Close()
	var msgs []kafka.Message
	for _, v := range values {
		msgs = append(msgs, kafka.Message{Key: []byte("poison"), Value: v})
	}
	if err := kafka.Deliver(context.Background(), w, msgs, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("SPAMGEO_INTEGRATION") == "" {
		fmt.Println("integration tests skip unless SPAMGEO_INTEGRATION=1 (make test sets it)")
	}
	os.Exit(m.Run())
}
