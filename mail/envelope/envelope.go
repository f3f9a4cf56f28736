// Package envelope is the record spamgeo trap writes above each message in its archive: what the
// SMTP transaction said that the message does not (client, HELO, MAIL FROM, the recipients
// exactly as given, TLS) with the trap's event id and time of receipt, so that importing the
// archive gives back the event the trap published.
//
// The record is one header field, X-Spamgeo-Envelope, above the message's own header. Its value
// is a JSON object, folded over lines that start with a space: UTF-8 as RFC 6532 allows, any
// control character escaped, and a string that is not valid UTF-8 written as {"base64": ...}, so
// every byte the client sent is kept. The message follows byte for byte. A message cannot
// forge the record: it is the first field of the entry, above anything the client sent. The
// record holds the message's size, so a reader takes exactly the bytes received and knows when
// they were cut short.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spamgeo/spamgeo/schemas/event"
)

// Field is the name of the header field the record is written in.
const Field = "X-Spamgeo-Envelope"

// Version is the version of the record this code writes; a reader refuses others.
const Version = 1

// Envelope is the record of one accepted message.
type Envelope struct {
	Version    int        `json:"version"`
	EventID    string     `json:"event_id"`
	TrapID     string     `json:"trap_id"`
	ReceivedAt time.Time  `json:"received_at"`
	SourceIP   netip.Addr `json:"source_ip"`
	// SourceRule and SourceHop say how SourceIP was chosen, as in event.Mail.
	SourceRule string `json:"source_rule"`
	SourceHop  int    `json:"source_hop,omitempty"`
	SourcePort uint16 `json:"source_port,omitempty"`
	Listener   string `json:"listener,omitempty"`
	HELO       Text   `json:"helo"`
	// MailFrom is the envelope sender, empty for the null sender.
	MailFrom Text `json:"mail_from"`
	// Recipients are the accepted recipients in the order, case and number given.
	Recipients []Text `json:"recipients"`
	TLS        bool   `json:"tls"`
	// Size is the message's length in bytes.
	Size int64 `json:"size"`
	// Defects are what the trap found wrong in the session rather than in the message.
	Defects []string `json:"defects,omitempty"`
}

// sessionDefect tells the defects a trap adds to a message's own: those of finding the source
// behind a trusted relay ("received-no-received" and so on).
func sessionDefect(d string) bool { return strings.HasPrefix(d, "received-") }

// Of is the record of the live event r.
func Of(r *event.Raw) Envelope {
	e := Envelope{Version: Version, EventID: r.EventID, TrapID: r.TrapID, ReceivedAt: r.ReceivedAt.UTC(),
		SourceIP: r.SourceIP, HELO: Text(r.HELO), MailFrom: Text(r.MailFrom), Size: r.Size, Recipients: []Text{}}
	if m := r.Mail; m != nil {
		e.SourceRule, e.SourceHop, e.SourcePort, e.Listener, e.TLS = m.SourceRule, m.SourceHop, m.SourcePort, m.Listener, m.TLS
		for _, rcpt := range m.Recipients {
			e.Recipients = append(e.Recipients, Text(rcpt))
		}
		for _, d := range m.Defects {
			if sessionDefect(d) {
				e.Defects = append(e.Defects, d)
			}
		}
	}
	return e
}

// RecipientStrings are the recipients as strings, nil when there are none.
func (e *Envelope) RecipientStrings() []string {
	var out []string
	for _, r := range e.Recipients {
		out = append(out, string(r))
	}
	return out
}

// Append appends the record's header field to dst, its lines ended with eol ("\n" or "\r\n").
func Append(dst []byte, e Envelope, eol string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Every line after the first starts with a space: a folded header field.
	enc.SetIndent(" ", "  ")
	if err := enc.Encode(e); err != nil {
		return dst, fmt.Errorf("envelope: %w", err)
	}
	value := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	dst = append(dst, Field+": "...)
	if eol != "\n" {
		// JSON strings hold no raw line end: every newline is one the encoder put between tokens.
		value = bytes.ReplaceAll(value, []byte("\n"), []byte(eol))
	}
	dst = append(dst, value...)
	return append(dst, eol...), nil
}

// ErrIncomplete is the error of an entry whose message is shorter than its record says: it was
// cut short.
var ErrIncomplete = errors.New("message shorter than its envelope says: cut short")

// Cut splits an archive entry into its record and the message below it. found is false when
// the entry does not start with a record (an archive of something else, or of a trap from before
// records); err says why an entry that starts with one cannot be read.
func Cut(entry []byte) (e Envelope, message []byte, found bool, err error) {
	rest, ok := bytes.CutPrefix(entry, []byte(Field+":"))
	if !ok {
		return Envelope{}, nil, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	if err := dec.Decode(&e); err != nil {
		return Envelope{}, nil, true, fmt.Errorf("envelope: %w", err)
	}
	if e.Version != Version {
		return Envelope{}, nil, true, fmt.Errorf("envelope: version %d, want %d", e.Version, Version)
	}
	rest = rest[dec.InputOffset():]
	var eol bool
	if rest, eol = bytes.CutPrefix(rest, []byte("\r\n")); !eol {
		if rest, eol = bytes.CutPrefix(rest, []byte("\n")); !eol {
			return Envelope{}, nil, true, errors.New("envelope: no line end after the record")
		}
	}
	switch extra := int64(len(rest)) - e.Size; {
	case e.Size < 0:
		return Envelope{}, nil, true, fmt.Errorf("envelope: size %d", e.Size)
	case extra < 0:
		return Envelope{}, nil, true, fmt.Errorf("%w (%d of %d bytes)", ErrIncomplete, len(rest), e.Size)
	case extra > 2 || len(bytes.Trim(rest[e.Size:], "\r\n")) > 0:
		// An mbox entry may keep the line end its writer added to a message that has none.
		return Envelope{}, nil, true, fmt.Errorf("envelope: %d bytes after the message of %d", extra, e.Size)
	}
	return e, rest[:e.Size], true, nil
}

// Text is a string a client sent, kept byte for byte: in JSON a string when it is valid UTF-8,
// else {"base64": "..."}.
type Text string

type encodedText struct {
	Base64 []byte `json:"base64"`
}

// MarshalJSON writes t as a JSON string, or as its bytes in base64 when it is not valid UTF-8
// (a JSON string would replace them).
func (t Text) MarshalJSON() ([]byte, error) {
	if !utf8.ValidString(string(t)) {
		return json.Marshal(encodedText{[]byte(t)})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(t)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads either form MarshalJSON writes.
func (t *Text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var enc encodedText
		if err := json.Unmarshal(b, &enc); err != nil {
			return err
		}
		*t = Text(enc.Base64)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = Text(s)
	return nil
}
