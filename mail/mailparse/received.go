package mailparse

import (
	"cmp"
	"net/netip"
	"strings"
	"time"
)

// Hop is one parsed Received header.
type Hop struct {
	Index    int        // 0 = top-most Received header
	Raw      string     // the header value, unfolded, truncated to the string limit
	FromName string     // the name the sending machine gave (HELO), if any
	FromRDNS string     // the reverse-DNS name the receiving MTA recorded, if any
	FromIP   netip.Addr // the sending machine's IP as recorded by the receiver (zero if none found)
	By       string     // the receiving host
	With     string     // protocol (SMTP, ESMTPS, HTTP, LMTP, ...), as written
	Time     time.Time  // the date after the last ';', zero if unparseable
}

// ParseReceived parses one Received header value, folded or not. Strings in the Hop are cut to
// the default string limit.
//
// The wordings of Postfix, Exim, Sendmail, qmail, Exchange, Gmail and Microsoft 365 are understood:
// "from" names the sending machine, then comes what the receiver recorded about it in comments
// (reverse-DNS name, [address], HELO); the address is taken only from the "from" clause, preferring
// one the receiver recorded in a comment over one in the HELO text.
func ParseReceived(value string) Hop {
	return parseReceived(value, defaultMaxStringBytes)
}

func parseReceived(value string, maxString int) Hop {
	value = unfold(strings.ToValidUTF8(value, "\uFFFD"))
	hop := Hop{Raw: truncate(value, maxString)}
	clauses := value
	if semicolon := strings.LastIndexByte(value, ';'); semicolon >= 0 {
		hop.Time = parseDate(value[semicolon+1:])
		clauses = value[:semicolon]
	}

	var from, by, with *clause
	var current *clause
	for _, t := range tokenize(clauses) {
		// A keyword starts a clause unless it is the value the previous keyword is waiting for.
		if keyword := clauseKeyword(t); keyword != "" && (current == nil || len(current.words) > 0) {
			current = &clause{}
			switch {
			case keyword == "from" && from == nil:
				from = current
			case keyword == "by" && by == nil:
				by = current
			case keyword == "with" && with == nil:
				with = current
			}
			continue
		}
		if current != nil {
			current.add(t)
		}
	}
	if by != nil && len(by.words) > 0 {
		hop.By = truncate(by.words[0], maxString)
	}
	if with != nil {
		hop.With = truncate(strings.Join(with.head, " "), maxString)
	}
	if from != nil {
		hop.setFrom(from)
		hop.FromName = truncate(hop.FromName, maxString)
		hop.FromRDNS = truncate(hop.FromRDNS, maxString)
	}
	return hop
}

// setFrom fills the From fields of h from the "from" clause c.
func (h *Hop) setFrom(c *clause) {
	var value string
	if len(c.words) > 0 {
		value = c.words[0]
	}
	// What the receiver recorded in comments: "(rdns [addr])" (Postfix, Sendmail, Gmail),
	// "([addr] helo=name)" (Exim), "(HELO name) (addr)" (qmail), "(addr)" (Exchange).
	var helo, rdns string
	var recorded, bare netip.Addr
	for _, comment := range c.comments {
		words := strings.FieldsFunc(comment, func(r rune) bool {
			return r == ' ' || r == '(' || r == ')' || r == ',' || r == ';'
		})
		previous := ""
		for i := 0; i < len(words); i++ {
			word, before := words[i], previous
			previous = ""
			switch {
			case strings.EqualFold(word, "helo") || strings.EqualFold(word, "ehlo"):
				if i+1 < len(words) && helo == "" {
					helo = words[i+1]
				}
				i++ // the HELO text may be an address; it is not the recorded one
				continue
			case len(word) > 5 && strings.EqualFold(word[:5], "helo="):
				helo = cmp.Or(helo, strings.Trim(word[5:], `"`))
				continue
			case strings.ContainsAny(word, "=<>"): // port=, ident=, envelope-from <...>
				continue
			}
			addr, bracketed, ok := parseAddrWord(word)
			switch {
			case !ok:
				previous = word
			case bracketed && !recorded.IsValid():
				recorded, rdns = addr, before
			case !bracketed && !bare.IsValid():
				bare = addr
			}
		}
	}
	var extra netip.Addr // "from unknown (HELO x) [1.2.3.4]"
	for _, word := range c.words[min(1, len(c.words)):] {
		if addr, _, ok := parseAddrWord(word); ok {
			extra = addr
			break
		}
	}
	valueAddr, _, valueIsAddr := parseAddrWord(value)
	for _, addr := range []netip.Addr{recorded, bare, extra, valueAddr} {
		if addr.IsValid() {
			h.FromIP = addr
			break
		}
	}

	switch {
	case helo != "": // qmail and Exim: "from" is the reverse-DNS name, the HELO is marked
		h.FromName = helo
		if !valueIsAddr {
			h.FromRDNS = hostName(value)
		}
	case rdns != "": // Postfix and Sendmail: "from" is the HELO, the comment has the rDNS name
		h.FromName = value
		h.FromRDNS = hostName(rdns)
	case !valueIsAddr || valueAddr != h.FromIP:
		h.FromName = value
	}
}

// hostName cleans a recorded reverse-DNS name: "unknown" means there was none.
func hostName(name string) string {
	if i := strings.LastIndexByte(name, '@'); i >= 0 { // Sendmail's "ident@host"
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, ".")
	if strings.EqualFold(name, "unknown") {
		return ""
	}
	return name
}

// parseAddrWord reads an address written as 1.2.3.4, [1.2.3.4], [IPv6:2001:db8::1], [1.2.3.4]:25,
// 1.2.3.4:25 or user@1.2.3.4. bracketed reports whether it was in square brackets.
func parseAddrWord(word string) (addr netip.Addr, bracketed, ok bool) {
	if at := strings.LastIndexByte(word, '@'); at >= 0 {
		word = word[at+1:]
	}
	if strings.HasPrefix(word, "[") {
		inner, _, closed := strings.Cut(word[1:], "]")
		if !closed {
			return netip.Addr{}, false, false
		}
		word, bracketed = inner, true
	}
	if len(word) > 5 && strings.EqualFold(word[:5], "ipv6:") {
		word = word[5:]
	}
	addr, err := netip.ParseAddr(word)
	if err != nil && !bracketed {
		var addrPort netip.AddrPort
		addrPort, err = netip.ParseAddrPort(word)
		addr = addrPort.Addr()
	}
	if err != nil {
		return netip.Addr{}, false, false
	}
	return addr.WithZone(""), bracketed, true
}

// clause is one "keyword value ..." part of a Received header.
type clause struct {
	words     []string // the words after the keyword, in order
	head      []string // the words before the first comment
	comments  []string // the comments, without their outer parentheses
	commented bool
}

func (c *clause) add(t token) {
	if t.comment {
		c.comments = append(c.comments, t.text)
		c.commented = true
		return
	}
	c.words = append(c.words, t.text)
	if !c.commented {
		c.head = append(c.head, t.text)
	}
}

// token is a word or a parenthesized comment of a header value.
type token struct {
	text    string
	comment bool
}

// clauseKeyword returns the lowercased RFC 5321 clause keyword t is, or "".
func clauseKeyword(t token) string {
	if t.comment {
		return ""
	}
	for _, keyword := range [...]string{"from", "by", "via", "with", "id", "for"} {
		if strings.EqualFold(t.text, keyword) {
			return keyword
		}
	}
	return ""
}

// tokenize splits an unfolded header value into words and comments; nested parentheses stay in
// their comment and an unclosed comment runs to the end.
func tokenize(s string) []token {
	var tokens []token
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ':
			i++
		case '(':
			depth, end := 0, i
			for ; end < len(s); end++ {
				if s[end] == '(' {
					depth++
				} else if s[end] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			tokens = append(tokens, token{s[i+1 : end], true})
			i = end + 1
		default:
			end := i
			for end < len(s) && s[end] != ' ' && s[end] != '(' {
				end++
			}
			tokens = append(tokens, token{s[i:end], false})
			i = end
		}
	}
	return tokens
}

// unfold joins folded lines and collapses every run of whitespace into one space.
func unfold(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
