package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func sampleRaw() Raw {
	return Raw{
		SchemaVersion: SchemaVersion,
		EventID:       "6f1c2a1e-8d0b-5c3e-9f4a-1b2c3d4e5f60",
		ReceivedAt:    time.Date(2005, 4, 1, 12, 30, 0, 0, time.UTC),
		TrapID:        "trap-1",
		Collector:     CollectorSynth,
		SourceIP:      netip.MustParseAddr("192.0.2.7"),
		HELO:          "mail.example.com",
		MailFrom:      "bulk@example.com",
		RcptCount:     3,
		Size:          2048,
	}
}

func sampleEnriched() Enriched {
	lat, lon := 37.751, -97.822
	return Enriched{Raw: sampleRaw(), Geo: Geo{
		CountryCode: "US", ContinentCode: "NA", ASN: 64500, ASOrg: "Example Net",
		GeoIPBuild: "test@2026-01-01", AddressClass: "public", City: "Wichita", Subdivision: "US-KS",
		Latitude: &lat, Longitude: &lon,
	}}
}

func compileSchemas(t *testing.T) (raw, enriched *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{"raw.v1.schema.json", "enriched.v1.schema.json"} {
		b, err := fs.ReadFile(Schemas, name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource("https://spamgeo.example/schemas/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	raw = c.MustCompile("https://spamgeo.example/schemas/raw.v1.schema.json")
	enriched = c.MustCompile("https://spamgeo.example/schemas/enriched.v1.schema.json")
	return raw, enriched
}

func validateJSON(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// The Go types and the JSON Schema files describe the same objects: what Go writes validates,
// every property Go writes is declared, and every declared property is written.
func TestGoTypesMatchSchemas(t *testing.T) {
	rawSchema, enrichedSchema := compileSchemas(t)
	r := sampleRaw()
	rb, err := EncodeRaw(&r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, rawSchema, rb); err != nil {
		t.Errorf("encoded raw event does not validate: %v", err)
	}
	e := sampleEnriched()
	eb, err := EncodeEnriched(&e)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, enrichedSchema, eb); err != nil {
		t.Errorf("encoded enriched event does not validate: %v", err)
	}

	for _, tc := range []struct {
		schema  string
		encoded []byte
		extra   []string
	}{
		{"raw.v1.schema.json", rb, nil},
		{"enriched.v1.schema.json", eb, keys(t, rb)},
	} {
		b, _ := fs.ReadFile(Schemas, tc.schema)
		var doc struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		declared := map[string]bool{}
		for p := range doc.Properties {
			declared[p] = true
		}
		for _, p := range tc.extra {
			declared[p] = true
		}
		written := keys(t, tc.encoded)
		for _, k := range written {
			if !declared[k] {
				t.Errorf("%s: Go writes %q, which the schema does not declare", tc.schema, k)
			}
		}
		for _, k := range doc.Required {
			if !contains(written, k) {
				t.Errorf("%s: schema requires %q, which Go does not write", tc.schema, k)
			}
		}
	}
}

func keys(t *testing.T, b []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRoundTrip(t *testing.T) {
	e := sampleEnriched()
	e.ReceivedAt = e.ReceivedAt.In(time.FixedZone("CEST", 2*3600))
	e.SourceIP = netip.MustParseAddr("2001:db8::1")
	b, err := EncodeEnriched(&e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEnriched(b)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleEnriched()
	want.SourceIP = e.SourceIP
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if !strings.Contains(string(b), `"received_at":"2005-04-01T12:30:00Z"`) {
		t.Errorf("received_at not written in UTC: %s", b)
	}
}

func TestDecodeRawRejects(t *testing.T) {
	rawSchema, _ := compileSchemas(t)
	good := sampleRaw()
	mutate := func(f func(m map[string]any)) []byte {
		b, _ := EncodeRaw(&good)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	for _, tc := range []struct {
		name   string
		input  []byte
		reason string
	}{
		{"empty", nil, "not an event"},
		{"garbage", []byte("\x00\xffnot json"), "not an event"},
		{"array", []byte(`[1,2]`), "not an event"},
		{"oversized", bytes.Repeat([]byte(" "), MaxSize+1), "exceeds"},
		{"future schema", mutate(func(m map[string]any) { m["schema_version"] = 2 }), "schema_version 2"},
		{"no schema version", mutate(func(m map[string]any) { delete(m, "schema_version") }), "schema_version 0"},
		{"bad event id", mutate(func(m map[string]any) { m["event_id"] = "42" }), "event_id"},
		{"bad ip", mutate(func(m map[string]any) { m["source_ip"] = "300.1.1.1" }), "not an event"},
		{"no ip", mutate(func(m map[string]any) { delete(m, "source_ip") }), "source_ip is missing"},
		{"bad time", mutate(func(m map[string]any) { m["received_at"] = "yesterday" }), "not an event"},
		{"no time", mutate(func(m map[string]any) { delete(m, "received_at") }), "received_at is missing"},
		{"before 1970", mutate(func(m map[string]any) { m["received_at"] = "1969-12-31T23:59:59Z" }), "outside 1970-2105"},
		{"after 2105", mutate(func(m map[string]any) { m["received_at"] = "2106-01-01T00:00:00Z" }), "outside 1970-2105"},
		{"no trap", mutate(func(m map[string]any) { m["trap_id"] = "" }), "trap_id"},
		{"negative size", mutate(func(m map[string]any) { m["size"] = -1 }), "size"},
		{"size type", mutate(func(m map[string]any) { m["size"] = "big" }), "not an event"},
		{"size above UInt32", mutate(func(m map[string]any) { m["size"] = int64(1) << 32 }), "size 4294967296 is outside 0-4294967295"},
		{"rcpt_count above UInt16", mutate(func(m map[string]any) { m["rcpt_count"] = 65536 }), "rcpt_count 65536 is outside 0-65535"},
		{"unknown collector", mutate(func(m map[string]any) { m["collector"] = "carrier-pigeon" }), `collector "carrier-pigeon"`},
		{"no collector", mutate(func(m map[string]any) { delete(m, "collector") }), `collector ""`},
		{"zoned link-local", mutate(func(m map[string]any) { m["source_ip"] = "fe80::1%eth0" }), "has a zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRaw(tc.input)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeRaw = %v, want a *DecodeError", err)
			}
			if !strings.Contains(de.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", de.Reason, tc.reason)
			}
			// The schema agrees with the decoder wherever the input is JSON at all.
			if json.Valid(tc.input) && len(tc.input) <= MaxSize {
				if validateJSON(t, rawSchema, tc.input) == nil {
					t.Errorf("schema accepts what the decoder rejects: %s", tc.input)
				}
			}
		})
	}
}

// Issue 18, finding 9: a size of 2^63-1 was accepted and stored as 4294967295 (the events
// table's UInt32 saturated), and a zone on a public IPv6 address or an unknown collector passed.
// Every reader of events (DecodeRaw, DecodeEnriched, ViewRaw: replay, enricher, sink) refuses
// them with the same reason, and so does the JSON Schema; the largest storable values pass.
func TestDecodeRefusesValuesTheEventsTableCannotHold(t *testing.T) {
	rawSchema, enrichedSchema := compileSchemas(t)
	enrich := func(raw string) string {
		return strings.TrimSuffix(raw, "}") + `,"country_code":"US","continent_code":"NA","asn":1,"as_org":"","geoip_build":"b"}`
	}
	for _, tc := range []struct {
		name, field, value, reason string
	}{
		{"size 2^63-1", `"size":2048`, `"size":9223372036854775807`, "size 9223372036854775807 is outside 0-4294967295"},
		{"size 2^32", `"size":2048`, `"size":4294967296`, "size 4294967296 is outside 0-4294967295"},
		{"rcpt_count 2^16", `"rcpt_count":3`, `"rcpt_count":65536`, "rcpt_count 65536 is outside 0-65535"},
		{"zone on public IPv6", `"source_ip":"192.0.2.7"`, `"source_ip":"2a00:1450::1%eth0"`, "source_ip 2a00:1450::1%eth0 has a zone"},
		{"zone on link-local IPv6", `"source_ip":"192.0.2.7"`, `"source_ip":"fe80::1%eth0"`, "source_ip fe80::1%eth0 has a zone"},
		{"unknown collector", `"collector":"synth"`, `"collector":"mx"`, `collector "mx" is not trap, replay or synth`},
		{"largest size", `"size":2048`, `"size":4294967295`, ""},
		{"largest rcpt_count", `"rcpt_count":3`, `"rcpt_count":65535`, ""},
		{"link-local without zone", `"source_ip":"192.0.2.7"`, `"source_ip":"fe80::1"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRaw()
			canonical, _ := EncodeRaw(&r)
			if !bytes.Contains(canonical, []byte(tc.field)) {
				t.Fatalf("%s not in %s", tc.field, canonical)
			}
			raw := strings.Replace(string(canonical), tc.field, tc.value, 1)
			_, errRaw := DecodeRaw([]byte(raw))
			_, errView := ViewRaw([]byte(raw))
			_, errEnriched := DecodeEnriched([]byte(enrich(raw)))
			schemaRaw := validateJSON(t, rawSchema, []byte(raw))
			schemaEnriched := validateJSON(t, enrichedSchema, []byte(enrich(raw)))
			if tc.reason == "" {
				if errRaw != nil || errView != nil || errEnriched != nil || schemaRaw != nil || schemaEnriched != nil {
					t.Fatalf("%s refused: raw %v, view %v, enriched %v, schema %v / %v", raw, errRaw, errView, errEnriched, schemaRaw, schemaEnriched)
				}
				return
			}
			for name, err := range map[string]error{"DecodeRaw": errRaw, "ViewRaw": errView, "DecodeEnriched": errEnriched} {
				if err == nil || !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("%s = %v, want a refusal saying %q", name, err, tc.reason)
				}
			}
			if schemaRaw == nil || schemaEnriched == nil {
				t.Errorf("the schemas accept %s", raw)
			}
		})
	}
}

func TestDecodeEnrichedRequiresCountry(t *testing.T) {
	e := sampleEnriched()
	e.CountryCode = ""
	b, _ := json.Marshal(&e)
	if _, err := DecodeEnriched(b); err == nil || !strings.Contains(err.Error(), "country_code") {
		t.Errorf("DecodeEnriched without country = %v", err)
	}
	r := sampleRaw()
	b, _ = EncodeRaw(&r)
	if _, err := DecodeEnriched(b); err == nil {
		t.Error("a raw event decoded as an enriched one")
	}
}

func FuzzDecodeRaw(f *testing.F) {
	r := sampleRaw()
	b, _ := EncodeRaw(&r)
	f.Add(b)
	f.Add([]byte(`{"schema_version":1}`))
	f.Add([]byte(`{"source_ip":"::ffff:1.2.3.4","received_at":"2005-01-01T00:00:00+14:00"}`))
	for _, change := range [][2]string{
		{`"size":2048`, `"size":9223372036854775807`}, {`"size":2048`, `"size":4294967295`},
		{`"rcpt_count":3`, `"rcpt_count":65536`}, {`"collector":"synth"`, `"collector":"mx"`},
		{`"source_ip":"192.0.2.7"`, `"source_ip":"fe80::1%eth0"`}, {`"source_ip":"192.0.2.7"`, `"source_ip":"2a00:1450::1%25"`},
	} {
		f.Add([]byte(strings.Replace(string(b), change[0], change[1], 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRaw(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *DecodeError: %v", err)
			}
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, err := EncodeRaw(&r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRaw(again)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", r, r2)
		}
	})
}

func BenchmarkDecodeRaw(b *testing.B) {
	r := sampleRaw()
	data, _ := EncodeRaw(&r)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeRaw(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEnriched is the sink's per-event decode: the fast path, and encoding/json (which
// the sink used before) for comparison in the same run.
func BenchmarkDecodeEnriched(b *testing.B) {
	e := sampleEnriched()
	e.Latitude, e.Longitude = nil, nil // coordinates take the encoding/json path
	data, _ := EncodeEnriched(&e)
	if !decodeEnrichedFast(data, &Enriched{}) {
		b.Fatalf("the fast path declines %s", data)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEnriched(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out Enriched
			if err := decode(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeEnriched(b *testing.B) {
	e := sampleEnriched()
	for b.Loop() {
		if _, err := EncodeEnriched(&e); err != nil {
			b.Fatal(err)
		}
	}
}

// The fast decoder agrees with encoding/json wherever it answers, and the fast encoder's output
// decodes (with encoding/json) to the event it encoded.
func FuzzFastPathsAgreeWithEncodingJSON(f *testing.F) {
	r := sampleRaw()
	canonical, _ := EncodeRaw(&r)
	f.Add(canonical)
	e := sampleEnriched()
	enriched, _ := EncodeEnriched(&e)
	f.Add(enriched)
	f.Add([]byte(`{"schema_version":1,"received_at":"2005-04-01T12:30:00.123456789Z","size":-0,"helo":"h\u00e9","Event_ID":"x"}`))
	f.Add([]byte(` {"source_ip":"::ffff:1.2.3.4","received_at":"2005-02-29T00:00:00Z","rcpt_count":01} `))
	f.Add([]byte(`{"asn":4294967296,"country_code":"US","city":"x","latitude":1.5}`))
	f.Add([]byte(`{"asn":-1,"as_org":"A","subdivision":"US-CA","address_class":"public","geoip_build":"b","continent_code":"NA"}`))
	f.Add([]byte(`{"source_ip":"fe80::1%eth0","size":9223372036854775807,"rcpt_count":65536,"collector":"mx"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Raw
		if decodeRawFast(data, &fast) {
			var ref Raw
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
			}
			if !reflect.DeepEqual(fast, ref) {
				t.Fatalf("fast path and encoding/json differ on %q:\n%+v\n%+v", data, fast, ref)
			}
		}
		var fastE Enriched
		if decodeEnrichedFast(data, &fastE) {
			var refE Enriched
			if err := json.Unmarshal(data, &refE); err != nil {
				t.Fatalf("fast enriched path accepted what encoding/json rejects (%v): %q", err, data)
			}
			if !reflect.DeepEqual(fastE, refE) {
				t.Fatalf("fast enriched path and encoding/json differ on %q:\n%+v\n%+v", data, fastE, refE)
			}
		}
		var ref Raw
		if json.Unmarshal(data, &ref) != nil {
			return
		}
		out := AppendEnriched(nil, &Enriched{Raw: ref, Geo: Geo{CountryCode: "US", ASOrg: ref.HELO, GeoIPBuild: ref.MailFrom}})
		var back Enriched
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("fast encoder wrote invalid JSON (%v): %s", err, out)
		}
		want := Enriched{Raw: ref, Geo: Geo{CountryCode: "US", ASOrg: ref.HELO, GeoIPBuild: ref.MailFrom}}
		want.ReceivedAt = want.ReceivedAt.UTC()
		back.ReceivedAt = back.ReceivedAt.UTC()
		if ref.ReceivedAt.Year() < 0 || ref.ReceivedAt.Year() > 9999 {
			return // outside what RFC 3339 can write
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("fast encoding does not round-trip:\n%+v\n%+v\n%s", back, want, out)
		}
	})
}

// ViewRaw and AppendEnrichedView, the enricher's path, give exactly what DecodeRaw and
// EncodeEnriched give, for canonical input and for anything encoding/json has to read.
func FuzzViewMatchesDecode(f *testing.F) {
	r := sampleRaw()
	canonical, _ := EncodeRaw(&r)
	f.Add(canonical)
	f.Add([]byte(strings.Replace(string(canonical), `"helo":"mail.example.com"`, `"helo":"m\u00e9il <x>"`, 1)))
	f.Add([]byte(strings.Replace(string(canonical), `"size":2048`, `"size":2048, "future_field": [1, {"a": null}]`, 1)))
	f.Add([]byte(strings.Replace(string(canonical), `"trap_id":"trap-1"`, `"trap_id":""`, 1)))
	f.Add([]byte(string(canonical) + "  \n"))
	f.Add([]byte(strings.Replace(string(canonical), `"size":2048`, `"size":9223372036854775807`, 1)))
	f.Add([]byte(strings.Replace(string(canonical), `"collector":"synth"`, `"collector":"Trap"`, 1)))
	f.Add([]byte(strings.Replace(string(canonical), `"source_ip":"192.0.2.7"`, `"source_ip":"fe80::1%eth0"`, 1)))
	f.Add([]byte(strings.Replace(string(canonical), `"source_ip":"192.0.2.7"`, `"source_ip":"::ffff:192.0.2.7%1"`, 1)))
	geo := Geo{CountryCode: "KR", ContinentCode: "AS", ASN: 4766, ASOrg: `Korea "Telecom"`, GeoIPBuild: "b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := DecodeRaw(data)
		v, err := ViewRaw(data)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("ViewRaw error %v, DecodeRaw error %v, on %q", err, wantErr, data)
		}
		if err != nil {
			return
		}
		if v.SourceIP != want.SourceIP || !v.ReceivedAt.Equal(want.ReceivedAt) {
			t.Fatalf("view %v %v, decoded %v %v", v.SourceIP, v.ReceivedAt, want.SourceIP, want.ReceivedAt)
		}
		out := AppendEnrichedView(nil, &v, &geo)
		got, err := DecodeEnriched(out)
		if err != nil {
			t.Fatalf("enriched output does not decode (%v): %s", err, out)
		}
		if w := (Enriched{Raw: want, Geo: geo}); !reflect.DeepEqual(got, w) {
			t.Fatalf("enriched output differs:\n%+v\n%+v\n%s", got, w, out)
		}
	})
}

func BenchmarkEnrichPath(b *testing.B) {
	r := sampleRaw()
	data, _ := EncodeRaw(&r)
	geo := Geo{CountryCode: "US", ContinentCode: "NA", ASN: 64500, ASOrg: "Example Net", GeoIPBuild: "country ipvAll@2026-06-01"}
	buf := make([]byte, 0, 1<<16)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, err := ViewRaw(data)
		if err != nil {
			b.Fatal(err)
		}
		buf = AppendEnrichedView(buf[:0], &v, &geo)
	}
}

// A trap's mail details travel through the enricher's view path unchanged, validate against
// both schemas and decode back to what the trap wrote.
func TestMailDetailsSurviveEnrichment(t *testing.T) {
	date := time.Date(2005, 4, 1, 10, 0, 0, 0, time.UTC)
	r := sampleRaw()
	r.Collector = CollectorTrap
	r.Mail = &Mail{SourceRule: SourceReceived, SourceHop: 1, SourceHeader: "from x ([192.0.2.7]) by mx", TLS: true,
		Recipients: []string{"trap@example.org"}, From: "Ünïcode <a@b>", Subject: "Buy \"now\"\n", MessageID: "id@x",
		Date: &date, XMailer: "Bulk 1.0", BodySHA256: strings.Repeat("ab", 32), URLHosts: []string{"a.example", "b.example"},
		Defects: []string{"bad-charset"}}
	b, err := EncodeRaw(&r)
	if err != nil {
		t.Fatal(err)
	}
	rawSchema, enrichedSchema := compileSchemas(t)
	if err := validateJSON(t, rawSchema, b); err != nil {
		t.Fatalf("raw event with mail details does not validate: %v", err)
	}
	v, err := ViewRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	g := sampleEnriched().Geo
	out := AppendEnrichedView(nil, &v, &g)
	if err := validateJSON(t, enrichedSchema, out); err != nil {
		t.Fatalf("enriched event does not validate: %v\n%s", err, out)
	}
	got, err := DecodeEnriched(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Raw, r) {
		t.Errorf("mail details changed on the way:\n got %+v\nwant %+v", got.Mail, r.Mail)
	}
}

// Every single-byte change of a valid UUID is judged as the pattern of the schema judges it.
func TestValidUUIDEveryByte(t *testing.T) {
	pattern := regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	base := []byte("0f8fad5b-d9cb-469f-a165-70867728950e")
	for i := range base {
		for c := range 256 {
			s := slices.Clone(base)
			s[i] = byte(c)
			if got, want := validUUID(string(s)), pattern.Match(s); got != want {
				t.Fatalf("%q: validUUID says %v", s, got)
			}
		}
	}
	for _, s := range []string{"", string(base[:35]), string(base) + "0"} {
		if validUUID(s) {
			t.Errorf("%q passes", s)
		}
	}
}

// The eight-byte scan stops where a byte-by-byte scan stops, wherever the special byte sits.
func TestPlainLenEveryPosition(t *testing.T) {
	for n := range 20 {
		for at := range n {
			for c := range 256 {
				s := bytes.Repeat([]byte{'a'}, n)
				s[at] = byte(c)
				want := 0
				for want < n && !special[s[want]] {
					want++
				}
				if got := plainLen(s); got != want {
					t.Fatalf("%q: %d, want %d", s, got, want)
				}
				if got := plainLen(string(s)); got != want {
					t.Fatalf("%q as a string: %d, want %d", s, got, want)
				}
			}
		}
	}
}

// Integers up to 18 digits are read without strconv; longer ones still are.
func TestParserIntegerBounds(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "-0": 0, "7": 7, "-12": -12, "999999999999999999": 999999999999999999,
		"-999999999999999999": -999999999999999999, "1000000000000000000": 1000000000000000000,
		"9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808} {
		p := parser{b: []byte(in)}
		if got, ok := p.integer(); !ok || got != want || p.i != len(in) {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-", "01", "-01", "1.5", "1e3", "9223372036854775808", "-9223372036854775809"} {
		p := parser{b: []byte(in)}
		if got, ok := p.integer(); ok {
			t.Errorf("%s: read as %d", in, got)
		}
	}
}

func TestDaysIn(t *testing.T) {
	for year := 1600; year <= 2400; year++ {
		for m := time.January; m <= time.December; m++ {
			if got, want := daysIn(m, year), time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("%d-%02d: %d days, want %d", year, m, got, want)
			}
		}
	}
}

// A body hash is 16 hex digits on the wire, absent when there is none, and a malformed one
// reads as none, as the sink has always stored it.
func TestSimhashOnTheWire(t *testing.T) {
	for _, h := range []Simhash{1, 0xfedcba9876543210, 0x0123} {
		if got := ParseSimhash(h.String()); got != h || len(h.String()) != 16 {
			t.Errorf("%d: written %q, read back %d", h, h.String(), got)
		}
	}
	b, err := json.Marshal(Mail{BodySimhash: 0x2a})
	if err != nil || !strings.Contains(string(b), `"body_simhash":"000000000000002a"`) {
		t.Errorf("mail with a hash: %s (%v)", b, err)
	}
	if b, _ := json.Marshal(Mail{}); strings.Contains(string(b), "body_simhash") {
		t.Errorf("mail without a hash: %s", b)
	}
	for in, want := range map[string]Simhash{`"000000000000002a"`: 0x2a, `"000000000000002A"`: 0x2a, `"000000000000002g"`: 0,
		`"xyz"`: 0, `""`: 0, `"2a"`: 0, `"\u003000000000000002a"`: 0x2a, `"\u00300000000000002a"`: 0} {
		var m Mail
		if err := json.Unmarshal([]byte(`{"body_simhash":`+in+`}`), &m); err != nil || m.BodySimhash != want {
			t.Errorf("%s read as %d (%v), want %d", in, m.BodySimhash, err, want)
		}
	}
	var m Mail
	if err := json.Unmarshal([]byte(`{"body_simhash":42}`), &m); err == nil {
		t.Error("a number read as a body hash")
	}
}
