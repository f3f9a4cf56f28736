// Package peers benchmarks spamgeo against what users would do instead, side by side on the same
// machine in the same run: here, ClickHouse consuming the raw topic itself.
package peers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/consumers/enrich"
	"github.com/spamgeo/spamgeo/consumers/sink"
	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// BenchmarkEndToEnd runs one stream of raw events (synthetic, from the real DB-IP and
// ip-location-db data that make demo uses) through (a) spamgeo enrich + sink, side by side as
// processes of their own, as deployed, and (b) ClickHouse consuming the raw topic itself: a Kafka
// engine table, ip_trie dictionaries loaded from the same GeoIP files, and materialized views into
// the same events table and rollups. Each path is timed from its start until ClickHouse holds
// every event. It reports each path's sustained events/s and CPU seconds per million events, in
// all and by process (enrich, sink, ClickHouse, the Kafka broker; the benchmark process, which
// only waits, counts in the totals), and fails if the two paths' shares by country or network
// differ in a single message. SPAMGEO_PEERS_EVENTS sets the stream's length (default 300,000).
func BenchmarkEndToEnd(b *testing.B) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		b.Skip("runs the real servers; make bench sets SPAMGEO_INTEGRATION=1")
	}
	events := streamLength()
	country, asn := geoipFiles(b)
	ctx := context.Background()
	start := time.Now()
	loadDictionaries(b, country, asn)
	b.Logf("ip_trie dictionaries written and loaded in %s (once; not counted below)", time.Since(start).Round(time.Millisecond))

	kcfg := testenv.KafkaPartitions(b, 3)
	publishRaw(b, kcfg, country, events)
	bin := testenv.BuildSpamgeo(b)
	procs := []int{readPID(b, testenv.Local(b, "clickhouse", "clickhouse.pid")), readPID(b, testenv.Local(b, "kafka", "kafka.pid"))}

	var ours, theirs measure
	iteration := 0
	for b.Loop() {
		iteration++
		own := kcfg
		own.EnrichedTopic += fmt.Sprintf("-%d", iteration) // each run enriches into a topic of its own
		own.DLQTopic += fmt.Sprintf("-%d", iteration)
		if err := own.EnsureTopics(ctx); err != nil {
			b.Fatal(err)
		}
		chA, conA := testenv.MigratedClickHouse(b)
		var stages map[string]float64
		m := run(procs, func() { stages = runSpamgeoProcesses(b, bin, own, chA, conA, country, asn, events) })
		m.stages = stages
		ours.add(m)
		chN, conN := testenv.MigratedClickHouse(b)
		theirs.add(run(procs, func() { runNative(b, kcfg, conN, events) }))
		for _, q := range []string{
			"SELECT toString(count()) FROM events",
			"SELECT concat(country_code, ' ', continent_code, ' ', toString(count())) FROM events GROUP BY country_code, continent_code",
			"SELECT concat(toString(asn), ' ', as_org, ' ', toString(count())) FROM events GROUP BY asn, as_org",
			"SELECT concat(country_code, ' ', toString(countMerge(messages))) FROM rollup_country_day GROUP BY country_code",
			"SELECT concat(toString(asn), ' ', toString(countMerge(messages))) FROM rollup_asn_month GROUP BY asn",
		} {
			if onlyA, onlyN := difference(column(b, conA, q), column(b, conN, q)); len(onlyA)+len(onlyN) > 0 {
				b.Errorf("%s: the two paths disagree\nonly spamgeo: %.600q\nonly native:  %.600q", q, onlyA, onlyN)
			}
		}
		if b.Failed() {
			b.Logf("events placed differently (address, spamgeo, native):\n%s", strings.Join(column(b, conA, fmt.Sprintf(
				`SELECT concat(IPv6NumToString(source_ip), ' ', country_code, ' AS', toString(asn), ' | ', n_country, ' AS', toString(n_asn))
				 FROM %[1]s.events ANY INNER JOIN (SELECT event_id, country_code AS n_country, asn AS n_asn FROM %[2]s.events) USING event_id
				 WHERE country_code != n_country OR asn != n_asn LIMIT 10`, chA.Database, chN.Database)), "\n"))
		}
	}
	perSecond := func(m measure) float64 { return float64(events) * float64(m.runs) / m.wall.Seconds() }
	perMillion := func(m measure, cpu float64) float64 { return cpu / (float64(events) * float64(m.runs) / 1e6) }
	b.ReportMetric(perSecond(ours), "spamgeo-events/s")
	b.ReportMetric(perSecond(theirs), "native-events/s")
	b.ReportMetric(perSecond(ours)/perSecond(theirs), "speed-ratio")
	b.ReportMetric(perMillion(ours, ours.totalCPU()), "spamgeo-cpu-s/Mevents")
	b.ReportMetric(perMillion(theirs, theirs.totalCPU()), "native-cpu-s/Mevents")
	b.ReportMetric(perMillion(ours, ours.totalCPU())/perMillion(theirs, theirs.totalCPU()), "cpu-ratio")
	for _, stage := range []string{"enrich", "sink"} {
		b.ReportMetric(perMillion(ours, ours.stages[stage]), "spamgeo-"+stage+"-cpu-s/Mevents")
	}
	for _, m := range []struct {
		name string
		m    measure
	}{{"spamgeo", ours}, {"native", theirs}} {
		b.ReportMetric(perMillion(m.m, m.m.cpu[1]), m.name+"-clickhouse-cpu-s/Mevents")
		b.ReportMetric(perMillion(m.m, m.m.cpu[2]), m.name+"-broker-cpu-s/Mevents")
	}
}

// streamLength is the number of raw events of the benchmarks that drain a stream:
// SPAMGEO_PEERS_EVENTS, default 300,000.
func streamLength() int64 {
	if v, err := strconv.ParseInt(os.Getenv("SPAMGEO_PEERS_EVENTS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 300_000
}

// geoipFiles are the real GeoIP data of make demo: the DB-IP country file and the
// ip-location-db ASN ranges.
func geoipFiles(b *testing.B) (country string, asn []string) {
	country = testenv.Local(b, "geoip", "dbip-country.mmdb")
	asn = []string{testenv.Local(b, "geoip", "asn-ipv4.csv"), testenv.Local(b, "geoip", "asn-ipv6.csv")}
	for _, f := range append([]string{country}, asn...) {
		if _, err := os.Stat(f); err != nil {
			b.Fatalf("%v: make bench fetches the GeoIP data (deploy/geoip.sh fetch)", err)
		}
	}
	return country, asn
}

// publishRaw publishes n synthetic raw events (the 2005 country mix, IPv4 and IPv6 sources drawn
// from the country file) to kcfg's raw topic.
func publishRaw(b *testing.B, kcfg kafka.Configuration, country string, n int64) {
	scfg := synth.DefaultConfiguration()
	scfg.Profile, scfg.Events, scfg.Seed, scfg.CountryDatabase, scfg.IPv6 = "sophos-2005-apr-sep", n, 2005, country, true
	if _, err := synth.Run(context.Background(), scfg, synth.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(b)}); err != nil {
		b.Fatal(err)
	}
}

// measure adds up the runs of one path.
type measure struct {
	runs   int
	wall   time.Duration
	cpu    [3]float64         // seconds: this process, ClickHouse, the Kafka broker
	stages map[string]float64 // seconds of spamgeo's stages run as processes, by stage
}

func (m *measure) add(r measure) {
	m.runs, m.wall = m.runs+1, m.wall+r.wall
	for i := range m.cpu {
		m.cpu[i] += r.cpu[i]
	}
	for stage, s := range r.stages {
		if m.stages == nil {
			m.stages = map[string]float64{}
		}
		m.stages[stage] += s
	}
}

func (m measure) totalCPU() float64 {
	total := m.cpu[0] + m.cpu[1] + m.cpu[2]
	for _, s := range m.stages {
		total += s
	}
	return total
}

// run times f, in wall time and in the CPU time of this process and of the servers (procs:
// ClickHouse, Kafka).
func run(procs []int, f func()) measure {
	before, start := cpuSeconds(procs), time.Now()
	f()
	after := cpuSeconds(procs)
	m := measure{wall: time.Since(start)}
	for i := range m.cpu {
		m.cpu[i] = after[i] - before[i]
	}
	return m
}

// runSpamgeoProcesses runs `spamgeo enrich` and `spamgeo sink` (bin) side by side, as deployed,
// until ClickHouse (ch) holds every event, stops them as an orchestrator would (SIGTERM), and
// returns the CPU seconds each used.
func runSpamgeoProcesses(b *testing.B, bin string, kcfg kafka.Configuration, ch clickhousedb.Configuration, conn clickhousedb.Conn,
	country string, asn []string, events int64) map[string]float64 {
	group := "peers-" + testenv.Suffix()
	children := map[string]*child{
		"enrich": startProcess(b, bin, append([]string{"enrich", "--group", group, "--no-address-space",
			"--geoip-country", country, "--geoip-asn", strings.Join(asn, ",")}, testenv.KafkaFlags(kcfg)...)...),
		"sink": startProcess(b, bin, append(append([]string{"sink", "--group", group},
			testenv.KafkaFlags(kcfg)...), testenv.ClickHouseFlags(ch)...)...),
	}
	waitForEvents(b, conn, events)
	out := map[string]float64{}
	for stage, c := range children {
		c.stop(b)
		out[stage] = c.cpuSeconds()
	}
	return out
}

// startSpamgeo starts an enricher and a sink, with their default batching, until stop is called.
func startSpamgeo(b *testing.B, kcfg kafka.Configuration, conn clickhousedb.Conn, country string, asn []string) (stop func()) {
	group, logger := "peers-"+testenv.Suffix(), testenv.Logger(b)
	ecfg := enrich.DefaultConfiguration()
	ecfg.Group, ecfg.GeoIP = group, geoip.Configuration{CountryDatabase: country, ASNDatabases: asn}
	e, err := enrich.New(ecfg, enrich.Dependencies{Kafka: kcfg, Registry: prometheus.NewRegistry(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	scfg := sink.DefaultConfiguration()
	scfg.Group = group
	s, err := sink.New(scfg, sink.Dependencies{Kafka: kcfg, ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []lifecycle.Component{e, s} {
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
	}
	return func() {
		for _, c := range []lifecycle.Component{e, s} {
			if err := c.Stop(); err != nil && !errors.Is(err, context.Canceled) {
				b.Error(err)
			}
		}
	}
}

// waitForEvents returns once the events table holds n rows.
func waitForEvents(b *testing.B, conn clickhousedb.Conn, n int64) {
	testenv.Eventually(b, 5*time.Minute, 50*time.Millisecond, fmt.Sprintf("%d events stored", n), func() (bool, error) {
		var got uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM events").Scan(&got); err != nil {
			b.Fatal(err)
		}
		return int64(got) >= n, fmt.Errorf("%d stored", got)
	})
}

// nativeQueue reads the raw topic as ClickHouse 18.16's Kafka engine can: every field of a raw
// event as JSON carries it (synthetic events have no mail object).
const nativeQueue = `CREATE TABLE raw_queue (
    schema_version UInt8, event_id String, received_at String, trap_id String, collector String,
    source_ip String, helo String, mail_from String, rcpt_count UInt32, size UInt64
) ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
  kafka_format = 'JSONEachRow', kafka_num_consumers = 1`

// nativeView enriches with the ip_trie dictionaries and writes the events table. In ClickHouse
// 18.16 the output column source_ip shadows the input column of that name in every other
// expression, so the lookups work from the output (IPv6 bytes, IPv4 mapped). IPv4 and IPv6
// prefixes are kept in separate dictionaries: an 18.16 ip_trie holding both answers an IPv6
// address outside every IPv6 prefix with the IPv4 prefix covering its first 32 bits
// (2001:df6:100::/48 came back as AT&T's, from 32.0.0.0/8), and answers IPv4 prefixes only for
// UInt32 keys.
var nativeView = strings.NewReplacer("{v4}", "substring(source_ip, 1, 12) = unhex('00000000000000000000FFFF')",
	"{k4}", "tuple(reinterpretAsUInt32(reverse(substring(source_ip, 13, 4))))", "{k6}", "tuple(source_ip)").Replace(
	`CREATE MATERIALIZED VIEW raw_mv TO events AS
SELECT toUUID(event_id) AS event_id, parseDateTimeBestEffort(received_at) AS received_at, trap_id, collector,
    IPv6StringToNum(if(position(source_ip, ':') = 0, concat('::ffff:', source_ip), source_ip)) AS source_ip,
    helo, mail_from, toUInt16(least(rcpt_count, 65535)) AS rcpt_count, toUInt32(least(size, 4294967295)) AS size,
    if({v4}, dictGetString('spamgeo_country_v4', 'country_code', {k4}), dictGetString('spamgeo_country_v6', 'country_code', {k6})) AS country_code,
    if({v4}, dictGetString('spamgeo_country_v4', 'continent_code', {k4}), dictGetString('spamgeo_country_v6', 'continent_code', {k6})) AS continent_code,
    if({v4}, dictGetUInt32('spamgeo_asn_v4', 'asn', {k4}), dictGetUInt32('spamgeo_asn_v6', 'asn', {k6})) AS asn,
    if({v4}, dictGetString('spamgeo_asn_v4', 'as_org', {k4}), dictGetString('spamgeo_asn_v6', 'as_org', {k6})) AS as_org,
    'ip_trie' AS geoip_build,
    -- ClickHouse 18.16 fills no defaults through a materialized view: every column is named.
    now() AS inserted_at, '' AS kafka_topic, toUInt32(0) AS kafka_partition, toInt64(-1) AS kafka_offset,
    '' AS source_rule, '' AS subject, '' AS header_from, '' AS message_id, '' AS body_sha256,
    emptyArrayString() AS url_hosts, emptyArrayString() AS recipients, emptyArrayString() AS defects,
    emptyArrayString() AS url_domains, '' AS subject_template, toUInt64(0) AS body_simhash
FROM raw_queue`)

var createdName = regexp.MustCompile(`^CREATE (?:MATERIALIZED VIEW|TABLE) (\w+)`)

// nativeRollups fill the rollups straight from the queue, each as its view over events does
// (storage/migrations): ClickHouse 18.16 does not cascade a Kafka table's materialized views into
// the views of their target tables, so the native path needs one view per rollup.
func nativeRollups() []string {
	expr := strings.NewReplacer("{v4}", "position(source_ip, ':') = 0",
		"{k4}", "tuple(IPv4StringToNum(source_ip))", "{k6}", "tuple(IPv6StringToNum(source_ip))")
	country := expr.Replace(`if({v4}, dictGetString('spamgeo_country_v4', 'country_code', {k4}), dictGetString('spamgeo_country_v6', 'country_code', {k6}))`)
	continent := expr.Replace(`if({v4}, dictGetString('spamgeo_country_v4', 'continent_code', {k4}), dictGetString('spamgeo_country_v6', 'continent_code', {k6}))`)
	asn := expr.Replace(`if({v4}, dictGetUInt32('spamgeo_asn_v4', 'asn', {k4}), dictGetUInt32('spamgeo_asn_v6', 'asn', {k6}))`)
	org := expr.Replace(`if({v4}, dictGetString('spamgeo_asn_v4', 'as_org', {k4}), dictGetString('spamgeo_asn_v6', 'as_org', {k6}))`)
	ip := expr.Replace(`IPv6StringToNum(if({v4}, concat('::ffff:', source_ip), source_ip))`)
	at := `toDateTime(parseDateTimeBestEffort(received_at), 'UTC')`
	var out []string
	for _, r := range []struct{ table, t, uniq string }{
		{"country_minute", "toStartOfMinute(%s)", "uniq"}, {"country_hour", "toStartOfHour(%s)", "uniq"},
		{"country_day", "toStartOfDay(%s)", "uniq"}, {"country_month", "toDateTime(toStartOfMonth(%s), 'UTC')", "uniqHLL12"},
		{"asn_hour", "toStartOfHour(%s)", "uniq"}, {"asn_day", "toStartOfDay(%s)", "uniq"},
		{"asn_month", "toDateTime(toStartOfMonth(%s), 'UTC')", "uniqHLL12"},
	} {
		groups := fmt.Sprintf("%s AS country_code, %s AS continent_code", country, continent)
		keys := "country_code, continent_code"
		if strings.HasPrefix(r.table, "asn") {
			groups = fmt.Sprintf("%s AS asn, %s AS country_code, anyState(%s) AS as_org", asn, country, org)
			keys = "asn, country_code"
		}
		out = append(out, fmt.Sprintf(`CREATE MATERIALIZED VIEW raw_%[1]s_mv TO rollup_%[1]s AS
SELECT %[2]s AS t, trap_id, %[3]s,
    countState() AS messages, sumState(toUInt64(size)) AS bytes, %[4]sState(%[5]s) AS sources
FROM raw_queue GROUP BY t, trap_id, %[6]s`, r.table, fmt.Sprintf(r.t, at), groups, r.uniq, ip, keys))
	}
	return out
}

func runNative(b *testing.B, kcfg kafka.Configuration, conn clickhousedb.Conn, events int64) {
	ctx := context.Background()
	group := "peers-native-" + testenv.Suffix()
	stmts := append([]string{fmt.Sprintf(nativeQueue, strings.Join(kcfg.Brokers, ","), kcfg.RawTopic, group), nativeView}, nativeRollups()...)
	for _, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			b.Fatalf("%v\n%s", err, stmt)
		}
	}
	waitForEvents(b, conn, events)
	for _, stmt := range stmts { // stop consuming
		name := createdName.FindStringSubmatch(stmt)[1]
		if err := conn.Exec(ctx, "DROP TABLE "+name); err != nil {
			b.Fatal(err)
		}
	}
}

// loadDictionaries writes the ip_trie dictionaries of the GeoIP files where the local server
// reads dictionary definitions (deploy/clickhouse.sh: .local/clickhouse/dictionaries) and waits
// until ClickHouse answers from them.
func loadDictionaries(b *testing.B, country string, asn []string) {
	dir, err := filepath.Abs(testenv.Local(b, "clickhouse", "dictionaries"))
	if err != nil {
		b.Fatal(err)
	}
	nets, err := geoip.CountryNetworks(country, true)
	if err != nil {
		b.Fatal(err)
	}
	var country4, country6 strings.Builder
	for _, cc := range slices.Sorted(maps.Keys(nets)) {
		for _, p := range nets[cc] {
			fmt.Fprintf(family(p, &country4, &country6), "%s\t%s\t%s\n", p, cc, countries.Continent(cc))
		}
	}
	var asn4, asn6 strings.Builder
	for _, f := range asn {
		list, err := geoip.ASNNetworks(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range list {
			fmt.Fprintf(family(n.Prefix, &asn4, &asn6), "%s\t%d\t%s\n", n.Prefix, n.ASN, tsvEscape.Replace(n.Org))
		}
	}
	for name, rows := range map[string]*strings.Builder{"country_v4": &country4, "country_v6": &country6, "asn_v4": &asn4, "asn_v6": &asn6} {
		writeFile(b, filepath.Join(dir, "spamgeo_"+name+".tsv"), rows.String())
	}
	var defs strings.Builder
	for _, v := range []string{"v4", "v6"} {
		fmt.Fprintf(&defs, countryDictionary, dir, v)
		fmt.Fprintf(&defs, asnDictionary, dir, v)
	}
	writeFile(b, filepath.Join(dir, "spamgeo_peers_dictionary.xml"),
		"<?xml version=\"1.0\"?>\n<!-- Written by bench/peers/endtoend_test.go: the GeoIP data of make demo as ip_trie dictionaries. -->\n<yandex>\n"+defs.String()+"</yandex>\n")

	db := testenv.ClickHouse(b)
	conn, err := db.OpenServer(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	// The server rereads its dictionary definitions every few seconds; the first lookup loads
	// each dictionary.
	var cc string
	var as uint32
	testenv.Eventually(b, 3*time.Minute, time.Second, "the dictionaries to load", func() (bool, error) {
		err := conn.QueryRow(context.Background(), "SELECT dictGetString('spamgeo_country_v4', 'country_code', tuple(IPv4StringToNum('8.8.8.8'))), "+
			"dictGetUInt32('spamgeo_asn_v6', 'asn', tuple(IPv6StringToNum('2001:4860:4860::8888')))").Scan(&cc, &as)
		return err == nil, err
	})
	b.Logf("ip_trie answers 8.8.8.8: %s; 2001:4860:4860::8888: AS%d", cc, as)
}

var tsvEscape = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n")

const countryDictionary = `  <dictionary>
    <name>spamgeo_country_%[2]s</name>
    <source><file><path>%[1]s/spamgeo_country_%[2]s.tsv</path><format>TabSeparated</format></file></source>
    <lifetime>0</lifetime>
    <layout><ip_trie/></layout>
    <structure>
      <key><attribute><name>prefix</name><type>String</type></attribute></key>
      <attribute><name>country_code</name><type>String</type><null_value>ZZ</null_value></attribute>
      <attribute><name>continent_code</name><type>String</type><null_value></null_value></attribute>
    </structure>
  </dictionary>
`

const asnDictionary = `  <dictionary>
    <name>spamgeo_asn_%[2]s</name>
    <source><file><path>%[1]s/spamgeo_asn_%[2]s.tsv</path><format>TabSeparated</format></file></source>
    <lifetime>0</lifetime>
    <layout><ip_trie/></layout>
    <structure>
      <key><attribute><name>prefix</name><type>String</type></attribute></key>
      <attribute><name>asn</name><type>UInt32</type><null_value>0</null_value></attribute>
      <attribute><name>as_org</name><type>String</type><null_value></null_value></attribute>
    </structure>
  </dictionary>
`

// family returns v4 for an IPv4 prefix, else v6.
func family(p netip.Prefix, v4, v6 *strings.Builder) *strings.Builder {
	if p.Addr().Is4() {
		return v4
	}
	return v6
}

func writeFile(b *testing.B, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

func column(b *testing.B, conn clickhousedb.Conn, q string) []string {
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// difference returns what only a holds and what only b holds.
func difference(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

func readPID(b *testing.B, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("%v: are the servers running (make servers)?", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// cpuSeconds is the user and system CPU time so far of this process and of pids, in that order.
func cpuSeconds(pids []int) [3]float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out := [3]float64{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()}
	for i, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name: state is the first, utime the 12th, stime the 13th,
		// in clock ticks of 1/100 s (USER_HZ on Linux).
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		out[1+i] = (utime + stime) / 100
	}
	return out
}
