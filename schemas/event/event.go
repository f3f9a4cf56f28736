// Package event defines spamgeo's wire contract between stages: the raw event a collector
// publishes for each trapped message and the enriched event (raw plus geography) that the
// enricher publishes. Both travel as JSON, one object per Kafka message, described by the JSON
// Schema files beside this code (raw.v1.schema.json, enriched.v1.schema.json).
package event

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// SchemaVersion is the version of the event schema this code writes and reads. A reader
// rejects events of another major version rather than guessing at their meaning.
const SchemaVersion = 1

// Schemas holds the JSON Schema files, for tools and tests that validate topics.
//
//go:embed *.schema.json
var Schemas embed.FS

// Event times must fit ClickHouse's DateTime, which counts seconds from 1970 in 32 unsigned bits.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)
)

// The largest rcpt_count and size an event may carry: the events table stores them as UInt16
// and UInt32, and a larger value would be stored as some other number.
const (
	MaxRcptCount   = math.MaxUint16
	MaxMessageSize = math.MaxUint32
)

// Collector names the kind of producer that created a raw event.
type Collector string

// The collectors spamgeo ships.
const (
	CollectorTrap   Collector = "trap"   // spamgeo trap, a live SMTP session
	CollectorReplay Collector = "replay" // spamgeo replay, an archived message
	CollectorSynth  Collector = "synth"  // spamgeo synth, generated ground truth
)

// Raw is one trapped message as a collector saw it, before any lookup.
type Raw struct {
	// SchemaVersion is always SchemaVersion for events written by this code.
	SchemaVersion int `json:"schema_version"`
	// EventID identifies the message stably: the same message replayed or redelivered carries
	// the same ID, so duplicates can be recognised downstream. A UUID in canonical text form.
	EventID string `json:"event_id"`
	// ReceivedAt is when the trap received the message (for archives: the original date), UTC.
	ReceivedAt time.Time `json:"received_at"`
	// TrapID names the trap (or trap network) that caught the message.
	TrapID string `json:"trap_id"`
	// Collector is the kind of producer that made the event: one of the Collector constants.
	Collector Collector `json:"collector"`
	// SourceIP is the address of the machine that relayed the message to us: the SMTP client
	// for a live trap, the first untrusted hop of the Received chain for mailboxes. It never
	// has a zone (fe80::1%eth0): that names an interface of the collector's host, means nothing
	// anywhere else, and makes the event invalid; collectors drop it (fe80::1).
	SourceIP netip.Addr `json:"source_ip"`
	// HELO is the name the client gave in HELO/EHLO, as sent (may be empty or bogus).
	HELO string `json:"helo"`
	// MailFrom is the envelope sender (MAIL FROM), empty for the null sender "<>".
	MailFrom string `json:"mail_from"`
	// RcptCount is the number of accepted envelope recipients, at most MaxRcptCount.
	RcptCount int `json:"rcpt_count"`
	// Size is the message size in bytes as received (headers and body), at most MaxMessageSize.
	Size int64 `json:"size"`
	// Mail holds what the trap or an archive import saw of the message itself; synthetic
	// events have none.
	Mail *Mail `json:"mail,omitempty"`
}

// Source rules: how a collector chose SourceIP.
const (
	SourceSMTPClient = "smtp-client"    // the TCP peer of the SMTP session
	SourceProxy      = "proxy-protocol" // the client a trusted proxy named in its PROXY header
	SourceReceived   = "received"       // the first untrusted hop of the Received chain
)

// Mail is the evidence a collector keeps of one message. Strings are valid UTF-8, decoded from
// whatever charset the message used, and bounded in length.
type Mail struct {
	// SourceRule says how SourceIP was chosen: SourceSMTPClient, SourceProxy or SourceReceived.
	SourceRule string `json:"source_rule"`
	// SourceHop is the index (0 = top) of the Received header that gave SourceIP, with SourceReceived.
	SourceHop int `json:"source_hop,omitempty"`
	// SourceHeader is that Received header, as evidence.
	SourceHeader string `json:"source_header,omitempty"`
	// SourcePort is the client's TCP port (live traps).
	SourcePort uint16 `json:"source_port,omitempty"`
	// Listener is the trap's address the client connected to (live traps).
	Listener string `json:"listener,omitempty"`
	// TLS tells whether the session used STARTTLS.
	TLS bool `json:"tls"`
	// Recipients are the accepted envelope recipients: the trap addresses.
	Recipients []string `json:"recipients,omitempty"`
	// From, Subject, MessageID, Date and XMailer come from the message header.
	From      string     `json:"from,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	MessageID string     `json:"message_id,omitempty"`
	Date      *time.Time `json:"date,omitempty"`
	XMailer   string     `json:"x_mailer,omitempty"`
	// BodySHA256 is the hex SHA-256 of the body as received.
	BodySHA256 string `json:"body_sha256,omitempty"`
	// URLHosts are the hosts of the links in the body, lowercased, sorted, unique.
	URLHosts []string `json:"url_hosts,omitempty"`
	// URLDomains are the registered domains of URLHosts (public-suffix aware), sorted, unique.
	URLDomains []string `json:"url_domains,omitempty"`
	// SubjectTemplate is Subject with what campaigns vary taken out (numbers, tags, reply prefixes).
	SubjectTemplate string `json:"subject_template,omitempty"`
	// BodySimhash is the similarity hash of the body's text; absent when the body has too little
	// text. Bodies a few bits apart are near-duplicates.
	BodySimhash Simhash `json:"body_simhash,omitempty"`
	// Defects name what was malformed in the message (the event is kept all the same).
	Defects []string `json:"defects,omitempty"`
}

// Geo is what the enricher adds to a raw event.
type Geo struct {
	// CountryCode is the ISO 3166-1 alpha-2 code of the source IP's country, "ZZ" when no
	// database places the (public) address, "XR" when the address is not public.
	CountryCode string `json:"country_code"`
	// ContinentCode is the GeoIP continent code (AF, AN, AS, EU, NA, OC, SA), "" when unknown.
	ContinentCode string `json:"continent_code"`
	// ASN is the autonomous system number announcing the source IP, 0 when unknown.
	ASN uint32 `json:"asn"`
	// ASOrg is the organisation holding that AS, "" when unknown.
	ASOrg string `json:"as_org"`
	// GeoIPBuild identifies the database build(s) that answered, for example
	// "country ipvAll@2026-06-01; asn-ipv4.csv#76afd7f575bc", so a figure can be traced to its data.
	GeoIPBuild string `json:"geoip_build"`
	// AddressClass is "public", or why the source was not looked up: "private", "loopback",
	// "link-local", "cgnat", "documentation", "multicast" or "reserved" (country_code is then XR).
	AddressClass string `json:"address_class,omitempty"`
	// City, Subdivision (ISO 3166-2) and the coordinates come from City databases only.
	City        string   `json:"city,omitempty"`
	Subdivision string   `json:"subdivision,omitempty"`
	Latitude    *float64 `json:"latitude,omitempty"`
	Longitude   *float64 `json:"longitude,omitempty"`
}

// Enriched is a raw event with its geography.
type Enriched struct {
	Raw
	Geo
}

// Validate reports the first problem that makes r unusable downstream.
func (r *Raw) Validate() error {
	switch {
	case r.SchemaVersion != SchemaVersion:
		return fmt.Errorf("schema_version %d is not %d", r.SchemaVersion, SchemaVersion)
	case !validUUID(r.EventID):
		return fmt.Errorf("event_id %q is not a UUID", r.EventID)
	case r.ReceivedAt.IsZero():
		return errors.New("received_at is missing")
	case r.ReceivedAt.Before(minTime) || !r.ReceivedAt.Before(maxTime):
		return fmt.Errorf("received_at %s is outside %d-%d", r.ReceivedAt.Format(time.RFC3339), minTime.Year(), maxTime.Year()-1)
	case r.TrapID == "":
		return errors.New("trap_id is missing")
	case r.Collector != CollectorTrap && r.Collector != CollectorReplay && r.Collector != CollectorSynth:
		return fmt.Errorf("collector %q is not trap, replay or synth", r.Collector)
	case !r.SourceIP.IsValid():
		return errors.New("source_ip is missing")
	case r.SourceIP.Zone() != "":
		return fmt.Errorf("source_ip %s has a zone, which names an interface of the collector's host; collectors drop it", r.SourceIP)
	case r.RcptCount < 0 || r.RcptCount > MaxRcptCount:
		return fmt.Errorf("rcpt_count %d is outside 0-%d", r.RcptCount, MaxRcptCount)
	case r.Size < 0 || r.Size > MaxMessageSize:
		return fmt.Errorf("size %d is outside 0-%d", r.Size, MaxMessageSize)
	}
	return nil
}

// Validate reports the first problem that makes e unusable downstream.
func (e *Enriched) Validate() error {
	if err := e.Raw.Validate(); err != nil {
		return err
	}
	if len(e.CountryCode) != 2 {
		return fmt.Errorf("country_code %q is not a two-letter code", e.CountryCode)
	}
	return nil
}

func validUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for _, group := range [...]string{s[:8], s[9:13], s[14:18], s[19:23], s[24:]} {
		for i := 0; i < len(group); i++ {
			if !isHex[group[i]] {
				return false
			}
		}
	}
	return true
}

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()
