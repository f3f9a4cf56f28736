package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/queries"
)

// Density is each group's unique sending addresses beside the address space the period's GeoIP
// builds place in it: the CBL's "Infect %", from the same files that placed the messages.
type Density struct {
	Period   period.Period
	Grouping Grouping // ByCountry or ByASN
	Builds   []string // the builds whose address space the figures use
	Groups   []DensityGroup
}

// DensityGroup is one country or network.
type DensityGroup struct {
	Key      string
	Org      string // the network's organisation, as the period's events name it
	Messages uint64
	// Unique IPv4 source addresses and IPv6 source /64 networks.
	IPv4Sources, IPv6Sources uint64
	// The address space: IPv4 addresses and IPv6 /64 networks; both 0 when the builds place
	// none there (the group is then listed, not ranked).
	IPv4Space, IPv6Space uint64
}

// ErrNoAddressSpace says the address space of the period's GeoIP builds was never stored.
var ErrNoAddressSpace = errors.New("no address space stored for the GeoIP builds of the period: the enricher stores it for each build it loads (unless --no-address-space; its log says why it could not), or run spamgeo address-space with the files it read")

// ErrEventsExpired says the events table no longer holds all of a period's messages.
var ErrEventsExpired = errors.New("events past their retention")

// buildSeries is the file a build is of: an mmdb's database type (GeoLite2-ASN@2026-01-02), a
// range file's name (asn-ipv4.csv#1f2e3d4c5b6a).
func buildSeries(build string) string {
	if i := strings.LastIndexAny(build, "@#"); i > 0 {
		return build[:i]
	}
	return build
}

// CompleteEvents returns the period's messages, as the rollups count them, when the events
// table still holds every one of them, and ErrEventsExpired when retention has removed some: a
// figure counted in events (unique sources, campaigns) would be counted short. what names that
// figure in the error.
func (r *Reader) CompleteEvents(ctx context.Context, p period.Period, what string) (uint64, error) {
	var events uint64
	if err := r.conn.QueryRow(ctx, "SELECT count() FROM events WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')",
		p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime)).Scan(&events); err != nil {
		return 0, fmt.Errorf("count the events of %s: %w", p, err)
	}
	return r.eventsHoldAll(ctx, p, events, what)
}

// eventsHoldAll is CompleteEvents for a caller that has counted the period's events already.
func (r *Reader) eventsHoldAll(ctx context.Context, p period.Period, events uint64, what string) (uint64, error) {
	total, err := r.Counts(ctx, Request{Period: p, Grouping: ByTrap})
	if err != nil {
		return 0, err
	}
	if events < total.Total.Messages {
		return 0, fmt.Errorf("%w: the events table holds %d of the period's %d messages (the rest are past its retention), and %s are counted there",
			ErrEventsExpired, events, total.Total.Messages, what)
	}
	return total.Total.Messages, nil
}

// AddressDensity reads p's unique sources per country (g ByCountry) or network (ByASN) and the
// address space of the GeoIP builds that placed the period's messages: for countries the build
// that placed most of them, for networks that of each ASN file (IPv4 and IPv6 range files side
// by side are two files; of two dated builds of one file, the one that placed more messages).
func (r *Reader) AddressDensity(ctx context.Context, p period.Period, g Grouping) (Density, error) {
	key, kind := "country_code", "country"
	switch g {
	case ByCountry:
	case ByASN:
		key, kind = "toString(asn)", "asn"
	default:
		return Density{}, fmt.Errorf("address space is known per country and per network, not per %s", g)
	}
	prov, err := r.Provenance(ctx, p)
	if err != nil {
		return Density{}, err
	}
	// The sources are counted in events, which retention may have emptied while the rollups
	// (and every other figure of the period) remain: a part of the period would be counted short.
	if _, err := r.eventsHoldAll(ctx, p, prov.Events, "unique sources per address space"); err != nil {
		return Density{}, err
	}
	var builds, series []string
	for _, b := range prov.GeoIPBuilds { // most messages first
		parts := strings.SplitN(b, "; ", 2)
		switch {
		case g == ByCountry && len(builds) == 0:
			builds = append(builds, parts[0])
		case g == ByASN && len(parts) == 2 && !slices.Contains(series, buildSeries(parts[1])):
			// One build per file: two dated builds of one ASN file describe the same networks.
			builds, series = append(builds, parts[1]), append(series, buildSeries(parts[1]))
		}
	}
	out := Density{Period: p, Grouping: g, Builds: builds}
	if len(builds) == 0 {
		return out, fmt.Errorf("%w: the period's events name no GeoIP build (none stored, or past the events' retention)", ErrNoAddressSpace)
	}
	quoted := make([]string, len(builds))
	for i, b := range builds {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(b) + "'"
	}
	var stored uint64
	if err := r.conn.QueryRow(ctx, "SELECT count() FROM address_space WHERE kind = '"+kind+"' AND geoip_build IN ("+strings.Join(quoted, ", ")+")").Scan(&stored); err != nil {
		return out, fmt.Errorf("address space of %s: %w", strings.Join(builds, ", "), err)
	}
	if stored == 0 {
		return out, fmt.Errorf("%w (%s)", ErrNoAddressSpace, strings.Join(builds, ", "))
	}
	sql := strings.NewReplacer("{key}", key, "{kind}", "'"+kind+"'", "{builds}", strings.Join(quoted, ", ")).Replace(queries.AddressDensity)
	from, to := p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime)
	rows, err := r.conn.Query(ctx, sql, from, to)
	if err != nil {
		return out, fmt.Errorf("address density of %s: %w", p, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DensityGroup
		if err := rows.Scan(&d.Key, &d.Org, &d.Messages, &d.IPv4Sources, &d.IPv6Sources, &d.IPv4Space, &d.IPv6Space); err != nil {
			return out, fmt.Errorf("address density of %s: %w", p, err)
		}
		if g == ByASN && d.Key == "0" {
			continue // no network known
		}
		out.Groups = append(out.Groups, d)
	}
	return out, rows.Err()
}

// IPv4PerMillion is the group's unique IPv4 sources per million IPv4 addresses of its space.
func (d DensityGroup) IPv4PerMillion() float64 {
	if d.IPv4Space == 0 {
		return 0
	}
	return float64(d.IPv4Sources) / float64(d.IPv4Space) * 1e6
}

// IPv6PerMillion is the group's unique IPv6 source /64s per million /64 networks of its space;
// false when the builds place no IPv6 space there (no figure, not a zero).
func (d DensityGroup) IPv6PerMillion() (float64, bool) {
	if d.IPv6Space == 0 {
		return 0, false
	}
	return float64(d.IPv6Sources) / float64(d.IPv6Space) * 1e6, true
}
