package campaign

import (
	"cmp"
	"context"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign/hosting"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/mail/keys"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// Summary is what one campaign did in a period, with the three geographies side by side: where
// its mail was relayed from, where its advertised sites are hosted, and where their domains are
// registered.
type Summary struct {
	ID         string `json:"id"`
	Messages   uint64 `json:"messages"`
	DaysActive int    `json:"days_active"`
	// FirstDay and LastDay are the first and last day of the period with a message.
	FirstDay time.Time `json:"first_day"`
	LastDay  time.Time `json:"last_day"`
	// UniqueSources and ASNs count the distinct relaying addresses and networks (AS0, no
	// network known, is not counted).
	UniqueSources int `json:"unique_sources"`
	ASNs          int `json:"asns"`
	// RelayCountries are the countries of the relaying addresses, most messages first.
	RelayCountries []CountryShare `json:"relay_countries"`
	// HostingCountries are the countries of the addresses its advertised hosts resolved to,
	// most hosts first; empty until hosts have been resolved.
	HostingCountries []string `json:"hosting_countries"`
	// DomainCountries are the countries of the country-code TLDs of its advertised domains.
	DomainCountries []string `json:"domain_countries"`
	Domains         []string `json:"domains"`
	Hosts           []Host   `json:"hosts"`
	// SubjectTemplates are the subject templates of its messages, most messages first.
	SubjectTemplates []string `json:"subject_templates"`
	Days             []Day    `json:"days"`
	// Sources are the distinct relaying addresses, sorted.
	Sources []netip.Addr `json:"-"`
}

// CountryShare is a relay country's part of a campaign.
type CountryShare struct {
	Country  string  `json:"country"`
	Messages uint64  `json:"messages"`
	Share    float64 `json:"share"` // of the campaign's messages, 0..1
}

// Host is one advertised host and where it resolved.
type Host struct {
	Name          string    `json:"name"`
	Domain        string    `json:"domain"`
	DomainCountry string    `json:"domain_country,omitempty"`
	Addresses     []Address `json:"addresses"`
}

// Day is one campaign day.
type Day struct {
	Day       time.Time `json:"day"`
	Messages  uint64    `json:"messages"`
	Sources   int       `json:"unique_sources"`
	Countries []string  `json:"countries"`
	ASNs      []uint32  `json:"asns"`
}

// Result is the campaigns of a period.
type Result struct {
	Period       period.Period
	Fingerprints []Fingerprint
	Campaigns    []Campaign // every campaign of the history up to Until
	Summaries    []Summary  // those active in the period, most messages first
	// Until is the end of the history grouped: the period's end, or a later comparison's.
	Until time.Time

	byFingerprint map[string]int // fingerprint key → index in Campaigns
}

// Find groups the history up to the end of p into campaigns and summarizes those active in p.
func Find(ctx context.Context, s *Store, p period.Period, rules Rules) (*Result, error) {
	return find(ctx, s, p, p.To, rules)
}

// FindCompared is Find with the history grouped up to the later end of p and cp, so that the
// campaigns of either period can be counted with the same ids (Movers).
func FindCompared(ctx context.Context, s *Store, p, cp period.Period, rules Rules) (*Result, error) {
	until := p.To
	if cp.To.After(until) {
		until = cp.To
	}
	return find(ctx, s, p, until, rules)
}

func find(ctx context.Context, s *Store, p period.Period, until time.Time, rules Rules) (*Result, error) {
	if err := migrations.RequireCurrent(ctx, s.conn); err != nil {
		return nil, err // campaign keys arrived with schema version 5
	}
	fps, err := s.Fingerprints(ctx, until)
	if err != nil {
		return nil, err
	}
	campaigns := Cluster(fps, rules)
	byFingerprint := map[string]int{}
	byDomain := map[string]int{}
	for ci, c := range campaigns {
		for _, m := range c.Members {
			fp := fps[m]
			byFingerprint[fingerprintKey(fp.Domains, fp.SubjectTemplate, fp.BodySimhash)] = ci
		}
		for _, k := range c.Keys {
			if k.Kind == KindDomain {
				byDomain[k.Value] = ci
			}
		}
	}
	traffic, err := s.traffic(ctx, p)
	if err != nil {
		return nil, err
	}
	hosts, err := s.hosts(ctx, p)
	if err != nil {
		return nil, err
	}
	addresses, err := s.hostAddresses(ctx)
	if err != nil {
		return nil, err
	}

	acc := map[int]*accumulator{}
	for _, r := range traffic {
		ci, ok := byFingerprint[r.fingerprint]
		if !ok {
			continue
		}
		a := acc[ci]
		if a == nil {
			a = newAccumulator()
			acc[ci] = a
		}
		a.add(r)
	}
	for _, h := range hosts {
		d := keys.RegisteredDomains([]string{h})
		if len(d) == 0 {
			continue
		}
		if ci, ok := byDomain[d[0]]; ok && acc[ci] != nil {
			acc[ci].hosts = append(acc[ci].hosts, Host{Name: h, Domain: d[0], DomainCountry: hosting.DomainCountry(d[0]), Addresses: addresses[h]})
		}
	}
	templates := map[int]map[string]uint64{}
	for ci, c := range campaigns {
		for _, m := range c.Members {
			if fp := fps[m]; fp.SubjectTemplate != "" && acc[ci] != nil {
				if templates[ci] == nil {
					templates[ci] = map[string]uint64{}
				}
				templates[ci][fp.SubjectTemplate] += fp.Messages
			}
		}
	}
	out := &Result{Period: p, Fingerprints: fps, Campaigns: campaigns, Until: until, byFingerprint: byFingerprint}
	for ci, a := range acc {
		sum := a.summary(campaigns[ci])
		sum.SubjectTemplates = byCount(templates[ci])
		out.Summaries = append(out.Summaries, sum)
	}
	slices.SortFunc(out.Summaries, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Lookup returns the campaign with the given id in r, or false.
func (r *Result) Lookup(id string) (Campaign, Summary, bool) {
	for _, s := range r.Summaries {
		if s.ID == id {
			for _, c := range r.Campaigns {
				if c.ID == id {
					return c, s, true
				}
			}
		}
	}
	return Campaign{}, Summary{}, false
}

// Messages reads the stored messages of campaign c in the period, oldest first.
func (r *Result) Messages(ctx context.Context, s *Store, c Campaign) ([]Message, error) {
	member := map[string]bool{}
	for _, m := range c.Members {
		fp := r.Fingerprints[m]
		member[fingerprintKey(fp.Domains, fp.SubjectTemplate, fp.BodySimhash)] = true
	}
	all, err := s.messages(ctx, r.Period)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, m := range all {
		if member[m.fingerprint] {
			out = append(out, m)
		}
	}
	return out, nil
}

// accumulator gathers one campaign's traffic rows.
type accumulator struct {
	messages  uint64
	first     time.Time
	last      time.Time
	sources   map[netip.Addr]struct{}
	asns      map[uint32]struct{}
	countries map[string]uint64
	days      map[time.Time]*dayAccumulator
	hosts     []Host
}

type dayAccumulator struct {
	messages  uint64
	sources   map[netip.Addr]struct{}
	countries map[string]struct{}
	asns      map[uint32]struct{}
}

func newAccumulator() *accumulator {
	return &accumulator{sources: map[netip.Addr]struct{}{}, asns: map[uint32]struct{}{},
		countries: map[string]uint64{}, days: map[time.Time]*dayAccumulator{}}
}

func (a *accumulator) add(r trafficRow) {
	day := time.Date(r.day.Year(), r.day.Month(), r.day.Day(), 0, 0, 0, 0, time.UTC)
	a.messages += r.messages
	a.first, a.last = minTime(a.first, day), maxTime(a.last, day)
	a.sources[r.source] = struct{}{}
	a.asns[r.asn] = struct{}{}
	a.countries[r.country] += r.messages
	d := a.days[day]
	if d == nil {
		d = &dayAccumulator{sources: map[netip.Addr]struct{}{}, countries: map[string]struct{}{}, asns: map[uint32]struct{}{}}
		a.days[day] = d
	}
	d.messages += r.messages
	d.sources[r.source] = struct{}{}
	d.countries[r.country] = struct{}{}
	d.asns[r.asn] = struct{}{}
}

func (a *accumulator) summary(c Campaign) Summary {
	s := Summary{ID: c.ID, Messages: a.messages, DaysActive: len(a.days), FirstDay: a.first, LastDay: a.last,
		UniqueSources: len(a.sources), ASNs: len(a.asns)}
	if _, unknown := a.asns[0]; unknown { // AS0: addresses no ASN data placed, not a network
		s.ASNs--
	}
	s.Sources = slices.SortedFunc(maps.Keys(a.sources), netip.Addr.Compare)
	for _, cc := range byCount(a.countries) {
		s.RelayCountries = append(s.RelayCountries, CountryShare{Country: cc, Messages: a.countries[cc],
			Share: float64(a.countries[cc]) / float64(a.messages)})
	}
	for _, k := range c.Keys {
		if k.Kind == KindDomain {
			s.Domains = append(s.Domains, k.Value)
		}
	}
	domainCountries := map[string]uint64{}
	for _, d := range s.Domains {
		if cc := hosting.DomainCountry(d); cc != "" {
			domainCountries[cc]++
		}
	}
	s.DomainCountries = slices.Sorted(maps.Keys(domainCountries))
	slices.SortFunc(a.hosts, func(x, y Host) int { return cmp.Compare(x.Name, y.Name) })
	s.Hosts = a.hosts
	s.HostingCountries = hostingCountries(a.hosts)
	for _, day := range slices.SortedFunc(maps.Keys(a.days), time.Time.Compare) {
		d := a.days[day]
		s.Days = append(s.Days, Day{Day: day, Messages: d.messages, Sources: len(d.sources),
			Countries: slices.Sorted(maps.Keys(d.countries)), ASNs: slices.Sorted(maps.Keys(d.asns))})
	}
	return s
}

// hostingCountries are the countries the hosts resolved to, the one with most hosts first.
func hostingCountries(hosts []Host) []string {
	counts := map[string]uint64{}
	for _, h := range hosts {
		seen := map[string]bool{}
		for _, addr := range h.Addresses {
			if !seen[addr.Country] {
				seen[addr.Country] = true
				counts[addr.Country]++
			}
		}
	}
	return byCount(counts)
}

// RefreshHosting rereads where the advertised hosts resolved (after new lookups were recorded)
// without grouping the history again.
func (r *Result) RefreshHosting(ctx context.Context, s *Store) error {
	addresses, err := s.hostAddresses(ctx)
	if err != nil {
		return err
	}
	for i := range r.Summaries {
		sum := &r.Summaries[i]
		for j := range sum.Hosts {
			sum.Hosts[j].Addresses = addresses[sum.Hosts[j].Name]
		}
		sum.HostingCountries = hostingCountries(sum.Hosts)
	}
	return nil
}

// byCount returns the keys of counts, largest count first, ties alphabetically.
func byCount(counts map[string]uint64) []string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
	return keys
}
