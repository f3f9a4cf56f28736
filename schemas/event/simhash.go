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
func ParseSimhash(s string) Simhash {
	if len(s) != 16 {
		return 0
	}
	h, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0
	}
	return Simhash(h)
}

// MarshalJSON writes h as a JSON string of 16 hex digits (the field is omitted when h is 0).
func (h Simhash) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, h.String()), nil
}

// UnmarshalJSON reads a JSON string; one that is not 16 hex digits is no hash, as a producer
// that wrote a malformed one has no body hash to offer.
func (h *Simhash) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*h = ParseSimhash(s)
	return nil
}
