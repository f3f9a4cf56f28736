package serve_test

import (
	"context"
	"encoding/json"
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

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/report"
	"github.com/spamgeo/spamgeo/schemas/migrations"
	"github.com/spamgeo/spamgeo/serve"
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
	cfg := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := migrations.New(cfg, testenv.Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, e := range []struct{ at, country string }{
		{"2004-05-02 10:00:00", "US"}, {"2004-05-03 10:00:00", "US"}, {"2004-05-04 10:00:00", "US"}, {"2004-05-05 10:00:00", "CN"},
		{"2005-05-02 10:00:00", "US"}, {"2005-05-03 10:00:00", "CN"}, {"2005-05-04 10:00:00", "CN"}, {"2005-05-05 10:00:00", "CN"},
	} {
		if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, source_ip) SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', ?, toFixedString('', 16)", e.at, e.country); err != nil {
			t.Fatal(err)
		}
	}
	return conn
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
	if _, body := get(s, "/api/v1/report?period=2003"); body["rows"] == nil || len(body["rows"].([]any)) != 0 {
		t.Errorf("an empty period's rows: %v", body["rows"])
	}

	for url, want := range map[string]string{
		"/api/v1/report":                                   "give the period",
		"/api/v1/report?period=2005-13":                    "2005-13",
		"/api/v1/report?period=2005&by=planet":             "by \"planet\"",
		"/api/v1/report?period=2005&top=0":                 "top",
		"/api/v1/report?period=2005&drop=table":            "unknown parameter",
		"/api/v1/report?period=2005&publisher=/etc/passwd": "publisher",
		"/api/v1/report?from=2005-05-10&to=2005-05-01":     "",
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
