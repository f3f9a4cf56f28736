package campaign_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/console/campaign/campaigntest"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
)

// parsed is one corpus message as the grouping sees it.
type parsed struct {
	label string
	fp    campaign.Fingerprint
}

func parseCorpus(t *testing.T, c campaigntest.Corpus) []parsed {
	var out []parsed
	err := mailbox.Walk(context.Background(), []string{c.Path}, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		m := mailparse.Parse(it.Data, mailparse.DefaultLimits())
		at := m.Received[0].Time
		out = append(out, parsed{label: c.Labels[len(out)], fp: campaign.Fingerprint{Domains: m.URLDomains,
			SubjectTemplate: m.SubjectTemplate, BodySimhash: m.BodySimhash, Messages: 1, FirstSeen: at, LastSeen: at}})
		return nil
	}, func(s mailbox.Skipped) { t.Errorf("skipped %+v", s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(c.Labels) {
		t.Fatalf("read %d messages, wrote %d", len(out), len(c.Labels))
	}
	return out
}

// campaignOf maps each message to the id of its campaign ("" for none).
func campaignOf(msgs []parsed, rules campaign.Rules) (map[int]string, []campaign.Campaign) {
	fps := make([]campaign.Fingerprint, len(msgs))
	for i, m := range msgs {
		fps[i] = m.fp
	}
	cs := campaign.Cluster(fps, rules)
	out := map[int]string{}
	for _, c := range cs {
		for _, m := range c.Members {
			out[m] = c.ID
		}
	}
	return out, cs
}

func TestClusterFindsTheCorpusCampaigns(t *testing.T) {
	corpus := campaigntest.Write(t, t.TempDir())
	msgs := parseCorpus(t, corpus)
	of, cs := campaignOf(msgs, campaign.DefaultRules())

	ids := map[string]map[string]bool{} // label -> campaign ids of its messages
	for i, m := range msgs {
		if ids[m.label] == nil {
			ids[m.label] = map[string]bool{}
		}
		ids[m.label][of[i]] = true
	}
	noise := ids[""]
	for _, truth := range corpus.Campaigns {
		got := slices.Collect(maps.Keys(ids[truth.Name]))
		if len(got) != 1 || got[0] == "" {
			t.Errorf("campaign %s is split over %d groups: %q", truth.Name, len(got), got)
			continue
		}
		if noise[got[0]] {
			t.Errorf("campaign %s absorbed noise", truth.Name)
		}
		for _, c := range cs {
			if c.ID == got[0] && c.Messages != uint64(truth.Messages) {
				t.Errorf("campaign %s: %d messages, want %d", truth.Name, c.Messages, truth.Messages)
			}
		}
	}
	// Every noise message is on its own.
	if len(noise) != corpus.Noise {
		t.Errorf("%d noise messages fell into %d groups, want one each", corpus.Noise, len(noise))
	}
	// Without the rule that ignores the W3C's DOCTYPE domain, HTML noise and the pharmacy merge.
	loose := campaign.DefaultRules()
	loose.IgnoreDomains = nil
	of, _ = campaignOf(msgs, loose)
	merged := false
	for i, m := range msgs {
		if m.label == "" && of[i] == campaignOf1(msgs, of, "pharmacy") {
			merged = true
		}
	}
	if !merged {
		t.Error("the corpus does not exercise the ignored DOCTYPE domain")
	}
}

func campaignOf1(msgs []parsed, of map[int]string, label string) string {
	for i, m := range msgs {
		if m.label == label {
			return of[i]
		}
	}
	return ""
}

func TestCampaignIDsStayAsMessagesArrive(t *testing.T) {
	corpus := campaigntest.Write(t, t.TempDir())
	msgs := parseCorpus(t, corpus)
	_, all := campaignOf(msgs, campaign.DefaultRules())
	half := corpus.Start.Add(10 * 24 * time.Hour)
	var early []parsed
	for _, m := range msgs {
		if m.fp.FirstSeen.Before(half) {
			early = append(early, m)
		}
	}
	of, _ := campaignOf(early, campaign.DefaultRules())
	final, _ := campaignOf(msgs, campaign.DefaultRules())
	for i := range early {
		if of[i] != final[i] { // early is a prefix of msgs: the archive is in time order
			t.Fatalf("message %d (%s) was in campaign %s after ten days, in %s at the end", i, early[i].label, of[i], final[i])
		}
	}
	if len(all) < 3 {
		t.Fatalf("%d campaigns", len(all))
	}
}

func TestClusterRules(t *testing.T) {
	at := time.Date(2005, 4, 1, 0, 0, 0, 0, time.UTC)
	fp := func(domains []string, subject string, body uint64, day int) campaign.Fingerprint {
		return campaign.Fingerprint{Domains: domains, SubjectTemplate: subject, BodySimhash: body, Messages: 1,
			FirstSeen: at.AddDate(0, 0, day), LastSeen: at.AddDate(0, 0, day)}
	}
	rules := campaign.DefaultRules()
	for _, tc := range []struct {
		name   string
		fps    []campaign.Fingerprint
		groups int // campaigns found
	}{
		{"shared domain", []campaign.Fingerprint{fp([]string{"a.mc"}, "", 0, 0), fp([]string{"a.mc", "b.fr"}, "", 0, 1), fp([]string{"b.fr"}, "", 0, 2)}, 1},
		{"ignored domain", []campaign.Fingerprint{fp([]string{"w3.org"}, "", 0, 0), fp([]string{"w3.org"}, "", 0, 1)}, 0},
		{"short subject links nothing", []campaign.Fingerprint{fp(nil, "hello #", 0, 0), fp(nil, "hello #", 0, 1)}, 0},
		{"subject template", []campaign.Fingerprint{fp(nil, "cheap meds for you", 0, 0), fp(nil, "cheap meds for you", 0, 1)}, 1},
		{"bodies 6 bits apart", []campaign.Fingerprint{fp(nil, "", 0xF0F0, 0), fp(nil, "", 0xF0F0^0b10101010101, 1)}, 1},
		{"bodies 7 bits apart", []campaign.Fingerprint{fp(nil, "", 0xF0F0, 0), fp(nil, "", 0xF0F0^0b1111111, 1)}, 2},
		{"bodies apart in six of seven bands", []campaign.Fingerprint{fp(nil, "", 1, 0), fp(nil, "", 1^(1<<63)^(1<<10)^(1<<20)^(1<<30)^(1<<40)^(1<<50), 1)}, 1},
		{"chain", []campaign.Fingerprint{fp([]string{"a.mc"}, "", 0, 0), fp([]string{"a.mc"}, "cheap meds for you", 0, 1), fp(nil, "cheap meds for you", 0xFF, 2), fp(nil, "", 0xFE, 3)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := campaign.Cluster(tc.fps, rules); len(got) != tc.groups {
				t.Errorf("%d campaigns, want %d: %+v", len(got), tc.groups, got)
			}
		})
	}
	// The id is named by the earliest key, whatever order fingerprints come in.
	a := campaign.Cluster([]campaign.Fingerprint{fp([]string{"late.fr"}, "", 0, 5), fp([]string{"early.mc", "late.fr"}, "", 0, 1)}, rules)
	b := campaign.Cluster([]campaign.Fingerprint{fp([]string{"early.mc"}, "", 0, 1), fp([]string{"late.fr"}, "", 0, 5), fp([]string{"late.fr", "early.mc"}, "", 0, 6)}, rules)
	c := campaign.Cluster([]campaign.Fingerprint{fp([]string{"early.mc"}, "", 0, 1)}, rules)
	if a[0].ID != b[0].ID || a[0].ID != c[0].ID {
		t.Errorf("ids %s, %s, %s: want one id named by early.mc", a[0].ID, b[0].ID, c[0].ID)
	}
}

// BenchmarkCluster groups 100,000 distinct fingerprints: random body hashes (the worst case for
// the band index: nothing near, everything compared by band), 20,000 domains and 10,000 subject
// templates shared at random.
func BenchmarkCluster(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2005, 4, 1, 0, 0, 0, 0, time.UTC)
	fps := make([]campaign.Fingerprint, 100_000)
	for i := range fps {
		fps[i] = campaign.Fingerprint{
			Domains:         []string{fmt.Sprintf("d%d.example", rng.IntN(20_000))},
			SubjectTemplate: fmt.Sprintf("offer number %d for you", rng.IntN(10_000)),
			BodySimhash:     rng.Uint64() | 1, Messages: 1, FirstSeen: at, LastSeen: at,
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		campaign.Cluster(fps, campaign.DefaultRules())
	}
	b.ReportMetric(float64(len(fps))*float64(b.N)/b.Elapsed().Seconds(), "fingerprints/s")
}
