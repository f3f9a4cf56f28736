package envelope

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// The record as it stands in an archive: one folded header field, readable, recipients as given.
func TestAppendWritesAFoldedField(t *testing.T) {
	e := Envelope{Version: Version, EventID: "839b7deb-4a95-4cf6-a03c-c709d2eec5ed", TrapID: "t1",
		ReceivedAt: time.Date(2026, 12, 3, 12, 48, 34, 269013005, time.UTC), SourceIP: netip.MustParseAddr("81.2.69.160"),
		SourceRule: "smtp-client", SourcePort: 33874, Listener: "192.0.2.1:25", HELO: "bot.example", MailFrom: "Bulk@Sender.test",
		Recipients: []Text{"Victim@trap.example", "用户@trap.example", "nul\x00l@trap.example", "\xff@trap.example"}, TLS: true, Size: 90}
	got, err := Append(nil, e, "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Spamgeo-Envelope: {\r\n" +
		`   "version": 1,` + "\r\n" +
		`   "event_id": "839b7deb-4a95-4cf6-a03c-c709d2eec5ed",` + "\r\n" +
		`   "trap_id": "t1",` + "\r\n" +
		`   "received_at": "2026-12-03T12:48:34.269013005Z",` + "\r\n" +
		`   "source_ip": "81.2.69.160",` + "\r\n" +
		`   "source_rule": "smtp-client",` + "\r\n" +
		`   "source_port": 33874,` + "\r\n" +
		`   "listener": "192.0.2.1:25",` + "\r\n" +
		`   "helo": "bot.example",` + "\r\n" +
		`   "mail_from": "Bulk@Sender.test",` + "\r\n" +
		`   "recipients": [` + "\r\n" +
		`     "Victim@trap.example",` + "\r\n" +
		`     "用户@trap.example",` + "\r\n" +
		`     "nul\u0000l@trap.example",` + "\r\n" +
		`     {` + "\r\n" +
		`       "base64": "/0B0cmFwLmV4YW1wbGU="` + "\r\n" +
		`     }` + "\r\n" +
		`   ],` + "\r\n" +
		`   "tls": true,` + "\r\n" +
		`   "size": 90` + "\r\n" +
		" }\r\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	message := make([]byte, 90)
	back, m, found, err := Cut(append(got, append(message, '\n')...))
	if !found || err != nil || !reflect.DeepEqual(back, e) || len(m) != 90 {
		t.Errorf("Cut = %+v, %d bytes, %v, %v", back, len(m), found, err)
	}
}
