package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// MaxSize is the largest encoded event a reader accepts; anything longer is malformed input,
// not an event (real events are a few hundred bytes).
const MaxSize = 64 << 10

// DecodeError explains why a Kafka message is not a valid event. Its text is the reason
// recorded with the message in the dead-letter topic.
type DecodeError struct{ Reason string }

func (e *DecodeError) Error() string { return e.Reason }

// EncodeRaw returns the wire form of r, with ReceivedAt in UTC.
func EncodeRaw(r *Raw) ([]byte, error) {
	c := *r
	c.ReceivedAt = c.ReceivedAt.UTC()
	return json.Marshal(&c)
}

// EncodeEnriched returns the wire form of e, with ReceivedAt in UTC.
func EncodeEnriched(e *Enriched) ([]byte, error) {
	return AppendEnriched(nil, e), nil
}

// AppendEnriched appends the wire form of e to dst, so a batch can share one buffer.
func AppendEnriched(dst []byte, e *Enriched) []byte { return appendEnriched(dst, e) }

// DecodeRaw parses and validates a raw event; a *DecodeError says what is wrong.
func DecodeRaw(b []byte) (Raw, error) {
	var r Raw
	if len(b) > MaxSize || !decodeRawFast(b, &r) {
		r = Raw{}
		if err := decode(b, &r); err != nil {
			return Raw{}, err
		}
	}
	if err := r.Validate(); err != nil {
		return Raw{}, &DecodeError{"invalid raw event: " + err.Error()}
	}
	r.ReceivedAt = r.ReceivedAt.UTC()
	return r, nil
}

// DecodeEnriched parses and validates an enriched event; a *DecodeError says what is wrong.
func DecodeEnriched(b []byte) (Enriched, error) {
	var e Enriched
	if len(b) > MaxSize || !decodeEnrichedFast(b, &e) {
		e = Enriched{}
		if err := decode(b, &e); err != nil {
			return Enriched{}, err
		}
	}
	if err := e.Validate(); err != nil {
		return Enriched{}, &DecodeError{"invalid enriched event: " + err.Error()}
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}

func decode(b []byte, v any) error {
	if len(b) > MaxSize {
		return &DecodeError{fmt.Sprintf("event of %d bytes exceeds the %d-byte limit", len(b), MaxSize)}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &DecodeError{"not an event: " + err.Error()}
	}
	return nil
}

// RawView is what the enricher needs of a raw event — where and when it came from — read
// without copying the rest. It keeps the input, which must not change while the view is used.
type RawView struct {
	SourceIP   netip.Addr
	ReceivedAt time.Time
	body       []byte // canonical input (read by the fast path), spliced into the output
	decoded    *Raw   // the event, when encoding/json had to read it
}

// ViewRaw validates a raw event as DecodeRaw does and returns its view.
func ViewRaw(b []byte) (RawView, error) {
	var f rawFields
	if len(b) <= MaxSize && scanRaw(b, &f) {
		r := f.view()
		if err := r.Validate(); err != nil {
			return RawView{}, &DecodeError{"invalid raw event: " + err.Error()}
		}
		return RawView{SourceIP: r.SourceIP, ReceivedAt: r.ReceivedAt, body: b}, nil
	}
	r, err := DecodeRaw(b)
	if err != nil {
		return RawView{}, err
	}
	return RawView{SourceIP: r.SourceIP, ReceivedAt: r.ReceivedAt, decoded: &r}, nil
}

// AppendEnrichedView appends the enriched event of v and g to dst. A canonical input is copied
// as it is, with the geography added before its closing brace; any other is encoded anew.
func AppendEnrichedView(dst []byte, v *RawView, g *Geo) []byte {
	if v.decoded != nil {
		return appendEnriched(dst, &Enriched{Raw: *v.decoded, Geo: *g})
	}
	end := bytes.LastIndexByte(v.body, '}')
	dst = append(dst, bytes.TrimRight(v.body[:end], " \t\r\n")...)
	return appendGeo(dst, g)
}
