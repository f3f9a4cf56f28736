package evidence

import (
	"cmp"
	_ "embed"
	"html/template"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/internal/countries"
)

//go:embed summary.html.tmpl
var summaryHTML string

var summaryTemplate = template.Must(template.New("summary").Funcs(template.FuncMap{
	"country": func(cc string) string {
		if cc == "" {
			return "–"
		}
		return countries.Name(cc) + " (" + cc + ")"
	},
	"countries": campaign.CountryNames,
	"time":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"inc":       func(i int) int { return i + 1 },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	},
	"percent": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
}).Parse(summaryHTML))

// source is one relaying address of the campaign, as the summary lists it.
type source struct {
	IP                  netip.Addr
	Country, ASOrg      string
	ASN                 uint32
	Messages            int
	FirstSeen, LastSeen time.Time
}

// trapAddress is one trap address the campaign hit.
type trapAddress struct {
	Address  string
	Messages int
}

func writeSummary(w io.Writer, in Input, m *Manifest) error {
	bySource := map[netip.Addr]*source{}
	byTrap := map[string]int{}
	for _, e := range m.Entries {
		s := bySource[e.SourceIP]
		if s == nil {
			s = &source{IP: e.SourceIP, Country: e.Country, ASN: e.ASN, ASOrg: e.ASOrg, FirstSeen: e.ReceivedAt}
			bySource[e.SourceIP] = s
		}
		s.Messages++
		s.LastSeen = e.ReceivedAt // entries are oldest first
		for _, r := range e.Recipients {
			byTrap[r]++
		}
	}
	sources := slices.Collect(maps.Values(bySource))
	slices.SortFunc(sources, func(a, b *source) int { return cmp.Or(cmp.Compare(b.Messages, a.Messages), a.IP.Compare(b.IP)) })
	var traps []trapAddress
	for _, a := range slices.Sorted(maps.Keys(byTrap)) {
		traps = append(traps, trapAddress{a, byTrap[a]})
	}
	first, last := time.Time{}, time.Time{}
	if len(m.Entries) > 0 {
		first, last = m.Entries[0].ReceivedAt, m.Entries[len(m.Entries)-1].ReceivedAt
	}
	return summaryTemplate.Execute(w, map[string]any{
		"M": m, "S": in.Campaign, "Sources": sources, "Traps": traps, "First": first, "Last": last,
		"Missing": m.Messages - m.Archived,
	})
}
