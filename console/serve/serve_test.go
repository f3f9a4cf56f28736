package serve_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/console/serve"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// jsonFields lists the JSON names of a struct's fields, embedded structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// The OpenAPI file says what the code does: the report endpoint's parameters are the ones it
// reads, and the Report and Line schemas list exactly the JSON fields it writes.
func TestOpenAPIMatchesTheCode(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name string } `yaml:"parameters"`
		} `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(serve.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var params []string
	for _, p := range doc.Paths["/api/v1/report"]["get"].Parameters {
		params = append(params, p.Name)
	}
	if !slices.Equal(params, serve.Params) {
		t.Errorf("OpenAPI parameters %v, the handler reads %v", params, serve.Params)
	}
	params = nil
	for _, p := range doc.Paths["/api/v1/live"]["get"].Parameters {
		params = append(params, p.Name)
	}
	if !slices.Equal(params, serve.LiveParams) {
		t.Errorf("OpenAPI live parameters %v, the handler reads %v", params, serve.LiveParams)
	}
	params = nil
	for _, p := range doc.Paths["/api/v1/normalised"]["get"].Parameters {
		params = append(params, p.Name)
	}
	if !slices.Equal(params, serve.NormalParams) {
		t.Errorf("OpenAPI normalised parameters %v, the handler reads %v", params, serve.NormalParams)
	}
	if _, ok := doc.Paths["/api/v1/extent"]; !ok {
		t.Error("OpenAPI lacks /api/v1/extent")
	}
	keys := func(name string) []string {
		var out []string
		for k := range doc.Components.Schemas[name].Properties {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	wantReport := append(jsonFields(reflect.TypeFor[report.Report]()), "series")
	slices.Sort(wantReport)
	if got := keys("Report"); !slices.Equal(got, wantReport) {
		t.Errorf("OpenAPI Report %v, the code writes %v", got, wantReport)
	}
	if got, want := keys("Line"), jsonFields(reflect.TypeFor[report.Line]()); !slices.Equal(got, want) {
		t.Errorf("OpenAPI Line %v, the code writes %v", got, want)
	}
}

// testData migrates a database of the test's own and stores eight events: May 2004 three from
// the US and one from China, May 2005 the other way round.
func testData(t *testing.T) driver.Conn {
	t.Helper()
	_, conn := testenv.MigratedClickHouse(t)
	for _, e := range []struct{ at, country string }{
		{"2004-05-02 10:00:00", "US"}, {"2004-05-03 10:00:00", "US"}, {"2004-05-04 10:00:00", "US"}, {"2004-05-05 10:00:00", "CN"},
		{"2005-05-02 10:00:00", "US"}, {"2005-05-03 10:00:00", "CN"}, {"2005-05-04 10:00:00", "CN"}, {"2005-05-05 10:00:00", "CN"},
	} {
		insertEvent(t, conn, e.at, e.country)
	}
	return conn
}

// insertEvent stores one message received at at (UTC) from country (US, CN, DE or FR).
func insertEvent(t *testing.T, conn driver.Conn, at, country string) {
	t.Helper()
	continent := map[string]string{"US": "NA", "CN": "AS", "DE": "EU", "FR": "EU"}[country]
	if err := conn.Exec(context.Background(), "INSERT INTO events (event_id, received_at, trap_id, country_code, continent_code, source_ip) SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', ?, ?, toFixedString('', 16)", at, country, continent); err != nil {
		t.Fatal(err)
	}
}

// The API on the real ClickHouse: a report with its comparison and series, caching headers, and
// clear 400s for bad parameters, 504 when the query runs out of time.
func TestReportAPIOnRealServer(t *testing.T) {
	conn := testData(t)
	get := func(s *serve.Server, url string) (*http.Response, map[string]any) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		var body map[string]any
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: %v\n%s", url, err, rec.Body)
			}
		}
		return rec.Result(), body
	}
	s := serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})

	res, body := get(s, "/api/v1/report?period=2005-05&compare=year&top=2")
	if res.StatusCode != 200 {
		t.Fatalf("report: %d %v", res.StatusCode, body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control of a past period: %q", cc)
	}
	rows := body["rows"].([]any)
	first := rows[0].(map[string]any)
	if first["code"] != "CN" || first["share_pct"] != 75.0 || first["compare_share_pct"] != 25.0 || first["change_pp"] != 50.0 {
		t.Errorf("first row: %v", first)
	}
	shares := body["series"].(map[string]any)["shares"].(map[string]any)
	if cn := shares["CN"].([]any); len(cn) != 31 || cn[0] != nil || cn[2] != 100.0 {
		t.Errorf("CN's daily series (a day without mail is null): %v", cn)
	}
	if first["movement"] != "up 1" || body["notes"] == nil || len(body["notes"].([]any)) != 0 {
		t.Errorf("a usable comparison: movement %v, notes %v", first["movement"], body["notes"])
	}

	// No comparison, or one whose period had no messages: no row has comparison fields, and an
	// empty comparison period is noted. A period without messages has rows [], not null.
	for url, notes := range map[string]int{"/api/v1/report?period=2005-05": 0, "/api/v1/report?period=2005-05&compare=previous": 1} {
		_, body := get(s, url)
		for _, row := range body["rows"].([]any) {
			for _, k := range []string{"compare_rank", "compare_share_pct", "change_pp", "rank_change", "movement"} {
				if v, ok := row.(map[string]any)[k]; ok {
					t.Errorf("%s: a row has %s: %v", url, k, v)
				}
			}
		}
		if n, ok := body["notes"].([]any); !ok || len(n) != notes {
			t.Errorf("%s: notes %v, want %d", url, body["notes"], notes)
		}
	}
	// Movers, asked for: four messages a period are too few to test.
	if _, body := get(s, "/api/v1/report?period=2005-05&compare=year&movers=true"); body["movers"] == nil ||
		body["movers"].(map[string]any)["too_few"] != 2.0 || len(body["movers"].(map[string]any)["risen"].([]any)) != 0 {
		t.Errorf("movers of four messages a period: %v", body["movers"])
	}
	// Normalisations: four messages a period are too few to rank per person, and said so; a
	// ranking that cannot be made is a 400 that says why.
	if res, body := get(s, "/api/v1/normalised?period=2005-05&per=internet-user"); res.StatusCode != 200 || body["rows"] == nil ||
		len(body["rows"].([]any)) != 0 || len(body["too_few_messages"].([]any)) != 2 || !strings.Contains(body["methodology"].(string), "Factbook") {
		t.Errorf("per internet-user: %d %v", res.StatusCode, body)
	}
	for url, want := range map[string]string{
		"/api/v1/normalised?period=2005-05&per=bogus":              "per \"bogus\"",
		"/api/v1/normalised?period=2005-05&per=capita&by=asn":      "ranks countries",
		"/api/v1/normalised?period=2005-05&per=address-space":      "spamgeo address-space",
		"/api/v1/normalised?period=2005-05&per=capita&top=0":       "top",
		"/api/v1/normalised?period=2005-05&per=capita&publisher=x": "unknown parameter",
	} {
		if res, body := get(s, url); res.StatusCode != 400 || !strings.Contains(fmt.Sprint(body["error"]), want) {
			t.Errorf("%s: %d %v, want 400 saying %q", url, res.StatusCode, body, want)
		}
	}
	if _, body := get(s, "/api/v1/report?period=2005-05&movers=1"); body["movers"] != nil {
		t.Errorf("movers without a comparison: %v", body["movers"])
	}
	if _, body := get(s, "/api/v1/report?period=2003"); body["rows"] == nil || len(body["rows"].([]any)) != 0 {
		t.Errorf("an empty period's rows: %v", body["rows"])
	}

	for url, want := range map[string]string{
		"/api/v1/report":                                           "give the period",
		"/api/v1/report?period=2005-13":                            "2005-13",
		"/api/v1/report?period=2005&by=planet":                     "by \"planet\"",
		"/api/v1/report?period=2005&top=0":                         "top",
		"/api/v1/report?period=2005&drop=table":                    "unknown parameter",
		"/api/v1/report?period=2005&publisher=/etc/passwd":         "publisher",
		"/api/v1/report?from=2005-05-10&to=2005-05-01":             "",
		"/api/v1/report?period=2005&last=30d":                      "one way",
		"/api/v1/report?period=2005&from=2005-05-01&to=2005-05-10": "one way",
		"/api/v1/report?from=2005-05-01":                           "go together",
		"/api/v1/report?from=May&to=2005-05-10":                    "YYYY-MM-DD",
	} {
		res, body := get(s, url)
		if res.StatusCode != 400 || !strings.Contains(body["error"].(string), want) {
			t.Errorf("%s: %d %v; want 400 mentioning %q", url, res.StatusCode, body, want)
		}
	}

	slow := serve.DefaultConfiguration()
	slow.QueryTimeout = time.Nanosecond
	s2 := serve.New(slow, serve.Dependencies{ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	if res, body := get(s2, "/api/v1/report?period=2005"); res.StatusCode != 504 {
		t.Errorf("a query out of time: %d %v; want 504", res.StatusCode, body)
	}
	if res, _ := get(s, "/api/openapi.yaml"); res.StatusCode != 200 {
		t.Errorf("openapi.yaml: %d", res.StatusCode)
	}
}

// The dashboard's other answers on the real ClickHouse: the days that have messages (so that it
// opens on data), the last 24 hours by hour, and the table and charts as downloads.
func TestExtentLiveAndDownloads(t *testing.T) {
	get := func(s *serve.Server, url string, into any) *http.Response {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if into != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
				t.Fatalf("%s: %v\n%s", url, err, rec.Body)
			}
		}
		return rec.Result()
	}
	newServer := func(conn driver.Conn) *serve.Server {
		return serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	}
	_, emptyConn := testenv.MigratedClickHouse(t)
	empty := newServer(emptyConn)
	var extent map[string]any
	if res := get(empty, "/api/v1/extent", &extent); res.StatusCode != 200 || !reflect.DeepEqual(extent, map[string]any{"empty": true}) {
		t.Errorf("extent of an empty database: %d %v", res.StatusCode, extent)
	}
	conn := testData(t)
	s := newServer(conn)
	extent = nil
	get(s, "/api/v1/extent", &extent)
	if want := map[string]any{"empty": false, "first_day": "2004-05-02", "last_day": "2005-05-05", "latest_month": "2005-05"}; !reflect.DeepEqual(extent, want) {
		t.Errorf("extent: %v, want %v", extent, want)
	}

	// Two messages from Germany in the current hour, one from France three hours ago, and one
	// from France two days ago, outside the window.
	now := time.Now().UTC()
	for _, e := range []struct {
		ago     time.Duration
		country string
	}{{0, "DE"}, {0, "DE"}, {3 * time.Hour, "FR"}, {49 * time.Hour, "FR"}} {
		insertEvent(t, conn, now.Add(-e.ago).Format(time.DateTime), e.country)
	}
	var live struct {
		Hours     []time.Time `json:"hours"`
		Messages  []uint64    `json:"messages"`
		Total     uint64      `json:"messages_total"`
		Countries []struct {
			Code, Name string
			Messages   uint64
			Share      float64  `json:"share_pct"`
			PerHour    []uint64 `json:"per_hour"`
		}
	}
	if res := get(s, "/api/v1/live", &live); res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("live: %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	if len(live.Hours) != 24 || len(live.Messages) != 24 || live.Total != 3 || live.Hours[23].Before(now.Truncate(time.Hour)) {
		t.Fatalf("live: %d hours (last %s), %d messages in all", len(live.Hours), live.Hours[len(live.Hours)-1], live.Total)
	}
	if live.Messages[23] < 2 || len(live.Countries) != 2 || live.Countries[0].Name != "Germany" || live.Countries[0].Messages != 2 ||
		math.Abs(live.Countries[0].Share-66.67) > 0.01 || live.Countries[1].Code != "FR" || len(live.Countries[1].PerHour) != 24 {
		t.Errorf("live: messages per hour %v, countries %+v", live.Messages, live.Countries)
	}
	for _, url := range []string{"/api/v1/live?hours=0", "/api/v1/live?hours=200", "/api/v1/live?top=x", "/api/v1/live?period=2005", "/api/v1/extent?x=1"} {
		if res := get(s, url, nil); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", url, res.StatusCode)
		}
	}

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/report?period=2005-05&compare=year&format=csv", nil))
	records, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || rec.Code != 200 || len(records) < 3 || records[1][4] != "China" {
		t.Errorf("CSV download: %d %v %v", rec.Code, err, records)
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="spamgeo-country-2005-05-01..2005-05-31.csv"` {
		t.Errorf("CSV Content-Disposition %q", cd)
	}
	for _, chart := range []string{"bars", "time"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/report?period=2005-05&format=png&chart="+chart, nil))
		if img, err := png.Decode(rec.Body); rec.Code != 200 || err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("%s chart PNG: %d %v", chart, rec.Code, err)
		}
	}
	for _, url := range []string{"/api/v1/report?period=2005&format=xls", "/api/v1/report?period=2005&chart=time", "/api/v1/report?period=2005&format=png&chart=pie"} {
		if res := get(s, url, nil); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", url, res.StatusCode)
		}
	}
}

// answer is the server's response to a GET of url, with its JSON body when it has one.
func answer(t *testing.T, s *serve.Server, url string) (*http.Response, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v\n%s", url, err, rec.Body)
		}
	}
	return rec.Result(), body
}

// Issue 18, finding 10: a period or comparison ClickHouse's DateTime cannot hold was a 500 (a
// DateTime parse error) or, ending in 2105, silently empty; it is a 400 that names the bounds.
func TestPeriodsOutsideClickHouseDateTime(t *testing.T) {
	s := serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: testData(t), Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	for _, url := range []string{
		"/api/v1/report?period=9999", "/api/v1/report?last=99999y", "/api/v1/report?from=2005-01-01&to=9999-12-31",
		"/api/v1/report?period=2005&compare=9999", "/api/v1/report?period=1970&compare=previous",
		"/api/v1/report?period=1970-06&compare=year", "/api/v1/report?period=2105", "/api/v1/report?period=0000",
		"/api/v1/report?last=99999999999999999999d",
	} {
		res, body := answer(t, s, url)
		if msg, _ := body["error"].(string); res.StatusCode != 400 || !strings.Contains(msg, "1970-01-01 to 2104-12-31") && !strings.Contains(msg, "reaches before 1970-01-01") {
			t.Errorf("%s: %d %q; want 400 naming the days spamgeo can count", url, res.StatusCode, msg)
		}
	}
	for _, url := range []string{"/api/v1/report?period=1970&compare=none", "/api/v1/report?period=2104&compare=previous", "/api/v1/report?period=1971&compare=year"} {
		if res, body := answer(t, s, url); res.StatusCode != 200 {
			t.Errorf("%s: %d %v; want 200", url, res.StatusCode, body["error"])
		}
	}
}

// Issue 18, finding 19: series takes true, false, 1 or 0 (any case) and nothing else, and a
// parameter given twice is refused rather than read once, on every endpoint.
func TestStrictParameters(t *testing.T) {
	s := serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: testData(t), Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	for value, series := range map[string]bool{"": true, "true": true, "TRUE": true, "1": true, "false": false, "FALSE": false, "False": false, "0": false} {
		url := "/api/v1/report?period=2005-05&series=" + value
		res, body := answer(t, s, url)
		if _, has := body["series"]; res.StatusCode != 200 || has != series {
			t.Errorf("%s: %d, series in the answer %v; want 200, %v", url, res.StatusCode, has, series)
		}
	}
	for url, want := range map[string]string{
		"/api/v1/report?period=2005-05&series=banana":             `series "banana"`,
		"/api/v1/report?period=2005-05&series=no":                 `series "no"`,
		"/api/v1/report?period=2005-05&series=false&series=true":  `"series" is given 2 times`,
		"/api/v1/report?period=2005-05&period=2004-05":            `"period" is given 2 times`,
		"/api/v1/report?period=2005-05&top=2&top=3":               `"top" is given 2 times`,
		"/api/v1/report?period=2005-05&format=csv&format=png":     `"format" is given 2 times`,
		"/api/v1/report?period=2005-05&compare=year&compare=none": `"compare" is given 2 times`,
		"/api/v1/live?hours=2&hours=3":                            `"hours" is given 2 times`,
		"/api/v1/live?top=2&top=2":                                `"top" is given 2 times`,
		"/api/v1/extent?x=1&x=1":                                  "no parameters",
	} {
		res, body := answer(t, s, url)
		if msg, _ := body["error"].(string); res.StatusCode != 400 || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q; want 400 mentioning %s", url, res.StatusCode, msg, want)
		}
	}
}

// Issue 18, finding 14: every answer, of the API and of the dashboard, errors included, tells
// browsers not to sniff types, not to be framed, and to run only the server's own scripts and
// styles.
func TestSecurityHeaders(t *testing.T) {
	s := serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: testData(t), Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	for _, url := range []string{"/", "/index.html", "/app.js", "/dashboard.css", "/world.svg", "/api/openapi.yaml", "/api/v1/report?period=2005-05",
		"/api/v1/report?period=2005-05&format=csv", "/api/v1/report?period=2005-13", "/api/v1/extent", "/api/v1/live", "/nothing-here"} {
		res, _ := answer(t, s, url)
		h := res.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s (%d): X-Content-Type-Options %q, X-Frame-Options %q", url, res.StatusCode, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"))
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s (%d): Content-Security-Policy %q lacks %s", url, res.StatusCode, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q allows unsafe sources", url, csp)
		}
	}
}
