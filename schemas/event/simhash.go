package event

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Simhash is the similarity hash of a message body's text (mail/keys computes it); 0 means the
// body had too little text. Events carry it as 16 lower-case hex digits, absent when 0.
type Simhash uint64

// String writes h as events carry it: 16 lower-case hex digits, "" for none.
func (h Simhash) String() string {
	if h == 0 {
		return ""
	}
	s := strconv.FormatUint(uint64(h), 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// ParseSimhash reads what String wrote; "" and anything malformed are 0 (no hash).
func ParseSimhash(s string) Simhash { return parseHex16(s) }

// parseHex16 reads 16 hex digits, either case; anything else is 0.
func parseHex16[T string | []byte](s T) Simhash {
	if len(s) != 16 {
		return 0
	}
	var h uint64
	for i := range len(s) {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			h = h<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			h = h<<4 | uint64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			h = h<<4 | uint64(c-'A'+10)
		default:
			return 0
		}
	}
	return Simhash(h)
}

// MarshalJSON writes h as a JSON string of 16 hex digits (the field is omitted when h is 0).
func (h Simhash) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, h.String()), nil
}

// UnmarshalJSON reads a JSON string; one that is not 16 hex digits is no hash, as a producer
// that wrote a malformed one has no body hash to offer. The form String writes is read in place
// (a string of 16 bytes with an escape in it decodes to fewer than 16 characters: no hash
// either way); other strings go through encoding/json, for their escapes.
func (h *Simhash) UnmarshalJSON(b []byte) error {
	if len(b) == 18 && b[0] == '"' && b[17] == '"' {
		*h = parseHex16(b[1:17])
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*h = ParseSimhash(s)
	return nil
}
