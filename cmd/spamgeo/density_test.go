package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// report --per capita, internet-user and address-space on the real servers. Per person and per
// Internet user: each figure equals the messages the test counts in events over the dataset's
// figure, read from internal/countries/population.csv by the test itself; a dataset of one's own
// (--population) leaves the countries it lacks listed as without data. Per address space, after synthetic traffic through the test
// world, whose every country and network owns an IPv4 /16 (65,536 addresses): each ranked
// figure equals the unique IPv4 sources the test counts in events itself over 65,536, the
// multiples are of the United States, and countries with too few sources are listed, not ranked.
// Before the space was stored (the enricher told not to), the report says how to store it; an
// enricher then stores it when it starts, even one with nothing left to enrich.
func TestReportNormalisationsOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	spamgeo(t, env, "migrate")
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	spamgeo(t, env, append([]string{"synth", "--profile", "sophos-2005-apr-sep", "--events", "6000", "--seed", "3"}, geo...)...)
	enrich := append([]string{"enrich", "--drain", "--metrics-listen", "", "--group", "enrich-" + testenv.Suffix()}, geo...)
	spamgeo(t, env, append(enrich, "--no-address-space")...)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", "sink-"+testenv.Suffix())
	per := []string{"report", "--period", "2005-04-01..2005-09-30", "--per", "address-space", "--format", "json"}
	if _, err := runWith(env, per...); err == nil || !strings.Contains(err.Error(), "spamgeo address-space") {
		t.Errorf("--per address-space before the space was stored: %v", err)
	}
	spamgeo(t, env, enrich...)
	if _, err := runWith(env, per...); err != nil {
		t.Errorf("--per address-space after an enricher started: %v", err)
	}
	if out := spamgeo(t, env, append([]string{"address-space"}, geo...)...); !strings.Contains(out, ": 54 countries, 3538944 IPv4 addresses") || !strings.Contains(out, ": 54 networks, ") {
		t.Errorf("spamgeo address-space prints:\n%s", out)
	}

	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sources := testenv.Counts(t, conn, "SELECT country_code, uniqExact(source_ip) FROM events WHERE substring(source_ip, 1, 12) = unhex('00000000000000000000FFFF') GROUP BY country_code")

	for _, by := range []string{"country", "asn"} {
		var d report.Density
		if err := json.Unmarshal([]byte(spamgeo(t, env, append(per, "--by", by, "--reference", map[string]string{"country": "us", "asn": "as64000"}[by], "--top", "100")...)), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Rows) < 5 || d.Reference == "" || len(d.Sentences) != 4 {
			t.Fatalf("--by %s: %d rows, too few %v, reference %q, sentences %q", by, len(d.Rows), d.TooFew, d.Reference, d.Sentences)
		}
		if by == "country" {
			placed := 0
			for cc := range sources {
				if cc != "ZZ" && cc != "XR" {
					placed++
				}
			}
			if len(d.Rows)+len(d.TooFew) != placed {
				t.Errorf("%d countries ranked and %d with too few sources, of %d with senders", len(d.Rows), len(d.TooFew), placed)
			}
		}
		var ref float64
		for _, l := range d.Rows {
			cc := l.Code
			if by == "asn" { // AS 64000+i is the network of the i-th country of the world
				for _, c := range geoiptest.World() {
					if "AS"+strconv.Itoa(int(c.ASN)) == l.Code {
						cc = c.Code
					}
				}
			}
			want := float64(sources[cc]) / 65536 * 1e6
			if l.IPv4Space != 65536 || l.IPv4Sources != sources[cc] || math.Abs(l.PerMillion-want) > 1e-9 {
				t.Errorf("--by %s %s: %d sources of %d addresses, %.3f per million; the events table has %d sources: %.3f",
					by, l.Code, l.IPv4Sources, l.IPv4Space, l.PerMillion, sources[cc], want)
			}
			if l.Code == d.Reference {
				ref = l.PerMillion
			}
		}
		for _, l := range d.Rows {
			if l.Multiple == nil || math.Abs(*l.Multiple-l.PerMillion/ref) > 1e-9 {
				t.Errorf("--by %s %s: multiple %v, want %.4f", by, l.Code, l.Multiple, l.PerMillion/ref)
			}
		}
		t.Logf("--by %s: %s", by, strings.Join(d.Sentences, " "))
	}
	text := spamgeo(t, env, "report", "--period", "2005-04-01..2005-09-30", "--per", "address-space")
	checkPerCapita(t, env)
	if !strings.Contains(text, "Per IPv4 address, ") || !strings.Contains(text, "as many machines as the United States") || !strings.Contains(text, "The United States ranks ") {
		t.Errorf("text:\n%s", text)
	}
	// April's events past their retention, its rollups kept: per address space would count
	// April's senders as none, so it refuses rather than print figures short by a month.
	if err := conn.Exec(context.Background(), "ALTER TABLE events DROP PARTITION 200504"); err != nil {
		t.Fatal(err)
	}
	if out, err := runWith(env, per...); err == nil || !strings.Contains(err.Error(), "past its retention") {
		t.Errorf("--per address-space with April's events gone: %v\n%s", err, out)
	}
}

func checkPerCapita(t *testing.T, env pipelineEnv) {
	t.Helper()
	f, err := os.Open(testenv.Path(t, "internal", "countries", "population.csv"))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	people, users := map[string]float64{}, map[string]float64{} // columns: code, population, year, internet users, year
	for _, rec := range recs[1:] {
		people[rec[0]], _ = strconv.ParseFloat(rec[1], 64)
		users[rec[0]], _ = strconv.ParseFloat(rec[3], 64)
	}
	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	messages := testenv.Counts(t, conn, "SELECT country_code, count() FROM events GROUP BY country_code")
	for per, denominator := range map[string]map[string]float64{"capita": people, "internet-user": users} {
		var d report.PerCapita
		out := spamgeo(t, env, "report", "--period", "2005-04-01..2005-09-30", "--per", per, "--format", "json", "--top", "100")
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Rows) < 10 || d.Reference != "US" || len(d.Sentences) != 4 {
			t.Fatalf("--per %s: %d rows, reference %q, sentences %q", per, len(d.Rows), d.Reference, d.Sentences)
		}
		var us float64
		for _, l := range d.Rows {
			want := float64(messages[l.Code]) / denominator[l.Code] * 1e6
			if math.Abs(l.PerMillion-want) > 1e-9*want {
				t.Errorf("--per %s %s: %.6f per million, the test computes %.6f", per, l.Code, l.PerMillion, want)
			}
			if l.Code == "US" {
				us = want
			}
		}
		for _, l := range d.Rows {
			if l.Multiple == nil || math.Abs(*l.Multiple-l.PerMillion/us) > 1e-9 {
				t.Errorf("--per %s %s: multiple %v of the US", per, l.Code, l.Multiple)
			}
		}
		t.Logf("--per %s: %s", per, strings.Join(d.Sentences, " "))
	}
	own := filepath.Join(t.TempDir(), "two.csv")
	if err := os.WriteFile(own, []byte("country_code,population\nUS,300000000\nCN,1000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := spamgeo(t, env, "report", "--period", "2005-04-01..2005-09-30", "--per", "capita", "--population", own)
	if !strings.Contains(text, "Per person, China relayed ") || !strings.Contains(text, "No figure in the dataset: ") || !strings.Contains(text, "two.csv") {
		t.Errorf("--population of two countries:\n%s", text)
	}
}
