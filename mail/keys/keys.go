// Package keys derives from one message what the messages of a spam campaign share: the
// registered domains it advertises, the template of its subject and a similarity hash of its
// body. Campaign grouping (package campaign) links messages by these keys.
package keys

import (
	"hash/fnv"
	"html"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mfonda/simhash"
	"golang.org/x/net/publicsuffix"
)

// RegisteredDomains returns the registered domains ("eTLD+1", by the public-suffix list) of the
// given host names, unique and sorted: www.shop.example.com.au -> example.com.au. A host that is
// an IP address stays as it is; a host that is itself a public suffix is left out.
func RegisteredDomains(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		if addr, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			out = append(out, addr.Unmap().String())
			continue
		}
		if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// replyPrefix matches the "Re:", "Fwd:" and "Fw:" prefixes spammers add to look like a thread.
var replyPrefix = regexp.MustCompile(`^(?i)\s*((re|fwd?|aw|tr)\s*(\[\d+\])?\s*:\s*)+`)

// SubjectTemplate reduces a subject to what the messages of one campaign share: reply prefixes
// dropped, lower case, every run of digits made "#", every word that mixes letters and digits
// (tracking tags, hash-busters such as "x7Kq2") made "*", punctuation and extra space removed.
// "Re: Order #48213 for John - save 70% today" -> "order # for john save # today".
func SubjectTemplate(subject string) string {
	subject = replyPrefix.ReplaceAllString(subject, "")
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(subject), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '#' && r != '*'
	}) {
		letters := strings.IndexFunc(w, unicode.IsLetter) >= 0
		digits := strings.IndexFunc(w, unicode.IsDigit) >= 0
		switch {
		case letters && digits:
			w = "*"
		case digits || strings.Trim(w, "#*") == "" && strings.Contains(w, "#"):
			w = "#"
		case strings.Trim(w, "*") == "":
			w = "*"
		default:
			w = strings.Trim(w, "#*")
		}
		if n := len(words); n > 0 && words[n-1] == w && (w == "#" || w == "*") {
			continue
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// TemplateWords counts the words of a template that are words (not "#" or "*").
func TemplateWords(template string) int {
	n := 0
	for w := range strings.FieldsSeq(template) {
		if w != "#" && w != "*" {
			n++
		}
	}
	return n
}

// BodyHasher computes the similarity hash of a message body from its decoded text parts:
// Charikar's simhash over overlapping word pairs, so that two bodies differing in a few words
// (a name, a price, a rotated link) get hashes a few bits apart. Links, markup and numbers are
// left out before hashing: campaigns vary exactly those.
type BodyHasher struct {
	vector simhash.Vector
	words  int
}

// minHashWords is how many words a body needs for its hash to mean anything: the hashes of very
// short bodies ("hi", "see attachment") collide across unrelated mail.
const minHashWords = 8

// Add hashes one decoded text part; isHTML drops its markup first. The features are the pairs of
// consecutive lower-cased words, hashed with 64-bit FNV-1 as simhash.VectorizeBytes hashes them,
// without building each pair as a byte slice first (the allocations doubled the parser's time).
func (h *BodyHasher) Add(text string, isHTML bool) {
	if isHTML {
		text = html.UnescapeString(stripMarkup(text))
	}
	var prev, word []byte
	pair := fnv.New64()
	for token := range strings.FieldsSeq(text) {
		if isLink(token) {
			continue
		}
		for w := range strings.FieldsFuncSeq(token, func(r rune) bool { return !unicode.IsLetter(r) }) {
			word = appendLower(word[:0], w)
			h.words++
			if prev != nil {
				pair.Reset()
				pair.Write(prev)
				pair.Write([]byte{' '})
				pair.Write(word)
				sum := pair.Sum64()
				for i := range h.vector {
					h.vector[i] += int(sum>>i&1)*2 - 1 // +1 for a set bit, -1 for a clear one
				}
			}
			prev, word = word, prev
		}
	}
}

// appendLower appends s lower-cased to b.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// isLink tells a token that is (or holds) a URL or a bare www. link.
func isLink(token string) bool {
	return strings.Contains(token, "://") || len(token) > 4 && strings.EqualFold(token[:4], "www.")
}

// stripMarkup replaces HTML tags, comments and the contents of style and script elements with
// spaces, in one pass.
func stripMarkup(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		s = s[i:]
		var end string
		switch {
		case strings.HasPrefix(s, "<!--"):
			end = "-->"
		case hasPrefixFold(s, "<style"):
			end = "</style"
		case hasPrefixFold(s, "<script"):
			end = "</script"
		}
		if end != "" {
			j := indexFold(s, end)
			if j < 0 {
				return b.String()
			}
			s = s[j+len(end):]
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			return b.String()
		}
		s = s[j+1:]
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// indexFold is strings.Index ignoring ASCII case, for short ASCII needles.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

// Sum returns the hash, or 0 when the text had too few words to be compared.
func (h *BodyHasher) Sum() uint64 {
	if h.words < minHashWords {
		return 0
	}
	return simhash.Fingerprint(h.vector)
}

// SimhashDistance is the number of bits in which two body hashes differ.
func SimhashDistance(a, b uint64) int { return int(simhash.Compare(a, b)) }
