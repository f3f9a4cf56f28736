// Package mailparse turns the raw bytes a spam trap received into the facts spamgeo publishes —
// sender headers, body hash, URL hosts — and finds the true source address of the message in its
// Received chain. Input is hostile: Parse never panics and never fails, it records what it could
// not make sense of as defects, returns whatever it could extract, and bounds its work (see Limits).
package mailparse

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"

	"github.com/spamgeo/spamgeo/mail/keys"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Limits bound the work Parse does on one message. A field that is zero or negative takes its
// default. The defect recorded when a limit is reached is given in parentheses.
type Limits struct {
	// MaxHeaderBytes is how much of the header block is examined; the rest is ignored ("header-too-large").
	MaxHeaderBytes int
	// MaxReceived is how many Received headers, from the top, are parsed ("too-many-received").
	MaxReceived int
	// MaxParts is how many MIME entities, the message itself included, are walked ("too-many-parts").
	MaxParts int
	// MaxDepth is how deeply multiparts may nest inside the message ("too-deep").
	MaxDepth int
	// MaxPartScanBytes is how many decoded bytes of one text part are scanned for URLs ("scan-truncated").
	MaxPartScanBytes int
	// MaxScanBytes is how many decoded bytes of all text parts together are scanned ("scan-truncated").
	MaxScanBytes int
	// MaxURLHosts is how many distinct URL hosts are kept ("too-many-url-hosts").
	MaxURLHosts int
	// MaxStringBytes is the longest string returned anywhere, cut on a UTF-8 boundary.
	MaxStringBytes int
}

// defaultMaxStringBytes is RFC 5322's line length limit: nothing legitimate is longer.
const defaultMaxStringBytes = 998

// DefaultLimits returns limits generous for real mail and cheap for junk.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes:   256 << 10,
		MaxReceived:      100,
		MaxParts:         100,
		MaxDepth:         10,
		MaxPartScanBytes: 1 << 20,
		MaxScanBytes:     4 << 20,
		MaxURLHosts:      1000,
		MaxStringBytes:   defaultMaxStringBytes,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	orDefault := func(limit *int, def int) {
		if *limit <= 0 {
			*limit = def
		}
	}
	orDefault(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	orDefault(&l.MaxReceived, d.MaxReceived)
	orDefault(&l.MaxParts, d.MaxParts)
	orDefault(&l.MaxDepth, d.MaxDepth)
	orDefault(&l.MaxPartScanBytes, d.MaxPartScanBytes)
	orDefault(&l.MaxScanBytes, d.MaxScanBytes)
	orDefault(&l.MaxURLHosts, d.MaxURLHosts)
	orDefault(&l.MaxStringBytes, d.MaxStringBytes)
	return l
}

// Message is what spamgeo keeps of one mail message. Every string is valid UTF-8 (invalid bytes
// replaced with U+FFFD) and at most Limits.MaxStringBytes long.
type Message struct {
	From       string    // header From, RFC 2047 words decoded from any charset
	Subject    string    // header Subject, decoded likewise
	MessageID  string    // header Message-ID without angle brackets
	Date       time.Time // header Date, parsed leniently; zero when absent or unparseable
	XMailer    string    // X-Mailer, or User-Agent when there is no X-Mailer, decoded
	BodySHA256 string    // hex SHA-256 of the bytes after the header/body separator, as received
	// URLHosts are the hosts of http, https and ftp URLs and of bare www. links in the text/plain
	// and text/html parts, after transfer and charset decoding (in HTML also protocol-relative
	// href and src attributes): lowercased, without port or trailing dot, unique and sorted.
	// Internationalized names are kept as written, punycode or not.
	URLHosts []string
	// URLDomains, SubjectTemplate and BodySimhash are the campaign keys (package mail/keys):
	// the registered domains of URLHosts, the subject's template, and the similarity hash of the
	// scanned text parts (0 when they hold too few words).
	URLDomains      []string
	SubjectTemplate string
	BodySimhash     uint64
	// DeliveredTo are the addresses of the Delivered-To and X-Original-To headers delivering MTAs
	// (and spamgeo trap's archive) write: the trap addresses of an archived message as written
	// there (as the live trap records them: a quoted local part's case matters), unique and sorted.
	DeliveredTo []string
	Received    []Hop // the Received headers, top (newest) first
	// Defects are short machine-friendly reasons something was off, unique and sorted:
	// "no-body-separator", "header-too-large", "bad-header" (a line that is not a field),
	// "non-utf8-header", "bad-charset", "bad-date", "bad-content-type", "bad-mime", "bad-encoding",
	// a limit's defect (see Limits), or "internal-error" (a bug: Parse recovered from a panic).
	Defects []string
}

// Parse extracts what spamgeo keeps of the message raw. It never fails: problems are recorded in
// Defects. It never returns nil.
func Parse(raw []byte, limits Limits) *Message {
	p := &parser{
		limits:  limits.withDefaults(),
		defects: map[string]struct{}{},
		hosts:   map[string]struct{}{},
	}
	p.words.CharsetReader = p.charsetReader
	m := &Message{}
	p.parse(m, raw)
	m.URLHosts = slices.Sorted(maps.Keys(p.hosts))
	m.URLDomains = keys.RegisteredDomains(m.URLHosts)
	m.SubjectTemplate = keys.SubjectTemplate(m.Subject)
	m.BodySimhash = p.body.Sum()
	m.Defects = slices.Sorted(maps.Keys(p.defects))
	return m
}

// parser holds the state of one Parse call.
type parser struct {
	limits  Limits
	defects map[string]struct{}
	hosts   map[string]struct{}
	parts   int // MIME entities walked
	scanned int // decoded bytes scanned for URLs
	body    keys.BodyHasher
	words   mime.WordDecoder
}

func (p *parser) defect(reason string) { p.defects[reason] = struct{}{} }

func (p *parser) parse(m *Message, raw []byte) {
	defer func() {
		// A bug here or in a decoder must not take the trap down with it; what was extracted so far
		// is kept. The fuzz tests fail if this ever happens.
		if recover() != nil {
			p.defect("internal-error")
		}
	}()
	headerBlock, body, ok := splitMessage(raw)
	if !ok {
		p.defect("no-body-separator")
	}
	sum := sha256.Sum256(body)
	m.BodySHA256 = hex.EncodeToString(sum[:])

	h := p.readHeader(headerBlock)
	m.From = p.text(h.Get("From"))
	m.Subject = p.text(h.Get("Subject"))
	m.MessageID = p.clean(messageID(h.Get("Message-Id")))
	m.XMailer = p.text(cmp.Or(h.Get("X-Mailer"), h.Get("User-Agent")))
	if date := h.Get("Date"); date != "" {
		if m.Date = parseDate(date); m.Date.IsZero() {
			p.defect("bad-date")
		}
	}
	m.DeliveredTo = p.deliveredTo(h)
	received := h.Values("Received")
	if len(received) > p.limits.MaxReceived {
		p.defect("too-many-received")
		received = received[:p.limits.MaxReceived]
	}
	for i, value := range received {
		hop := parseReceived(value, p.limits.MaxStringBytes)
		hop.Index = i
		m.Received = append(m.Received, hop)
	}
	p.walk(h, bytes.NewReader(body), 0)
}

// splitMessage splits raw at its first empty line (CRLF CRLF or LF LF). Without one, the whole
// input is header and ok is false.
func splitMessage(raw []byte) (header, body []byte, ok bool) {
	for start := 0; start < len(raw); {
		end := bytes.IndexByte(raw[start:], '\n')
		if end < 0 {
			break
		}
		end += start
		if line := raw[start:end]; len(line) == 0 || string(line) == "\r" {
			return raw[:start], raw[end+1:], true
		}
		start = end + 1
	}
	return raw, nil, false
}

// readHeader reads the header block with go-message, falling back to a tolerant splitter when it
// rejects the block, so that one broken line does not lose the rest.
func (p *parser) readHeader(block []byte) textproto.Header {
	if len(block) > p.limits.MaxHeaderBytes {
		p.defect("header-too-large")
		block = block[:p.limits.MaxHeaderBytes]
		if end := bytes.LastIndexByte(block, '\n'); end >= 0 {
			block = block[:end+1]
		}
	}
	terminator := "\r\n"
	if len(block) > 0 && block[len(block)-1] != '\n' {
		terminator = "\r\n\r\n"
	}
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(block), strings.NewReader(terminator)))
	if h, err := textproto.ReadHeader(r); err == nil {
		return h
	}
	p.defect("bad-header")
	return tolerantHeader(block)
}

// tolerantHeader splits a header block line by line, keeping every field that has a valid name
// and dropping the lines that do not (with their continuation lines).
func tolerantHeader(block []byte) textproto.Header {
	type field struct {
		key   string
		value []byte
	}
	var fields []field
	keeping := false
	for len(block) > 0 {
		line := block
		if end := bytes.IndexByte(block, '\n'); end >= 0 {
			line, block = block[:end], block[end+1:]
		} else {
			block = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if keeping {
				last := &fields[len(fields)-1]
				if folded := bytes.Trim(line, " \t"); len(folded) > 0 {
					if len(last.value) > 0 {
						last.value = append(last.value, ' ')
					}
					last.value = append(last.value, folded...)
				}
			}
			continue
		}
		key, value, found := bytes.Cut(line, []byte(":"))
		key = bytes.Trim(key, " \t")
		keeping = found && validFieldName(key)
		if keeping {
			// A copy: continuation lines are appended to it, and it must not overwrite block.
			fields = append(fields, field{string(key), bytes.Clone(bytes.Trim(value, " \t"))})
		}
	}
	var h textproto.Header
	// Add puts a field above those already added, so add from the bottom up.
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].key, string(fields[i].value))
	}
	return h
}

func validFieldName(name []byte) bool {
	for _, c := range name {
		if c < '!' || c > '~' {
			return false
		}
	}
	return len(name) > 0
}

// charsetReader converts from any charset go-message knows. For an unknown one it records a defect
// and passes the bytes through, so that the ASCII in them still reads.
func (p *parser) charsetReader(label string, input io.Reader) (io.Reader, error) {
	r, err := charset.Reader(label, input)
	if err != nil {
		p.defect("bad-charset")
		return input, nil
	}
	return r, nil
}

// text decodes the RFC 2047 encoded words of a header value.
func (p *parser) text(value string) string {
	decoded, err := p.words.DecodeHeader(value)
	if err != nil {
		p.defect("bad-charset")
		decoded = value
	}
	return p.clean(decoded)
}

// clean makes a header string valid UTF-8 and cuts it to the string limit.
func (p *parser) clean(s string) string {
	if !utf8.ValidString(s) {
		p.defect("non-utf8-header")
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return truncate(s, p.limits.MaxStringBytes)
}

// maxDeliveredTo bounds the recipients kept from Delivered-To and X-Original-To headers.
const maxDeliveredTo = 100

func (p *parser) deliveredTo(h textproto.Header) []string {
	var out []string
	for _, v := range append(h.Values("Delivered-To"), h.Values("X-Original-To")...) {
		if a := strings.Trim(strings.TrimSpace(v), "<>"); a != "" && len(out) < maxDeliveredTo {
			out = append(out, p.clean(a))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// messageID returns the id between the angle brackets of a Message-ID value.
func messageID(value string) string {
	value = strings.TrimSpace(value)
	if _, rest, ok := strings.Cut(value, "<"); ok {
		if id, _, ok := strings.Cut(rest, ">"); ok {
			return strings.TrimSpace(id)
		}
	}
	return value
}

// truncate cuts the valid UTF-8 string s to at most max bytes without splitting a character.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// Mail is the message's part of a raw event: the header fields, the body hash and the campaign
// keys. The collector adds what only it knows (source rule, recipients, session details).
func (m *Message) Mail() *event.Mail {
	mail := &event.Mail{
		From: m.From, Subject: m.Subject, MessageID: m.MessageID, XMailer: m.XMailer,
		BodySHA256: m.BodySHA256, URLHosts: m.URLHosts, URLDomains: m.URLDomains,
		SubjectTemplate: m.SubjectTemplate, BodySimhash: event.Simhash(m.BodySimhash),
		Recipients: m.DeliveredTo, Defects: m.Defects,
	}
	if !m.Date.IsZero() {
		d := m.Date.UTC()
		mail.Date = &d
	}
	return mail
}
