package event

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The enricher decodes and encodes every event, and the sink decodes every enriched one, so
// these have a fast path. The decoder reads
// the canonical form this package writes — known keys spelt exactly, strings without escapes,
// integers, times in UTC — and hands anything else (escapes, unknown keys, nulls, other key
// case, offsets in times) to encoding/json, whose result is the reference: a differential fuzz
// test checks that both agree wherever the fast path answers.

// rawFields are the fields of a raw event as read by the fast path: strings still point into
// the input, so reading allocates nothing.
type rawFields struct {
	schemaVersion, rcptCount                   int
	size                                       int64
	eventID, trapID, collector, helo, mailFrom []byte
	receivedAt                                 time.Time
	sourceIP                                   netip.Addr
	// The enricher's fields (ignored when a raw event is read, as encoding/json ignores them);
	// an event with coordinates or a mail object takes the encoding/json path.
	countryCode, continentCode, asOrg, geoipBuild, addressClass, city, subdivision []byte
	asn                                                                            uint32
}

// view returns the fields as a Raw whose strings share the input's memory: valid only while
// the input is neither changed nor freed, so it must not outlive the call that made it.
func (f *rawFields) view() Raw {
	return Raw{
		SchemaVersion: f.schemaVersion, EventID: unsafeString(f.eventID), ReceivedAt: f.receivedAt,
		TrapID: unsafeString(f.trapID), Collector: Collector(unsafeString(f.collector)), SourceIP: f.sourceIP,
		HELO: unsafeString(f.helo), MailFrom: unsafeString(f.mailFrom), RcptCount: f.rcptCount, Size: f.size,
	}
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// owned returns the fields as a Raw with strings of its own, safe to keep.
func (f *rawFields) owned() Raw {
	r := f.view()
	r.EventID, r.TrapID, r.Collector = strings.Clone(r.EventID), strings.Clone(r.TrapID), Collector(strings.Clone(string(r.Collector)))
	r.HELO, r.MailFrom = strings.Clone(r.HELO), strings.Clone(r.MailFrom)
	return r
}

// decodeRawFast fills r from canonical input and reports whether it could.
func decodeRawFast(b []byte, r *Raw) bool {
	var f rawFields
	if !scanRaw(b, &f) {
		return false
	}
	*r = f.owned()
	return true
}

// decodeEnrichedFast fills e from canonical input and reports whether it could.
func decodeEnrichedFast(b []byte, e *Enriched) bool {
	var f rawFields
	if !scanRaw(b, &f) {
		return false
	}
	*e = Enriched{Raw: f.owned(), Geo: Geo{
		CountryCode: string(f.countryCode), ContinentCode: string(f.continentCode), ASN: f.asn, ASOrg: string(f.asOrg),
		GeoIPBuild: string(f.geoipBuild), AddressClass: string(f.addressClass), City: string(f.city), Subdivision: string(f.subdivision),
	}}
	return true
}

// scanRaw reads canonical input into f and reports whether it could.
func scanRaw(b []byte, f *rawFields) bool {
	p := parser{b: b}
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return p.end()
	}
	next := 0
	for {
		key, ok := p.key(&next)
		if !ok {
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		if !p.value(key, f) {
			return false
		}
		p.space()
		if p.byte(',') {
			p.space()
			continue
		}
		if p.byte('}') {
			return p.end()
		}
		return false
	}
}

// quotedKeys are the keys the fast path reads, quoted, in the order the encoders write them.
var quotedKeys = func() (out [][]byte) {
	for _, k := range []string{"schema_version", "event_id", "received_at", "trap_id", "collector", "source_ip", "helo",
		"mail_from", "rcpt_count", "size", "country_code", "continent_code", "asn", "as_org", "geoip_build",
		"address_class", "city", "subdivision"} {
		out = append(out, []byte(`"`+k+`"`))
	}
	return out
}()

// key reads an object key. It tries first the key the encoders write next (quotedKeys[*next]),
// which spares scanning for the closing quote; after the first key out of that order it scans.
func (p *parser) key(next *int) ([]byte, bool) {
	if *next < len(quotedKeys) {
		if q := quotedKeys[*next]; bytes.HasPrefix(p.b[p.i:], q) {
			*next++
			p.i += len(q)
			return p.b[p.i-len(q)+1 : p.i-1], true
		}
		*next = len(quotedKeys)
	}
	return p.plainString()
}

type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// special marks the bytes a plain string cannot simply contain: the closing quote, the escape
// character, control characters, and the start of multi-byte UTF-8 (checked separately).
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// plainLen is the length of the prefix of s that holds no special byte. It reads eight bytes at
// a time: the scan of strings was the largest cost of reading an event.
func plainLen[T string | []byte](s T) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := w^(ones*'"'), w^(ones*'\\')
		// A byte below 0x20, or a zero byte of quote or backslash, sets its high bit here; so does
		// a byte of 0x80 or more, through w itself.
		if ((w-ones*0x20)|(quote-ones)&^quote|(backslash-ones)&^backslash|w)&highs != 0 {
			break
		}
	}
	for i < len(s) && !special[s[i]] {
		i++
	}
	return i
}

// plainString reads a string without escapes or control characters, in valid UTF-8.
func (p *parser) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start, multibyte := p.i, false
	for i := p.i + plainLen(p.b[p.i:]); i < len(p.b); i++ {
		c := p.b[i]
		if !special[c] {
			continue
		}
		switch {
		case c == '"':
			s := p.b[start:i]
			p.i = i + 1
			return s, !multibyte || utf8.Valid(s)
		case c >= 0x80:
			multibyte = true
		default:
			return nil, false
		}
	}
	return nil, false
}

// integer reads a JSON integer that fits an int64 (no fraction, no exponent).
func (p *parser) integer() (int64, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	if p.i-digits > 18 { // might not fit
		n, err := strconv.ParseInt(unsafeString(p.b[start:p.i]), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range p.b[digits:p.i] {
		n = n*10 + int64(c-'0')
	}
	if digits > start {
		n = -n
	}
	return n, true
}

func (p *parser) value(key []byte, f *rawFields) bool {
	switch string(key) {
	case "schema_version", "rcpt_count":
		n, ok := p.integer()
		if !ok || n < math.MinInt || n > math.MaxInt {
			return false
		}
		if key[0] == 's' {
			f.schemaVersion = int(n)
		} else {
			f.rcptCount = int(n)
		}
		return true
	case "size":
		n, ok := p.integer()
		f.size = n
		return ok
	case "received_at":
		s, ok := p.plainString()
		if !ok {
			return false
		}
		t, ok := parseUTC(s)
		f.receivedAt = t
		return ok
	case "source_ip":
		s, ok := p.plainString()
		if !ok {
			return false
		}
		a, err := netip.ParseAddr(unsafeString(s))
		f.sourceIP = a
		return err == nil
	case "asn":
		n, ok := p.integer()
		f.asn = uint32(n)
		return ok && n >= 0 && n <= math.MaxUint32
	case "event_id", "trap_id", "collector", "helo", "mail_from",
		"country_code", "continent_code", "as_org", "geoip_build", "address_class", "city", "subdivision":
		s, ok := p.plainString()
		if !ok {
			return false
		}
		switch string(key) {
		case "event_id":
			f.eventID = s
		case "trap_id":
			f.trapID = s
		case "collector":
			f.collector = s
		case "helo":
			f.helo = s
		case "mail_from":
			f.mailFrom = s
		case "country_code":
			f.countryCode = s
		case "continent_code":
			f.continentCode = s
		case "as_org":
			f.asOrg = s
		case "geoip_build":
			f.geoipBuild = s
		case "address_class":
			f.addressClass = s
		case "city":
			f.city = s
		default:
			f.subdivision = s
		}
		return true
	}
	return false
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.fraction]Z, the only form the encoders write.
func parseUTC(s []byte) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for _, c := range s[from:to] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		n, ok := num(20, len(s)-1)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	} else if len(s) != 20 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

// appendEnriched writes e as JSON onto b, keys in schema order, times in UTC.
func appendEnriched(b []byte, e *Enriched) []byte {
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = appendField(b, "event_id", e.EventID)
	b = append(b, `,"received_at":"`...)
	b = e.ReceivedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "trap_id", e.TrapID)
	b = appendField(b, "collector", string(e.Collector))
	b = append(b, `,"source_ip":`...)
	if e.SourceIP.IsValid() {
		b = append(b, '"')
		b = e.SourceIP.AppendTo(b)
		b = append(b, '"')
	} else {
		b = append(b, `""`...)
	}
	b = appendField(b, "helo", e.HELO)
	b = appendField(b, "mail_from", e.MailFrom)
	b = append(b, `,"rcpt_count":`...)
	b = strconv.AppendInt(b, int64(e.RcptCount), 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	if e.Mail != nil {
		// Rare on this path: the fast reader hands events with mail details to encoding/json.
		m, _ := json.Marshal(e.Mail) // cannot fail: plain strings, numbers and times
		b = append(b, `,"mail":`...)
		b = append(b, m...)
	}
	return appendGeo(b, &e.Geo)
}

// appendGeo writes the enricher's fields and closes the object.
func appendGeo(b []byte, g *Geo) []byte {
	b = appendField(b, "country_code", g.CountryCode)
	b = appendField(b, "continent_code", g.ContinentCode)
	b = append(b, `,"asn":`...)
	b = strconv.AppendUint(b, uint64(g.ASN), 10)
	b = appendField(b, "as_org", g.ASOrg)
	b = appendField(b, "geoip_build", g.GeoIPBuild)
	if g.AddressClass != "" {
		b = appendField(b, "address_class", g.AddressClass)
	}
	if g.City != "" {
		b = appendField(b, "city", g.City)
	}
	if g.Subdivision != "" {
		b = appendField(b, "subdivision", g.Subdivision)
	}
	if g.Latitude != nil {
		b = append(b, `,"latitude":`...)
		b = strconv.AppendFloat(b, *g.Latitude, 'g', -1, 64)
	}
	if g.Longitude != nil {
		b = append(b, `,"longitude":`...)
		b = strconv.AppendFloat(b, *g.Longitude, 'g', -1, 64)
	}
	return append(b, '}')
}

func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i += plainLen(s[i:]); i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
