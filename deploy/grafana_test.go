package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/addressspace"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// grafanaRange is the dashboard time range the panel SQL is expanded for.
var grafanaRange = [2]time.Time{time.Date(2005, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2005, 11, 1, 0, 0, 0, 0, time.UTC)}

// expandGrafana expands the macros and variables of a panel's SQL as grafana-clickhouse-datasource
// does (the same rules as tests/modern's expand_grafana).
func expandGrafana(sql string, traps []string, grouping string) string {
	from, to := grafanaRange[0].Unix(), grafanaRange[1].Unix()
	sql = regexp.MustCompile(`\$__timeFilter\((\w+)\)`).ReplaceAllString(sql, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", from, to))
	sql = regexp.MustCompile(`\$__timeInterval\((\w+)\)`).ReplaceAllString(sql, "toStartOfInterval(toDateTime($1), INTERVAL 3600 second)")
	sql = strings.NewReplacer("$__fromTime", fmt.Sprintf("toDateTime(%d)", from), "$__toTime", fmt.Sprintf("toDateTime(%d)", to),
		"${trap:singlequote}", "'"+strings.Join(traps, "', '")+"'", "${grouping}", grouping).Replace(sql)
	return sql
}

// Every ClickHouse panel of the Grafana dashboards whose macros 18.16 can run runs on the real
// server too, for both groupings, and answers rows; tests/modern runs them all and checks columns.
func TestGrafanaPanelsOnRealServer(t *testing.T) {
	ctx := context.Background()
	_, conn := testenv.MigratedClickHouse(t)
	for i, c := range []string{"US", "US", "CN", "KR"} {
		if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, continent_code, asn, as_org, source_ip) SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', ?, 'NA', 64500, 'Example', toFixedString('', 16)",
			fmt.Sprintf("2005-0%d-02 10:00:00", 4+i), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Exec(ctx, "INSERT INTO campaign_days (generation, campaign_id, day, messages, sources, country_codes, asns) SELECT now(), 'b82465470e9b', toDate('2005-04-02'), 3, 2, ['US', 'CN'], [64500]"); err != nil {
		t.Fatal(err)
	}
	// The normalised panels rank countries with 30 messages from 30 sources, a dataset figure and
	// a /16 of address space.
	if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, continent_code, asn, as_org, source_ip, geoip_build) SELECT generateUUIDv4(), toDateTime('2005-06-01 10:00:00', 'UTC'), 't', 'DE', 'EU', 64501, 'Example', IPv6StringToNum(concat('::ffff:30.0.0.', toString(number))), 'b; a' FROM system.numbers LIMIT 40"); err != nil {
		t.Fatal(err)
	}
	if err := addressspace.Store(ctx, conn, []geoip.BuildSpace{{Build: "b", Kind: "country", Spaces: map[string]geoip.Space{"DE": {IPv4: 1 << 16}}}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.LoadPopulation(ctx, conn, countries.BuiltinPopulation(), countries.PopulationSource, time.Now()); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for f, dash := range grafanaDashboards(t) {
		for _, p := range dash.Panels {
			for _, target := range p.Targets {
				if target.Datasource.Type != "grafana-clickhouse-datasource" {
					continue
				}
				if strings.Contains(target.RawSQL, "$__timeInterval") {
					// The plugin expands it to toStartOfInterval, which 18.16 lacks (see DESIGN.md).
					t.Errorf("%s: uses $__timeInterval: bucket with toStartOfHour/Day/Month chosen from the range", p.Title)
					continue
				}
				for _, grouping := range []string{"country_code", "continent_code"} {
					rows, err := conn.Query(ctx, expandGrafana(target.RawSQL, []string{"t"}, grouping))
					if err != nil {
						t.Errorf("%s / %s (%s): %v", f, p.Title, grouping, err)
						continue
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if n == 0 {
						t.Errorf("%s / %s (%s): no rows", f, p.Title, grouping)
					}
					ran++
				}
			}
		}
	}
	if ran < 6 {
		t.Errorf("ran %d panel queries", ran)
	}
}

// grafanaDashboard is what the tests read of a dashboard file: panels, their queries and how the
// time-series panels stack.
type grafanaDashboard struct {
	Panels []grafanaPanel
}

type grafanaPanel struct {
	ID          int
	Title       string
	FieldConfig struct {
		Defaults struct {
			Unit   string
			Custom struct {
				Stacking struct{ Mode string }
			}
		}
	}
	Targets []struct {
		Datasource struct{ Type string }
		RawSQL     string `json:"rawSql"`
	}
}

func grafanaDashboards(t *testing.T) map[string]grafanaDashboard {
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	out := map[string]grafanaDashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash grafanaDashboard
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = dash
	}
	if len(out) == 0 {
		t.Fatal("no dashboards")
	}
	return out
}

func grafanaPanelByID(t *testing.T, id int) grafanaPanel {
	for _, p := range grafanaDashboards(t)["grafana/dashboards/spamgeo.json"].Panels {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no panel %d", id)
	return grafanaPanel{}
}

// The numbers a reader sees, not only that rows come back: the share-over-time panel shows each
// country's share of ALL messages of its bucket (26.5% for a country with 265 of 1,000, although the
// top 8 hold only 790 of them), its "Others" series completes each bucket to 100%, and the table of
// this period against the one before leaves the earlier share empty when that period had no
// messages instead of showing 0 and a change equal to the whole share. Percent stacking of the top 8
// (the dashboard before) showed 33.5% for that country.
func TestGrafanaPanelsShowSharesOfAllSpamOnRealServer(t *testing.T) {
	ctx := context.Background()
	_, conn := testenv.MigratedClickHouse(t)
	april := map[string]int{"US": 265, "CN": 223, "KR": 97, "FR": 60, "ES": 50, "PL": 40, "BR": 30, "DE": 25}
	for _, c := range []string{"AT", "BE", "CH", "CZ", "DK", "FI", "GR", "HU", "IE", "NO"} {
		april[c] = 21 // ten countries outside the top 8: 210 messages, 21% of April
	}
	may := map[string]int{"US": 100, "CN": 100}
	for month, counts := range map[string]map[string]int{"2005-04-02 10:00:00": april, "2005-05-02 10:00:00": may} {
		for c, n := range counts {
			if err := conn.Exec(ctx, "INSERT INTO events (event_id, received_at, trap_id, country_code, continent_code, asn, as_org, source_ip) SELECT generateUUIDv4(), toDateTime(?, 'UTC'), 't', ?, 'EU', 64500, 'Example', toFixedString('', 16) FROM numbers(?)",
				month, c, n); err != nil {
				t.Fatal(err)
			}
		}
	}

	panel := grafanaPanelByID(t, 1)
	rows, err := conn.Query(ctx, expandGrafana(panel.Targets[0].RawSQL, []string{"t"}, "country_code"))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]map[string]float64{} // month -> series -> value as drawn
	for rows.Next() {
		var at time.Time
		var key string
		var value float64
		if err := rows.Scan(&at, &key, &value); err != nil {
			t.Fatal(err)
		}
		m := at.UTC().Format("2006-01")
		if shown[m] == nil {
			shown[m] = map[string]float64{}
		}
		shown[m][key] = value
	}
	rows.Close()
	if panel.FieldConfig.Defaults.Custom.Stacking.Mode == "percent" { // Grafana rescales each bucket to 100%
		for _, series := range shown {
			sum := 0.0
			for _, v := range series {
				sum += v
			}
			for k, v := range series {
				series[k] = 100 * v / sum
			}
		}
	}
	near := func(got, want float64) bool { return got > want-0.001 && got < want+0.001 }
	for _, c := range []struct {
		month, key string
		want       float64
	}{{"2005-04", "US", 26.5}, {"2005-04", "CN", 22.3}, {"2005-04", "Others", 21}, {"2005-05", "US", 50}, {"2005-05", "CN", 50}} {
		if got := shown[c.month][c.key]; !near(got, c.want) {
			t.Errorf("%s: %s %s shows %.2f%%, want %.2f%% of all messages", panel.Title, c.month, c.key, got, c.want)
		}
	}
	for m, series := range shown {
		sum := 0.0
		for _, v := range series {
			sum += v
		}
		if !near(sum, 100) {
			t.Errorf("%s: %s stacks to %.2f%%", panel.Title, m, sum)
		}
	}
	if panel.FieldConfig.Defaults.Unit != "percent" {
		t.Errorf("%s: unit %q", panel.Title, panel.FieldConfig.Defaults.Unit)
	}

	// The dashboard range is March to October 2005; the eight months before it have no messages.
	compare := grafanaPanelByID(t, 4)
	rows, err = conn.Query(ctx, expandGrafana(compare.Targets[0].RawSQL, []string{"t"}, "country_code"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var code string
		var now, before, change *float64
		if err := rows.Scan(&code, &now, &before, &change); err != nil {
			t.Fatal(err)
		}
		if code == "US" && (now == nil || !near(*now, 30.42)) { // 365 of 1,200
			t.Errorf("%s: US now %v, want 30.42", compare.Title, now)
		}
		if before != nil || change != nil {
			t.Errorf("%s: %s has a before share or change although nothing came before: want both empty", compare.Title, code)
		}
		n++
	}
	rows.Close()
	if n == 0 {
		t.Errorf("%s: no rows", compare.Title)
	}
}
