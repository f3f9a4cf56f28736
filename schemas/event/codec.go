package event

import (
	"encoding/json"
	"fmt"
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
	c := *e
	c.ReceivedAt = c.ReceivedAt.UTC()
	return json.Marshal(&c)
}

// DecodeRaw parses and validates a raw event; a *DecodeError says what is wrong.
func DecodeRaw(b []byte) (Raw, error) {
	var r Raw
	if err := decode(b, &r); err != nil {
		return Raw{}, err
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
	if err := decode(b, &e); err != nil {
		return Enriched{}, err
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
