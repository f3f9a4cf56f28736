package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/console/campaign/campaigntest"
	"github.com/spamgeo/spamgeo/console/campaign/evidence"
	"github.com/spamgeo/spamgeo/console/campaign/hosting/dnstest"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/mail/keys"
)

// A trap archive with three known campaigns and background noise goes through the real
// pipeline (replay -> Kafka -> enrich -> sink -> ClickHouse). spamgeo campaigns finds each
// campaign with its exact message count and source set; after resolving the advertised hosts
// through a DNS server on loopback, their hosting countries are those of its answers and their
// domain countries those of the ccTLDs. The evidence bundle of one campaign verifies against its
// manifest and is the same byte for byte when built again.
func TestCampaignsOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	corpus := campaigntest.Write(t, t.TempDir())
	dns := dnstest.Start(t, corpus.DNS)

	spamgeo(t, env, "migrate")
	out := spamgeo(t, env, "replay", corpus.Path)
	total := len(corpus.Labels)
	if !strings.Contains(out, "imported "+itoa(uint32(total))+" messages, skipped 0") {
		t.Fatalf("replay: %s", out)
	}
	group := "c-" + testenv.Suffix()
	spamgeo(t, env, "enrich", "--drain", "--metrics-listen", "", "--group", group, "--geoip-country", country, "--geoip-asn", asn)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", group)

	list := func(args ...string) campaign.Listing {
		t.Helper()
		var l campaign.Listing
		if err := json.Unmarshal([]byte(spamgeo(t, env, append([]string{"campaigns", "--format", "json"}, args...)...)), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	// byTruth finds each true campaign in a listing by the template of its first subject.
	byTruth := func(l campaign.Listing) map[string]campaign.Summary {
		out := map[string]campaign.Summary{}
		for _, truth := range corpus.Campaigns {
			for _, s := range l.Campaigns {
				if slices.Contains(s.SubjectTemplates, keys.SubjectTemplate(truth.Subjects[0])) {
					out[truth.Name] = s
				}
			}
		}
		return out
	}

	before := list("--period", "2005-04")
	if before.Shown != 3 || before.Total != 3+corpus.Noise {
		t.Errorf("listed %d of %d campaigns, want 3 of %d", before.Shown, before.Total, 3+corpus.Noise)
	}
	for _, s := range before.Campaigns {
		if len(s.HostingCountries) != 0 {
			t.Errorf("campaign %s has hosting countries %v before any lookup", s.ID, s.HostingCountries)
		}
	}
	// Movers between the corpus' first ten days and the rest: the three campaigns are tested
	// (their spread is even, so none need move); against an empty March there is nothing to
	// compare, and the formats without movers refuse them.
	moved := list("--period", "2005-04-04..2005-04-13", "--movers", "--compare", "2005-04-14..2005-04-25")
	if moved.Movers == nil || moved.ComparePeriod != "2005-04-14..2005-04-25" || moved.Movers.Tested < 3 {
		t.Errorf("--movers: compare period %q, movers %+v", moved.ComparePeriod, moved.Movers)
	}
	if text := spamgeo(t, env, "campaigns", "--period", "2005-04-04..2005-04-13", "--movers", "--compare", "2005-04-14..2005-04-25"); !strings.Contains(text, "Against 2005-04-14..2005-04-25, campaigns as shares of all trapped messages:\nWhat moved beyond chance (two-proportion z-test") {
		t.Errorf("--movers as text:\n%s", text)
	}
	if _, err := runWith(env, "campaigns", "--period", "2005-04", "--movers"); err == nil || !strings.Contains(err.Error(), "2005-03-01..2005-03-31 has no messages") {
		t.Errorf("--movers against the empty March before: %v", err)
	}
	if _, err := runWith(env, "campaigns", "--period", "2005-04", "--movers", "--format", "csv"); err == nil || !strings.Contains(err.Error(), "--movers writes") {
		t.Errorf("--movers --format csv: %v", err)
	}

	after := list("--period", "2005-04", "--save", "--resolver", dns.Addr, "--resolve-rate", "1000",
		"--geoip-country", country, "--geoip-asn", asn)
	found := byTruth(after)
	t.Log("\n" + spamgeo(t, env, "campaigns", "--period", "2005-04"))
	art := testenv.Local(t, "artifacts") // kept for people to look at
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	spamgeo(t, env, "campaigns", "--period", "2005-04", "--format", "png", "-o", filepath.Join(art, "campaigns.png"))
	if png := mustRead(t, filepath.Join(art, "campaigns.png")); !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Errorf("campaigns chart: %d bytes, not a PNG", len(png))
	}
	if svg := spamgeo(t, env, "campaigns", "--period", "2005-04", "--format", "svg"); !strings.Contains(svg, "<svg") || !strings.Contains(svg, found["pharmacy"].ID) {
		t.Errorf("campaigns SVG chart lacks the pharmacy's id")
	}
	conn, err := env.clickhouse.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	period, _ := period.Parse("2005-04")
	res, err := campaign.Find(context.Background(), campaign.NewStore(conn), period, campaign.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	for _, truth := range corpus.Campaigns {
		s, ok := found[truth.Name]
		if !ok {
			t.Errorf("campaign %s not listed", truth.Name)
			continue
		}
		if s.Messages != uint64(truth.Messages) || s.UniqueSources != len(truth.Sources) {
			t.Errorf("%s: %d messages from %d sources, want %d from %d", truth.Name, s.Messages, s.UniqueSources, truth.Messages, len(truth.Sources))
		}
		if !slices.Equal(sorted(s.HostingCountries), truth.HostingCountries) || !slices.Equal(nonNil(s.DomainCountries), nonNil(truth.DomainCountries)) {
			t.Errorf("%s: hosted in %v, domains in %v; want %v and %v", truth.Name, s.HostingCountries, s.DomainCountries, truth.HostingCountries, truth.DomainCountries)
		}
		_, full, _ := res.Lookup(s.ID)
		if !slices.Equal(full.Sources, truth.Sources) {
			t.Errorf("%s: sources %v\nwant %v", truth.Name, full.Sources, truth.Sources)
		}
		var days, messages uint64
		if err := conn.QueryRow(context.Background(), "SELECT count(), sum(messages) FROM campaign_days_latest WHERE campaign_id = ?", s.ID).Scan(&days, &messages); err != nil {
			t.Fatal(err)
		}
		if days != uint64(s.DaysActive) || messages != s.Messages {
			t.Errorf("%s: campaign_days_latest holds %d days and %d messages, want %d and %d", truth.Name, days, messages, s.DaysActive, s.Messages)
		}
	}
	if n := dns.Queries(); n < len(corpus.DNS) {
		t.Errorf("the DNS server answered %d queries for %d known hosts", n, len(corpus.DNS))
	}

	// Ids stay as messages arrive: the campaigns of the first ten days have the ids they have
	// at the end of the month.
	early := byTruth(list("--from", "2005-04-01", "--to", "2005-04-13"))
	for name, s := range early {
		if s.ID != found[name].ID {
			t.Errorf("%s was campaign %s after ten days, %s at the end", name, s.ID, found[name].ID)
		}
	}
	if len(early) != 3 {
		t.Errorf("%d campaigns in the first ten days", len(early))
	}

	// The evidence bundle of the pharmacy.
	pharmacy := found["pharmacy"]
	dir := filepath.Join(t.TempDir(), "bundle")
	out = spamgeo(t, env, "evidence", "--period", "2005-04", "--campaign", pharmacy.ID, "--archive", corpus.Path, "--out", dir)
	if !strings.Contains(out, "120 messages, 120 found in the archive") {
		t.Errorf("evidence: %s", out)
	}
	if err := evidence.Verify(dir); err != nil {
		t.Fatalf("the bundle does not verify: %v", err)
	}
	var m evidence.Manifest
	data, _ := os.ReadFile(filepath.Join(dir, evidence.ManifestFile))
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	world := map[byte]string{} // first octet -> country
	for _, c := range geoiptest.World() {
		world[c.Networks[0].Addr().As4()[0]] = c.Code
	}
	for _, e := range m.Entries {
		if e.File == "" || len(e.Recipients) == 0 || !e.SourceIP.IsValid() || e.ASN == 0 {
			t.Fatalf("manifest entry lacks evidence: %+v", e)
		}
		if e.SourceIP.Is4() && world[e.SourceIP.As4()[0]] != e.Country {
			t.Errorf("%s placed in %s", e.SourceIP, e.Country)
		}
	}
	archived := mustRead(t, corpus.Path)
	if p := m.Provenance; p.SpamgeoVersion != version || len(p.Archives) != 1 || p.Archives[0].Name != "trap-2005-04.mbox" ||
		p.Archives[0].SHA256 != sha256Hex(archived) || len(p.GeoIPBuilds) == 0 || p.Query.Campaign != pharmacy.ID || p.Query.Period != "2005-04-01..2005-04-30" {
		t.Errorf("provenance %+v", p)
	}
	again := filepath.Join(t.TempDir(), "bundle")
	spamgeo(t, env, "evidence", "--period", "2005-04", "--campaign", pharmacy.ID, "--archive", corpus.Path, "--out", again)
	assertSameTree(t, dir, again)
	if err := os.WriteFile(filepath.Join(art, "evidence-summary.html"), mustRead(t, filepath.Join(dir, evidence.SummaryFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A changed message no longer verifies.
	if err := os.WriteFile(filepath.Join(dir, m.Entries[3].File), []byte("tampered"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := evidence.Verify(dir); err == nil || !strings.Contains(err.Error(), m.Entries[3].File) {
		t.Errorf("a tampered bundle verifies: %v", err)
	}
}

func assertSameTree(t *testing.T, a, b string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		if !bytes.Equal(mustRead(t, path), mustRead(t, filepath.Join(b, rel))) {
			t.Errorf("%s differs between two builds", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("only %d files in the bundle", n)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
