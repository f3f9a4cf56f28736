package envelope

import (
	"regexp"

	"github.com/google/uuid"

	"github.com/spamgeo/spamgeo/mail/mailparse"
)

// Unwrap returns the message an archive entry holds, as received, and the envelope record
// spamgeo trap wrote above it; the record is nil for an entry without one (another archive, or
// the trap's from before records), whose message is the entry itself.
func Unwrap(entry []byte) ([]byte, *Envelope, error) {
	env, message, found, err := Cut(entry)
	switch {
	case !found:
		return entry, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return message, &env, nil
}

// trapHeader recognises the Received header spamgeo trap wrote into its archive before it wrote
// envelope records; it carries the event id the live trap published.
var trapHeader = regexp.MustCompile(`\(spamgeo trap ([^)\s]+)\) with \S+ id ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

// TrapHop reads the trap id and event id from the first Received header of msg when spamgeo
// trap wrote it (its archives from before envelope records).
func TrapHop(msg *mailparse.Message) (trapID, eventID string, ok bool) {
	if len(msg.Received) == 0 || !msg.Received[0].FromIP.IsValid() {
		return "", "", false
	}
	m := trapHeader.FindStringSubmatch(msg.Received[0].Raw)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// idNamespace is the UUIDv5 namespace of ids derived from message content.
var idNamespace = uuid.MustParse("2b0f7c4e-9a3d-5e61-8c2f-4d7a1e9b3c50")

// EventID is the event id of an archived message whose parse is msg: the one the trap recorded
// in env or, in its older archives, in its Received header; else one derived from the content.
// Replay gives the message's event this id, and an evidence bundle finds the message by it.
func EventID(message []byte, env *Envelope, msg *mailparse.Message) string {
	if env != nil {
		return env.EventID
	}
	if _, id, ok := TrapHop(msg); ok {
		return id
	}
	return uuid.NewSHA1(idNamespace, message).String()
}
