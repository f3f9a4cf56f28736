package main

import (
	"bytes"
	"encoding/json"
	"html"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/synth"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// The history profile through the real pipeline: a report for each published Sophos period,
// with Sophos's grouping, reproduces that table (shares, ranks and ties, rest of the world),
// and periods cross rollup boundaries (a two-day table inside a year read from month rollups).
func TestHistoryReportsOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	spamgeo(t, env, "migrate")
	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-history", "--events", "120000", "--seed", "11"}, geo...)...)
	spamgeo(t, env, append([]string{"enrich", "--drain", "--metrics-listen", "", "--group", "h-" + testenv.Suffix()}, geo...)...)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", "h-"+testenv.Suffix())

	p, err := synth.LoadProfile("sophos-history")
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range p.Periods {
		period := tb.From.Format("2006-01-02") + ".." + tb.To.Format("2006-01-02")
		var rep report.Report
		out := spamgeo(t, env, "report", "--period", period, "--publisher", "sophos", "--format", "json")
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		byCode := map[string]report.Line{}
		for _, l := range rep.Rows {
			byCode[l.Code] = l
		}
		listed := 0.0
		for i, s := range tb.Shares {
			got := byCode[s.Country]
			if math.Abs(got.Share-s.Percent) > 1e-9 {
				t.Errorf("%s: %s %.4f%%, published %.2f%%", period, s.Country, got.Share, s.Percent)
			}
			if i < 12 {
				listed += s.Percent
			}
		}
		if len(tb.Shares) == 12 && math.Abs(byCode[""].Share-(100-listed)) > 1e-6 {
			t.Errorf("%s: rest of the world %.4f%%, published %.2f%%", period, byCode[""].Share, 100-listed)
		}
		if rep.Messages%10_000 != 0 {
			t.Errorf("%s: %d messages", period, rep.Messages)
		}
	}
	// Q4 2005 published Poland and Japan tied at 2.0% for tenth place.
	out := spamgeo(t, env, "report", "--period", "2005Q4", "--publisher", "sophos")
	if !strings.Contains(out, "Japan and Poland tied for tenth place with 2.0% each.") {
		t.Errorf("Q4 2005 report does not report the tie:\n%s", out)
	}
	// The year 2004 from month rollups, against the same year from day rollups (a day-range
	// period), and the sample of the trajectory: 56.74% -> 19.8% -> 28.4%.
	yearMonths := reportJSON(t, env, "--period", "2004")
	yearDays := reportJSON(t, env, "--period", "2004-01-01..2004-12-30")
	if us := yearMonths.Rows[0]; us.Code != "US" || math.Abs(us.Share-42.11) > 1e-9 {
		t.Errorf("2004 from month rollups: %+v", us)
	}
	if yearDays.Messages >= yearMonths.Messages || yearDays.Messages == 0 {
		t.Errorf("2004 less a day holds %d messages, the year %d", yearDays.Messages, yearMonths.Messages)
	}
	for period, want := range map[string]float64{"2004-02-16..2004-02-17": 56.74, "2007Q1": 19.8, "2007Q3": 28.4} {
		if us := reportJSON(t, env, "--period", period).Rows[0]; us.Code != "US" || math.Abs(us.Share-want) > 1e-9 {
			t.Errorf("%s: %+v, want the United States at %.2f%%", period, us, want)
		}
	}

	// The charts of the pipeline's data, kept in .local/artifacts to be looked at: the source
	// line and the methodology line, its traps and GeoIP builds read from the events (the test
	// files are MaxMind-layout builds of 2026-01-02), and the size asked for.
	art := testenv.Local(t, "artifacts")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	bars := []string{"report", "--period", "2005Q4", "--compare", "year", "--publisher", "sophos", "--source", "Source: ExampleLab spam traps"}
	spamgeo(t, env, append(bars, "--format", "svg", "--width", "16cm", "--height", "10cm", "-o", filepath.Join(art, "report-bars.svg"))...)
	svg := string(mustRead(t, filepath.Join(art, "report-bars.svg")))
	var texts []string
	for _, m := range regexp.MustCompile(`<text [^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1) {
		texts = append(texts, html.UnescapeString(m[1]))
	}
	footer := regexp.MustCompile(`Source: ExampleLab spam traps Q4 2005: [0-9,]+ messages caught by [0-9]+ spam traps? ` +
		`\(Q4 2004: [0-9,]+ messages caught by [0-9]+ spam traps?\); shares are of these messages, not of all spam\. ` +
		`GeoIP: MaxMind GeoIP2 Country 2026-01-02, MaxMind GeoLite2 ASN 2026-01-02 \(GeoLite2 EULA\)\.`)
	if all := strings.Join(texts, " "); !footer.MatchString(all) || !strings.Contains(all, "Q4 2005, compared with Q4 2004") {
		t.Errorf("bar chart texts lack the period line, source or methodology:\n%s", all)
	}
	if !strings.Contains(svg, `<svg width="453.54pt" height="283.46pt"`) {
		t.Errorf("bar chart SVG is not 16 x 10 cm: %.200s", svg)
	}
	spamgeo(t, env, append(bars, "--format", "png", "-o", filepath.Join(art, "report-bars.png"))...)
	spamgeo(t, env, "report", "--period", "2004-01-01..2007-12-31", "--publisher", "sophos", "--chart", "time", "--format", "svg",
		"--source", "Source: ExampleLab spam traps", "-o", filepath.Join(art, "report-time.svg"))
	spamgeo(t, env, "report", "--period", "2004-01-01..2007-12-31", "--publisher", "sophos", "--chart", "time", "--format", "png",
		"--source", "Source: ExampleLab spam traps", "--width", "1200px", "--height", "700px", "--dpi", "200", "-o", filepath.Join(art, "report-time.png"))
	img, err := png.Decode(bytes.NewReader(mustRead(t, filepath.Join(art, "report-time.png"))))
	if err != nil || img.Bounds().Dx() != 1200 || img.Bounds().Dy() != 700 {
		t.Errorf("time chart of 1200 x 700 px: %v, %v", img.Bounds(), err)
	}
}

func reportJSON(t *testing.T, env pipelineEnv, args ...string) report.Report {
	t.Helper()
	var rep report.Report
	out := spamgeo(t, env, append(append([]string{"report"}, args...), "--format", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// Edge cases of spamgeo report on the real server: an empty period says so; a period with only
// unknown and reserved sources shows them as rows; reversed and malformed periods are refused.
func TestReportEdgeCasesOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	spamgeo(t, env, "migrate")
	insertEvents(t, env.clickhouse, []struct{ at, country string }{
		{"2006-03-01 10:00:00", "ZZ"}, {"2006-03-01 11:00:00", "ZZ"}, {"2006-03-02 00:00:00", "XR"},
	})
	if out := spamgeo(t, env, "report", "--period", "2005-01"); !strings.Contains(out, "Our traps caught no spam in January 2005.") {
		t.Errorf("empty period:\n%s", out)
	}
	out := spamgeo(t, env, "report", "--period", "2006-03")
	for _, want := range []string{"Unknown", "ZZ", "66.67%", "Reserved address", "XR", "33.33%"} {
		if !strings.Contains(out, want) {
			t.Errorf("unknown-only period lacks %q:\n%s", want, out)
		}
	}
	// February 2006 is empty: the comparison shows no Before or Change, and says why.
	out = spamgeo(t, env, "report", "--period", "2006-03", "--compare", "previous")
	if strings.Contains(out, "Before") || strings.Contains(out, "new") || !strings.Contains(out, "Note: Our traps caught no spam in February 2006, the comparison period: no changes are shown.") {
		t.Errorf("a comparison with an empty period:\n%s", out)
	}
	for _, args := range [][]string{{"--period", "2006-03"}, {"--period", "2006-03", "--compare", "previous"}} {
		out := spamgeo(t, env, append(append([]string{"report"}, args...), "--format", "json")...)
		if strings.Contains(out, "compare_share_pct") || strings.Contains(out, "change_pp") || strings.Contains(out, "rank_change") {
			t.Errorf("report %v without a usable comparison has comparison fields:\n%s", args, out)
		}
	}
	for _, bad := range [][]string{
		{"--period", "2006-03-31..2006-03-01"}, {"--period", "2006Q5"}, {"--last", "0d"},
		{"--period", "2006", "--last", "30d"}, {"--from", "2006-01-01"}, {"--period", "2006", "--by", "trap", "--publisher", "sophos"},
		{"--period", "2006", "--top", "0"},
	} {
		if err := runErr(env, append([]string{"report"}, bad...)...); err == nil {
			t.Errorf("spamgeo report %v was accepted", bad)
		}
	}
}

func insertEvents(t *testing.T, cfg clickhousedb.Configuration, events []struct{ at, country string }) {
	t.Helper()
	conn, err := cfg.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, e := range events {
		if err := conn.Exec(t.Context(), "INSERT INTO events (event_id, received_at, trap_id, country_code, source_ip) SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', ?, toFixedString('', 16)", e.at, e.country); err != nil {
			t.Fatal(err)
		}
	}
}
