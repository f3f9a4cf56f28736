package evidence

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign"
)

// The summary counts in words a court reads: singular for one, no section about web sites for a
// campaign whose messages carry no links.
func TestSummaryWording(t *testing.T) {
	at := time.Date(2005, 4, 2, 10, 0, 0, 0, time.UTC)
	entry := func(ip string) Entry {
		return Entry{Message: campaign.Message{ReceivedAt: at, Recipients: []string{"a@trap.example"},
			SourceIP: netip.MustParseAddr(ip), Country: "US", ASN: 64500}}
	}
	for _, c := range []struct {
		name    string
		entries []Entry
		sum     campaign.Summary
		want    []string
		not     []string
	}{
		{"one of each, no links", []Entry{entry("192.0.2.1")}, campaign.Summary{ASNs: 1},
			[]string{"1 distinct address in 1 network", "none: the messages carry no links"},
			[]string{"distinct addresses", "1 networks", "generic top-level domains only", "<h2>Advertised web sites</h2>"}},
		{"many, with links", []Entry{entry("192.0.2.1"), entry("192.0.2.2")},
			campaign.Summary{ASNs: 2, Domains: []string{"pills.example"}, Hosts: []campaign.Host{{Name: "pills.example"}}},
			[]string{"2 distinct addresses in 2 networks", "<h2>Advertised web sites</h2>", "generic top-level domains only"},
			[]string{"carry no links"}},
	} {
		var b strings.Builder
		m := &Manifest{Messages: len(c.entries), Archived: len(c.entries), Entries: c.entries}
		if err := writeSummary(&b, Input{Campaign: c.sum}, m); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: summary lacks %q", c.name, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: summary has %q", c.name, w)
			}
		}
	}
}
