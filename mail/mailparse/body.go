package mailparse

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html"
	"io"
	"mime"
	"net/netip"
	"strings"
	"unicode"

	"github.com/emersion/go-message/textproto"
)

// walk visits the MIME entity with header h and raw body, scanning its text parts for URLs. It
// returns false once the part limit stops the walk.
func (p *parser) walk(h textproto.Header, body io.Reader, depth int) bool {
	if p.parts >= p.limits.MaxParts {
		p.defect("too-many-parts")
		return false
	}
	p.parts++
	mediaType, params := p.contentType(h.Get("Content-Type"))
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= p.limits.MaxDepth {
			p.defect("too-deep")
			return true
		}
		if params["boundary"] == "" {
			p.defect("bad-mime")
			return true
		}
		parts := textproto.NewMultipartReader(body, params["boundary"])
		for {
			part, err := parts.NextPart()
			if errors.Is(err, io.EOF) {
				return true
			}
			if err != nil {
				p.defect("bad-mime")
				return true
			}
			if !p.walk(part.Header, part, depth+1) {
				return false
			}
		}
	case mediaType == "text/plain" || mediaType == "text/html":
		p.scanPart(body, h.Get("Content-Transfer-Encoding"), params["charset"], mediaType == "text/html")
	}
	return true
}

// contentType parses a Content-Type value, text/plain when there is none (RFC 2045). A value
// mime rejects still yields its media type and whatever parameters look like "name=value".
func (p *parser) contentType(value string) (string, map[string]string) {
	if strings.TrimSpace(value) == "" {
		return "text/plain", nil
	}
	mediaType, params, err := mime.ParseMediaType(value)
	if err == nil {
		return mediaType, params
	}
	p.defect("bad-content-type")
	mediaType, rest, _ := strings.Cut(value, ";")
	params = map[string]string{}
	for param := range strings.SplitSeq(rest, ";") {
		name, value, ok := strings.Cut(param, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if _, seen := params[name]; ok && !seen {
			params[name] = strings.Trim(strings.TrimSpace(value), `"'`)
		}
	}
	return strings.ToLower(strings.TrimSpace(mediaType)), params
}

// scanPart decodes a text part and scans it for URLs, within the scan budgets.
func (p *parser) scanPart(body io.Reader, transferEncoding, charsetLabel string, isHTML bool) {
	budget := min(p.limits.MaxPartScanBytes, p.limits.MaxScanBytes-p.scanned)
	if budget <= 0 {
		p.defect("scan-truncated")
		return
	}
	// Quoted-printable, the most verbose encoding, is at most three times as long as what it
	// encodes, so this much input fills the budget.
	maxRaw := 3 * budget
	raw, err := io.ReadAll(io.LimitReader(body, int64(maxRaw)+1))
	if err != nil {
		p.defect("bad-mime") // a multipart cut short; scan what arrived
	}
	truncated := len(raw) > maxRaw
	text := p.toUTF8(p.decodeTransfer(raw[:min(len(raw), maxRaw)], transferEncoding), charsetLabel, budget)
	if len(text) > budget {
		text, truncated = truncate(text, budget), true
	}
	if truncated {
		p.defect("scan-truncated")
	}
	p.scanned += len(text)
	p.scanURLs(text, isHTML)
	p.body.Add(text, isHTML)
}

func (p *parser) decodeTransfer(raw []byte, encoding string) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "7bit", "8bit", "binary":
		return raw
	case "quoted-printable":
		return decodeQuotedPrintable(raw)
	case "base64":
		return decodeBase64(raw)
	}
	p.defect("bad-encoding")
	return raw
}

// toUTF8 converts text from its charset, keeping at most max+1 bytes so that the caller can tell
// it was cut, and replaces invalid bytes.
func (p *parser) toUTF8(text []byte, label string, max int) string {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "utf-8", "utf8", "us-ascii":
	default:
		decoder, _ := p.charsetReader(label, bytes.NewReader(text)) // never fails
		converted, err := io.ReadAll(io.LimitReader(decoder, int64(max)+1))
		if err != nil {
			p.defect("bad-charset")
		}
		text = converted
	}
	return string(bytes.ToValidUTF8(text, []byte("\uFFFD")))
}

// decodeQuotedPrintable decodes leniently, as mail readers do: an '=' that starts neither an
// escape nor a soft line break is kept as it is.
func decodeQuotedPrintable(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			out = append(out, b[i])
			continue
		}
		var escaped [1]byte
		if i+2 < len(b) {
			if _, err := hex.Decode(escaped[:], b[i+1:i+3]); err == nil {
				out = append(out, escaped[0])
				i += 2
				continue
			}
		}
		next := i + 1 // a soft line break is '=', optional blanks, then the end of the line or input
		for next < len(b) && (b[next] == ' ' || b[next] == '\t') {
			next++
		}
		switch {
		case next == len(b) || b[next] == '\n':
			i = next
		case b[next] == '\r' && next+1 < len(b) && b[next+1] == '\n':
			i = next + 1
		default:
			out = append(out, '=')
		}
	}
	return out
}

// decodeBase64 decodes leniently, as mail readers do: bytes outside the alphabet are skipped,
// padding ends a run (concatenated encodings exist), and a dangling last character is dropped.
func decodeBase64(b []byte) []byte {
	out := make([]byte, 0, len(b)*3/4)
	run := make([]byte, 0, len(b))
	flush := func() {
		if len(run)%4 == 1 {
			run = run[:len(run)-1]
		}
		// run holds only alphabet characters in a decodable length: this cannot fail.
		out, _ = base64.RawStdEncoding.AppendDecode(out, run)
		run = run[:0]
	}
	for _, c := range b {
		switch {
		case c == '=':
			flush()
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', isDigit(c), c == '+', c == '/':
			run = append(run, c)
		}
	}
	flush()
	return out
}

// scanURLs adds the hosts of the URLs in text to p.hosts.
func (p *parser) scanURLs(text string, isHTML bool) {
	if isHTML {
		text = html.UnescapeString(text) // "&#104;ttp://" and "&amp;" alike
	}
	s := strings.ToLower(text)
	// Each scan resumes after the host it read, so that the work stays linear in len(s).
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			break
		}
		j += i
		host, n := hostAt(s[j+3:])
		if scheme := s[:j]; strings.HasSuffix(scheme, "http") || strings.HasSuffix(scheme, "https") || strings.HasSuffix(scheme, "ftp") {
			p.addHost(host)
		}
		i = j + 3 + n
	}
	for i := 0; ; {
		j := strings.Index(s[i:], "www.")
		if j < 0 {
			break
		}
		j += i
		host, n := hostAt(s[j:])
		// Not inside a longer name ("mywww.example"), nor already found after "://" or "@".
		if j == 0 || !isHostByte(s[j-1]) && s[j-1] != '/' && s[j-1] != '@' {
			if strings.Count(host, ".") >= 2 {
				p.addHost(host)
			}
		}
		i = j + max(n, 4)
	}
	if isHTML {
		for _, attribute := range [...]string{"href", "src"} {
			for i := 0; ; {
				j := strings.Index(s[i:], attribute)
				if j < 0 {
					break
				}
				i += j + len(attribute)
				value := strings.TrimLeft(s[i:], " \t\r\n")
				if !strings.HasPrefix(value, "=") {
					continue
				}
				if value = strings.TrimLeft(value[1:], " \t\r\n\"'"); strings.HasPrefix(value, "//") {
					host, _ := hostAt(value[2:])
					p.addHost(host)
				}
			}
		}
	}
}

func (p *parser) addHost(host string) {
	if host == "" {
		return
	}
	host = truncate(host, p.limits.MaxStringBytes)
	if _, seen := p.hosts[host]; seen {
		return
	}
	if len(p.hosts) >= p.limits.MaxURLHosts {
		p.defect("too-many-url-hosts")
		return
	}
	p.hosts[host] = struct{}{}
}

// maxAuthorityBytes bounds the look for the end of a URL's authority.
const maxAuthorityBytes = 512

// hostAt reads the authority at the start of the lowercased s (a URL after "scheme://") and returns
// its host without userinfo, port and trailing dot — "" if there is no plausible one — and how many
// bytes of s the authority took.
func hostAt(s string) (host string, n int) {
	for n < len(s) && n < maxAuthorityBytes && !isAuthorityEnd(s[n]) {
		n++
	}
	authority := s[:n]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	if literal, ok := strings.CutPrefix(authority, "["); ok {
		literal, _, _ = strings.Cut(literal, "]")
		addr, err := netip.ParseAddr(literal)
		if err != nil || addr.Zone() != "" {
			return "", n
		}
		return addr.String(), n
	}
	authority, _, _ = strings.Cut(authority, ":")
	for i, r := range authority {
		if !(r < 0x80 && isHostByte(byte(r)) || r >= 0x80 && unicode.In(r, unicode.L, unicode.N, unicode.M)) {
			authority = authority[:i]
			break
		}
	}
	host = strings.Trim(authority, ".")
	if len(host) > 253 { // longer than DNS allows: not a name
		return "", n
	}
	return host, n
}

func isAuthorityEnd(c byte) bool {
	return c <= ' ' || strings.IndexByte("/?#\\\"'<>(){}|^`,;", c) >= 0
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '.' || c == '_'
}
