package campaign

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/queries"
)

// sqlTime is how times are bound: ClickHouse 18.16 takes them as strings.
const sqlTime = "2006-01-02 15:04:05"

// Store reads campaign material from ClickHouse and writes what was found back.
type Store struct {
	conn clickhousedb.Conn
}

// NewStore reads and writes through conn.
func NewStore(conn clickhousedb.Conn) *Store { return &Store{conn: conn} }

// Fingerprints reads the fingerprints of every message received before until. Campaigns are
// always grouped over the whole history up to the end of the period asked for, so that a
// campaign's id does not depend on where the period starts.
func (s *Store) Fingerprints(ctx context.Context, until time.Time) ([]Fingerprint, error) {
	rows, err := s.conn.Query(ctx, queries.CampaignFingerprints, until.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("read fingerprints: %w", err)
	}
	defer rows.Close()
	var out []Fingerprint
	for rows.Next() {
		var fp Fingerprint
		if err := rows.Scan(&fp.Domains, &fp.SubjectTemplate, &fp.BodySimhash, &fp.Messages, &fp.FirstSeen, &fp.LastSeen); err != nil {
			return nil, fmt.Errorf("read fingerprints: %w", err)
		}
		out = append(out, fp)
	}
	return out, rows.Err()
}

// fingerprintKey identifies a fingerprint among rows read separately.
func fingerprintKey(domains []string, template string, simhash uint64) string {
	return fmt.Sprintf("%s\x00%s\x00%x", strings.Join(domains, " "), template, simhash)
}

// trafficRow is the period's messages of one fingerprint from one source on one day.
type trafficRow struct {
	fingerprint string
	source      netip.Addr
	country     string
	asn         uint32
	day         time.Time
	messages    uint64
}

func (s *Store) traffic(ctx context.Context, p period.Period) ([]trafficRow, error) {
	rows, err := s.conn.Query(ctx, queries.CampaignTraffic, p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("read campaign traffic for %s: %w", p, err)
	}
	defer rows.Close()
	var out []trafficRow
	for rows.Next() {
		var (
			r        trafficRow
			domains  []string
			template string
			simhash  uint64
			source   string
		)
		if err := rows.Scan(&domains, &template, &simhash, &source, &r.country, &r.asn, &r.day, &r.messages); err != nil {
			return nil, fmt.Errorf("read campaign traffic: %w", err)
		}
		r.fingerprint = fingerprintKey(domains, template, simhash)
		r.source = parseAddr(source)
		out = append(out, r)
	}
	return out, rows.Err()
}

// hosts reads the distinct advertised hosts of the period's messages.
func (s *Store) hosts(ctx context.Context, p period.Period) ([]string, error) {
	rows, err := s.conn.Query(ctx, queries.CampaignHosts, p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("read advertised hosts for %s: %w", p, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Address is one address an advertised host resolved to, placed with the GeoIP data in force
// when it was resolved.
type Address struct {
	IP        netip.Addr `json:"ip"`
	Country   string     `json:"country"`
	ASN       uint32     `json:"asn"`
	ASOrg     string     `json:"as_org"`
	FirstSeen time.Time  `json:"first_seen"` // first and last lookup that gave this address
	LastSeen  time.Time  `json:"last_seen"`
	// GeoIPBuilds are the builds that placed it in those lookups, sorted.
	GeoIPBuilds []string `json:"geoip_builds"`
}

// hostAddresses reads every recorded resolution, by host.
func (s *Store) hostAddresses(ctx context.Context) (map[string][]Address, error) {
	rows, err := s.conn.Query(ctx, queries.CampaignHostAddresses)
	if err != nil {
		return nil, fmt.Errorf("read host addresses: %w", err)
	}
	defer rows.Close()
	out := map[string][]Address{}
	for rows.Next() {
		var (
			host, ip string
			a        Address
		)
		if err := rows.Scan(&host, &ip, &a.Country, &a.ASN, &a.ASOrg, &a.FirstSeen, &a.LastSeen, &a.GeoIPBuilds); err != nil {
			return nil, fmt.Errorf("read host addresses: %w", err)
		}
		a.IP = parseAddr(ip)
		out[host] = append(out[host], a)
	}
	return out, rows.Err()
}

// Message is one stored message of a campaign, as evidence lists it.
type Message struct {
	EventID     string     `json:"event_id"`
	ReceivedAt  time.Time  `json:"received_at"`
	TrapID      string     `json:"trap_id"`
	Collector   string     `json:"collector"`
	Recipients  []string   `json:"trap_addresses"`
	SourceIP    netip.Addr `json:"source_ip"`
	Country     string     `json:"country"`
	ASN         uint32     `json:"asn"`
	ASOrg       string     `json:"as_org"`
	GeoIPBuild  string     `json:"geoip_build"`
	Subject     string     `json:"subject"`
	MessageID   string     `json:"message_id"`
	BodySHA256  string     `json:"body_sha256"`
	URLHosts    []string   `json:"url_hosts"`
	fingerprint string
}

// messages reads the stored messages of the period with campaign keys, oldest first.
func (s *Store) messages(ctx context.Context, p period.Period) ([]Message, error) {
	rows, err := s.conn.Query(ctx, queries.CampaignMessages, p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime))
	if err != nil {
		return nil, fmt.Errorf("read campaign messages for %s: %w", p, err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var (
			m        Message
			domains  []string
			template string
			simhash  uint64
			source   string
		)
		if err := rows.Scan(&m.EventID, &m.ReceivedAt, &m.TrapID, &m.Collector, &m.Recipients, &source,
			&m.Country, &m.ASN, &m.ASOrg, &m.GeoIPBuild, &m.Subject, &m.MessageID, &m.BodySHA256, &m.URLHosts,
			&domains, &template, &simhash); err != nil {
			return nil, fmt.Errorf("read campaign messages: %w", err)
		}
		m.ReceivedAt = m.ReceivedAt.UTC()
		m.SourceIP = parseAddr(source)
		m.fingerprint = fingerprintKey(domains, template, simhash)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Resolution is one answer of a host lookup, to be recorded.
type Resolution struct {
	ResolvedAt time.Time
	Host       string
	Domain     string
	Address    netip.Addr
	Country    string
	ASN        uint32
	ASOrg      string
	GeoIPBuild string
}

// RecordResolutions stores lookup answers in host_addresses.
func (s *Store) RecordResolutions(ctx context.Context, rs []Resolution) error {
	if len(rs) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO host_addresses (resolved_at, host, domain, address, country_code, asn, as_org, geoip_build)")
	if err != nil {
		return fmt.Errorf("record host addresses: %w", err)
	}
	for _, r := range rs {
		ip := r.Address.As16()
		if err := batch.Append(r.ResolvedAt.UTC(), r.Host, r.Domain, string(ip[:]), r.Country, r.ASN, r.ASOrg, r.GeoIPBuild); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("record host addresses: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("record %d host addresses: %w", len(rs), err)
	}
	return nil
}

// Save stores the campaigns' keys and days as one generation of campaign_keys and
// campaign_days (read through the campaign_keys_latest and campaign_days_latest views).
func (s *Store) Save(ctx context.Context, generation time.Time, campaigns []Campaign, summaries []Summary) error {
	gen := generation.UTC().Truncate(time.Second)
	keysBatch, err := s.conn.PrepareBatch(ctx, "INSERT INTO campaign_keys (generation, campaign_id, kind, key)")
	if err != nil {
		return fmt.Errorf("save campaign keys: %w", err)
	}
	for _, c := range campaigns {
		for _, k := range c.Keys {
			if err := keysBatch.Append(gen, c.ID, k.Kind, k.Value); err != nil {
				_ = keysBatch.Abort()
				return fmt.Errorf("save campaign keys: %w", err)
			}
		}
	}
	if err := keysBatch.Send(); err != nil {
		return fmt.Errorf("save campaign keys: %w", err)
	}
	daysBatch, err := s.conn.PrepareBatch(ctx, "INSERT INTO campaign_days (generation, campaign_id, day, messages, sources, country_codes, asns)")
	if err != nil {
		return fmt.Errorf("save campaign days: %w", err)
	}
	for _, sum := range summaries {
		for _, d := range sum.Days {
			if err := daysBatch.Append(gen, sum.ID, d.Day, d.Messages, uint64(d.Sources), d.Countries, d.ASNs); err != nil {
				_ = daysBatch.Abort()
				return fmt.Errorf("save campaign days: %w", err)
			}
		}
	}
	if err := daysBatch.Send(); err != nil {
		return fmt.Errorf("save campaign days: %w", err)
	}
	return nil
}

// parseAddr reads IPv6NumToString's text; IPv4 comes back from its mapped form.
func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
