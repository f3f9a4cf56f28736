package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// spamgeo verify and repair on the real servers: a clean pipeline verifies; a day rollup that
// counted a block twice makes verify print the day and exit non-zero; repair refuses while a
// member of the sink group is connected, then rebuilds the partition, and verify passes again.
func TestVerifyAndRepairOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	group := "sink-" + testenv.Suffix()
	spamgeo(t, env, "migrate")
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-2005-apr-sep", "--events", "2000", "--seed", "7"}, geo...)...)
	spamgeo(t, env, append([]string{"enrich", "--drain", "--metrics-listen", "", "--group", "enrich-" + testenv.Suffix()}, geo...)...)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", group)

	if out := spamgeo(t, env, "verify", "--sink-group", group); !strings.Contains(out, "2000 messages in events") || !strings.Contains(out, "agrees with events") ||
		strings.Count(out, "| in step") != env.kafka.Partitions {
		t.Errorf("verify of a clean pipeline (every partition committed where the rows end):\n%s", out)
	}
	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(context.Background(), `INSERT INTO rollup_country_day SELECT toStartOfDay(received_at) AS t, trap_id, country_code,
		continent_code, countState(), sumState(toUInt64(size)), uniqState(source_ip) FROM events
		WHERE toDate(received_at) = (SELECT min(toDate(received_at)) FROM events) GROUP BY t, trap_id, country_code, continent_code`); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(t.TempDir(), "spamgeo_verify.prom")
	out, err := runWith(env, "verify", "--period", "2005", "--metrics-file", metrics)
	if text, _ := os.ReadFile(metrics); !strings.Contains(string(text), "spamgeo_verify_differences 2\n") ||
		!strings.Contains(string(text), "spamgeo_verify_last_run_timestamp_seconds ") {
		t.Errorf("verify's metrics file:\n%s", text)
	}
	if !errors.Is(err, errDifferences) {
		t.Fatalf("verify of a doubled day: %v\n%s", err, out)
	}
	// The doubled day, in the day rollup and in the view over it, for each trap it has.
	if !regexp.MustCompile(`\| rollup_country_day \| 2005-04-01 \| \S+ +\| +\d+ \| +\d+ \|`).MatchString(out) || !strings.Contains(out, "| daily_country ") {
		t.Errorf("verify of a doubled day prints:\n%s", out)
	}
	t.Logf("verify of a doubled day:\n%s", out)

	// A consumer of the sink group is connected: repair refuses.
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: env.kafka.Brokers, GroupID: group, Topic: env.kafka.EnrichedTopic})
	for members := 0; members == 0; {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		r.FetchMessage(ctx) // joins the group
		cancel()
		if members, err = env.kafka.GroupMembers(context.Background(), group); err != nil {
			t.Fatal(err)
		}
	}
	if err := runErr(env, "repair", "--period", "2005", "--sink-group", group); err == nil || !strings.Contains(err.Error(), "stop the sinks first") {
		t.Errorf("repair with a sink running: %v", err)
	}
	r.Close()

	out = spamgeo(t, env, "repair", "--period", "2005", "--sink-group", group)
	if !strings.Contains(out, "rebuilt rollup_country_day partition 2005 from events: 2000 messages, was ") {
		t.Errorf("repair: %s", out)
	}
	if out := spamgeo(t, env, "verify", "--period", "2005"); !strings.Contains(out, "agrees with events") {
		t.Errorf("verify after repair: %s", out)
	}
	if out := spamgeo(t, env, "repair", "--period", "2005", "--sink-group", group); !strings.Contains(out, "nothing to rebuild") {
		t.Errorf("a second repair: %s", out)
	}
}
