package mailparse

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"mime"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// message joins header lines and a body into a CRLF message.
func message(body string, header ...string) []byte {
	return []byte(strings.Join(header, "\r\n") + "\r\n\r\n" + body)
}

// encodedWord encodes s in the charset enc as an RFC 2047 B word labelled label.
func encodedWord(t *testing.T, enc encoding.Encoding, label, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatalf("encode %q to %s: %v", s, label, err)
	}
	return mime.BEncoding.Encode(label, b)
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		from    string
		subject string
		defects []string
	}{
		{
			name:    "UTF-8",
			header:  []string{"From: =?UTF-8?Q?Jos=C3=A9?= <jose@example.com>", "Subject: " + mime.BEncoding.Encode("UTF-8", "Привет, мир")},
			from:    "José <jose@example.com>",
			subject: "Привет, мир",
		},
		{
			name:    "ISO-8859-1",
			header:  []string{`From: "=?ISO-8859-1?Q?Fran=E7ois?=" <f@example.fr>`, "Subject: =?iso-8859-1?q?Caf=E9_cr=E8me?="},
			from:    `"François" <f@example.fr>`,
			subject: "Café crème",
		},
		{
			name:    "KOI8-R",
			header:  []string{"From: " + encodedWord(t, charmap.KOI8R, "KOI8-R", "Иван") + " <ivan@example.ru>", "Subject: " + encodedWord(t, charmap.KOI8R, "koi8-r", "Дешёвые часы")},
			from:    "Иван <ivan@example.ru>",
			subject: "Дешёвые часы",
		},
		{
			name:    "Shift_JIS",
			header:  []string{"From: " + encodedWord(t, japanese.ShiftJIS, "Shift_JIS", "田中") + " <tanaka@example.jp>", "Subject: " + encodedWord(t, japanese.ShiftJIS, "Shift_JIS", "こんにちは世界")},
			from:    "田中 <tanaka@example.jp>",
			subject: "こんにちは世界",
		},
		{
			name:    "GB2312",
			header:  []string{"From: " + encodedWord(t, simplifiedchinese.GBK, "GB2312", "王伟") + " <wang@example.cn>", "Subject: " + encodedWord(t, simplifiedchinese.GBK, "gb2312", "你好世界")},
			from:    "王伟 <wang@example.cn>",
			subject: "你好世界",
		},
		{
			name:    "adjacent words join",
			header:  []string{"From: a@example.com", "Subject: =?UTF-8?Q?Hello?=   =?UTF-8?Q?_world?= !"},
			from:    "a@example.com",
			subject: "Hello world !",
		},
		{
			name:    "bogus charset",
			header:  []string{"From: =?x-bogus?Q?Hello_World?= <a@example.com>", "Subject: =?x-bogus?Q?caf=E9?= ok"},
			from:    "Hello World <a@example.com>",
			subject: "caf\uFFFD ok",
			defects: []string{"bad-charset", "non-utf8-header"},
		},
		{
			name:    "raw 8-bit",
			header:  []string{"From: J\xf6rg <j@example.de>", "Subject: caf\xe9 cr\xe8me"},
			from:    "J\uFFFDrg <j@example.de>",
			subject: "caf\uFFFD cr\uFFFDme",
			defects: []string{"non-utf8-header"},
		},
		{
			name:    "folded",
			header:  []string{"From: a@example.com", "Subject: =?UTF-8?Q?first?=\r\n =?UTF-8?Q?_second?=\r\n\tthird"},
			from:    "a@example.com",
			subject: "first second third",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse(message("body\r\n", tt.header...), DefaultLimits())
			if m.From != tt.from || m.Subject != tt.subject {
				t.Errorf("from %q subject %q, want %q %q", m.From, m.Subject, tt.from, tt.subject)
			}
			if !slices.Equal(m.Defects, tt.defects) {
				t.Errorf("defects %q, want %q", m.Defects, tt.defects)
			}
			checkMessage(t, m, DefaultLimits())
		})
	}
}

func TestParseOtherHeaders(t *testing.T) {
	m := Parse(message("", "Message-ID:  <abc.123@mail.example>  ", "Date: Tue, 3 Sep 2024 12:05:00 PDT", "User-Agent: Mutt/2.2"), DefaultLimits())
	if m.MessageID != "abc.123@mail.example" || m.XMailer != "Mutt/2.2" || formatTime(m.Date) != "2024-09-03T12:05:00-07:00" {
		t.Errorf("got id %q mailer %q date %v", m.MessageID, m.XMailer, m.Date)
	}
	m = Parse(message("", "X-Mailer: PHPMailer", "User-Agent: Mutt", "Date: someday"), DefaultLimits())
	if m.XMailer != "PHPMailer" || !m.Date.IsZero() || !slices.Equal(m.Defects, []string{"bad-date"}) {
		t.Errorf("got mailer %q date %v defects %q", m.XMailer, m.Date, m.Defects)
	}
}

// TestParseSpam parses a typical spam message end to end.
func TestParseSpam(t *testing.T) {
	raw, err := os.ReadFile("testdata/spam.eml")
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(raw, DefaultLimits())
	checkMessage(t, m, DefaultLimits())
	if m.From != "Cheap Pills ✔ <offers@cheap-pills.example>" || m.Subject != "💊 Exclusive 90% discount — today only" {
		t.Errorf("from %q subject %q", m.From, m.Subject)
	}
	if m.MessageID != "20240903120500.8837@mailer.cheap-pills.example" || !strings.HasPrefix(m.XMailer, "PHPMailer 6.8.1") {
		t.Errorf("message id %q x-mailer %q", m.MessageID, m.XMailer)
	}
	wantHosts := []string{"cheap-pills.example", "img.cheap-pills.example", "reviews.cheap-pills.example",
		"support.cheap-pills.example", "t.tracker.example", "unsub.example.net", "www.partner-list.example"}
	if !slices.Equal(m.URLHosts, wantHosts) {
		t.Errorf("hosts %q\nwant %q", m.URLHosts, wantHosts)
	}
	// The campaign keys: ".example" is no listed suffix, so the last two labels make the registered domain.
	wantDomains := []string{"cheap-pills.example", "example.net", "partner-list.example", "tracker.example"}
	if !slices.Equal(m.URLDomains, wantDomains) || m.SubjectTemplate != "exclusive # discount today only" || m.BodySimhash == 0 {
		t.Errorf("domains %q, subject template %q, body hash %x", m.URLDomains, m.SubjectTemplate, m.BodySimhash)
	}
	if !slices.Equal(m.DeliveredTo, []string{"trap@example.org"}) {
		t.Errorf("delivered to %q", m.DeliveredTo)
	}
	mail := m.Mail()
	if mail.BodySimhash == 0 || !slices.Equal(mail.Recipients, m.DeliveredTo) || mail.Subject != m.Subject || *mail.Date != m.Date.UTC() {
		t.Errorf("event mail %+v", mail)
	}
	if len(m.Received) != 4 || len(m.Defects) != 0 {
		t.Fatalf("%d Received, defects %q", len(m.Received), m.Defects)
	}
	source := FindSource(m.Received, nil)
	if source.IP != netip.MustParseAddr("91.198.174.192") || source.Hop != 1 || source.Header != m.Received[1].Raw {
		t.Errorf("source %+v", source)
	}
}

func TestParseURLHosts(t *testing.T) {
	text := "Visit http://Example.COM:8080/path and HTTPS://example.com/again, or www.Spam-Shop.example.\r\n" +
		"Soft break: http://soft=\r\nbreak.example/x and ftp://user:pw@files.example.org/pub\r\n" +
		"Not URLs: mailto:a@b.example, www.alone, mywww.inside.example, http://, http:///x, http://%7e.example\r\n"
	html := `<html><body><a HREF="https://Tracker.Example.net/x?id=1">x</a><img src = '//cdn.example.org/i.png'>` +
		`<a href="http://[2001:db8::1]:8080/">v6</a> <a href=&#104;ttp://entity.example/>e</a>` +
		`<p>caf&eacute; http://xn--caf-dma.example/ http://bücher.example/ http://TRAILING.example./</p></body></html>`
	body := "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		text + "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64Lines(html) + "\r\n--b1--\r\n"
	m := Parse(message(body, "From: a@example.com", "Content-Type: multipart/alternative; boundary=b1"), DefaultLimits())
	want := []string{"2001:db8::1", "bücher.example", "cdn.example.org", "entity.example", "example.com", "files.example.org",
		"softbreak.example", "tracker.example.net", "trailing.example", "www.spam-shop.example", "xn--caf-dma.example"}
	if !slices.Equal(m.URLHosts, want) {
		t.Errorf("hosts %q\nwant  %q", m.URLHosts, want)
	}
	if len(m.Defects) != 0 {
		t.Errorf("defects %q", m.Defects)
	}
	checkMessage(t, m, DefaultLimits())
}

func base64Lines(s string) string {
	encoded := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(encoded) > 76 {
		b.WriteString(encoded[:76] + "\r\n")
		encoded = encoded[76:]
	}
	b.WriteString(encoded)
	return b.String()
}

func TestParseNestedMultipart(t *testing.T) {
	koi8, err := charmap.KOI8R.NewEncoder().String("Скидки: http://skidki.example/ сегодня")
	if err != nil {
		t.Fatal(err)
	}
	body := "preamble\r\n--outer\r\n" +
		"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain; charset=KOI8-R\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64Lines(koi8) + "\r\n" +
		"--inner\r\nContent-Type: text/html\r\n\r\n<a href=\"http://inner-html.example/\">x</a>\r\n" +
		"--inner--\r\n" +
		"--outer\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64Lines("http://not-scanned.example/") + "\r\n" +
		"--outer\r\nContent-Type: text/plain; charset=x-unknown-8bit\r\n\r\nsee www.unknown-charset.example\r\n" +
		"--outer--\r\nepilogue http://epilogue.example/\r\n"
	m := Parse(message(body, "Content-Type: multipart/mixed; boundary=outer"), DefaultLimits())
	want := []string{"inner-html.example", "skidki.example", "www.unknown-charset.example"}
	if !slices.Equal(m.URLHosts, want) || !slices.Equal(m.Defects, []string{"bad-charset"}) {
		t.Errorf("hosts %q defects %q, want %q and bad-charset", m.URLHosts, m.Defects, want)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		subject string
		hosts   []string
		hops    int
		defects []string
	}{
		{
			name:    "broken header line",
			raw:     "From: a@example.com\r\nThis line is broken\r\n continued\r\nSubject: still here\r\nReceived: from x ([192.0.2.1]) by y; Tue, 3 Sep 2024 12:05:00 +0000\r\n\r\nhttp://body.example/",
			subject: "still here", hosts: []string{"body.example"}, hops: 1,
			defects: []string{"bad-header"},
		},
		{
			name:    "leading space and 8-bit field name",
			raw:     " stray\nSubj\xe9ct: no\nSubject: yes\n\nwww.lf-only.example",
			subject: "yes", hosts: []string{"www.lf-only.example"},
			defects: []string{"bad-header"},
		},
		{
			name:    "missing separator",
			raw:     "From: a@example.com\r\nSubject: no body\r\nReceived: from x ([192.0.2.1]) by y",
			subject: "no body", hops: 1,
			defects: []string{"no-body-separator"},
		},
		{
			name:    "empty",
			defects: []string{"no-body-separator"},
		},
		{
			name:    "missing boundary",
			raw:     "Subject: s\r\nContent-Type: multipart/mixed\r\n\r\nhttp://lost.example/",
			subject: "s", defects: []string{"bad-mime"},
		},
		{
			name:    "boundary never found",
			raw:     "Subject: s\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\nhttp://lost.example/",
			subject: "s", defects: []string{"bad-mime"},
		},
		{
			name:    "truncated multipart",
			raw:     "Subject: s\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhttp://cut.example/ and more",
			subject: "s", hosts: []string{"cut.example"}, defects: []string{"bad-mime"},
		},
		{
			name:    "bad content type parameters",
			raw:     "Subject: s\r\nContent-Type: multipart/mixed; boundary=zz; boundary=yy; =x\r\n\r\n--zz\r\n\r\nhttp://first.example/\r\n--zz--\r\n",
			subject: "s", hosts: []string{"first.example"}, defects: []string{"bad-content-type"},
		},
		{
			name:    "unknown transfer encoding",
			raw:     "Subject: s\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nhttp://raw.example/",
			subject: "s", hosts: []string{"raw.example"}, defects: []string{"bad-encoding"},
		},
		{
			name:    "base64 with junk and padding in the middle",
			raw:     "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("http://a.example/ ")) + "!!\r\n" + base64.StdEncoding.EncodeToString([]byte("http://b.example/")) + "*",
			subject: "s", hosts: []string{"a.example", "b.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse([]byte(tt.raw), DefaultLimits())
			if m.Subject != tt.subject || !slices.Equal(m.URLHosts, tt.hosts) || len(m.Received) != tt.hops || !slices.Equal(m.Defects, tt.defects) {
				t.Errorf("subject %q hosts %q %d hops defects %q\nwant    %q hosts %q %d hops defects %q",
					m.Subject, m.URLHosts, len(m.Received), m.Defects, tt.subject, tt.hosts, tt.hops, tt.defects)
			}
			checkMessage(t, m, DefaultLimits())
		})
	}
}

func TestParseHugeHeader(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nSubject: huge\r\nReceived: from x ([192.0.2.1]) by y\r\n")
	for b.Len() < 10<<20 {
		b.WriteString("X-Junk: " + strings.Repeat("a", 70) + "\r\n")
	}
	b.WriteString("Subject: too deep to be seen\r\n\r\nbody")
	oneLine := "Subject: " + strings.Repeat("é", 5<<20) + "\r\n\r\nbody"
	for name, raw := range map[string][]byte{"many lines": b.Bytes(), "one line": []byte(oneLine)} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			m := Parse(raw, DefaultLimits())
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if !slices.Contains(m.Defects, "header-too-large") {
				t.Errorf("defects %q, want header-too-large", m.Defects)
			}
			if sum := sha256.Sum256([]byte("body")); m.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Error("body hash is not that of the body after the huge header")
			}
			checkMessage(t, m, DefaultLimits())
		})
	}
}

func TestParseGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 100, 10 << 10, 1 << 20} {
		garbage := make([]byte, size)
		for i := range garbage {
			garbage[i] = byte(rng.Uint32())
		}
		checkMessage(t, Parse(garbage, DefaultLimits()), DefaultLimits())
	}
	if Parse(nil, Limits{}) == nil {
		t.Error("Parse(nil) = nil")
	}
}

func TestParseLimits(t *testing.T) {
	var parts strings.Builder
	for i := range 150 {
		fmt.Fprintf(&parts, "--p\r\nContent-Type: text/plain\r\n\r\nhttp://h%d.example/\r\n", i)
	}
	parts.WriteString("--p--\r\n")
	manyParts := message(parts.String(), "Content-Type: multipart/mixed; boundary=p")

	nested := "http://deepest.example/"
	for depth := 12; depth > 0; depth-- {
		nested = fmt.Sprintf("--d%d\r\nContent-Type: multipart/mixed; boundary=d%d\r\n\r\n%s\r\n--d%d--", depth, depth+1, nested, depth)
	}
	deep := message(nested, "Content-Type: multipart/mixed; boundary=d1")

	tests := []struct {
		name      string
		raw       []byte
		limits    Limits
		wantHosts int
		defect    string
	}{
		{"parts", manyParts, Limits{}, 99, "too-many-parts"},
		{"depth", deep, Limits{}, 0, "too-deep"},
		{"hosts", manyParts, Limits{MaxURLHosts: 10}, 10, "too-many-url-hosts"},
		{"scan bytes", manyParts, Limits{MaxScanBytes: 200}, 11, "scan-truncated"}, // 10 of 18 bytes, 1 of 19
		{"part scan bytes", message("http://a.example/ http://b.example/", "Subject: x"), Limits{MaxPartScanBytes: 20}, 1, "scan-truncated"},
		{"received", message("", strings.Repeat("Received: from x ([192.0.2.1]) by y\r\n", 5)+"Subject: x"), Limits{MaxReceived: 3}, 0, "too-many-received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse(tt.raw, tt.limits)
			if len(m.URLHosts) != tt.wantHosts || !slices.Contains(m.Defects, tt.defect) {
				t.Errorf("%d hosts, defects %q; want %d hosts and %s", len(m.URLHosts), m.Defects, tt.wantHosts, tt.defect)
			}
			checkMessage(t, m, tt.limits)
		})
	}

	m := Parse(message("", "Subject: "+strings.Repeat("ж", 100)), Limits{MaxStringBytes: 11})
	if m.Subject != "жжжжж" {
		t.Errorf("subject %q, want it cut to 5 characters", m.Subject)
	}
}

func TestBodySHA256(t *testing.T) {
	tests := []struct{ raw, body string }{
		{"Subject: x\r\n\r\nbody\r\n", "body\r\n"},
		{"Subject: x\n\nbody\n\n\n", "body\n\n\n"},
		{"Subject: x\r\n\r\n\r\n", "\r\n"},
		{"\r\nbody", "body"},
		{"Subject: x\r\n folded\r\n\r\n=?bin\x00ary?=", "=?bin\x00ary?="},
		{"Subject: x", ""},
	}
	for _, tt := range tests {
		sum := sha256.Sum256([]byte(tt.body))
		if got := Parse([]byte(tt.raw), DefaultLimits()).BodySHA256; got != hex.EncodeToString(sum[:]) {
			t.Errorf("BodySHA256(%q) is not the hash of %q", tt.raw, tt.body)
		}
	}
}

// checkMessage checks what Parse promises of every message, whatever the input.
func checkMessage(t testing.TB, m *Message, limits Limits) {
	t.Helper()
	limits = limits.withDefaults()
	if m == nil {
		t.Fatal("Parse returned nil")
	}
	strs := []string{m.From, m.Subject, m.MessageID, m.XMailer, m.SubjectTemplate}
	strs = append(strs, m.URLHosts...)
	strs = append(strs, m.DeliveredTo...)
	for _, hop := range m.Received {
		strs = append(strs, hop.Raw, hop.FromName, hop.FromRDNS, hop.By, hop.With)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) || len(s) > limits.MaxStringBytes {
			t.Errorf("string of %d bytes, valid UTF-8 %v: %.80q", len(s), utf8.ValidString(s), s)
		}
	}
	for name, list := range map[string][]string{"URLHosts": m.URLHosts, "Defects": m.Defects, "URLDomains": m.URLDomains, "DeliveredTo": m.DeliveredTo} {
		if !slices.IsSorted(list) || len(slices.Compact(slices.Clone(list))) != len(list) {
			t.Errorf("%s not sorted and unique: %q", name, list)
		}
	}
	if len(m.URLHosts) > limits.MaxURLHosts || len(m.Received) > limits.MaxReceived {
		t.Errorf("%d hosts, %d hops: over the limits", len(m.URLHosts), len(m.Received))
	}
	if slices.Contains(m.Defects, "internal-error") {
		t.Error("Parse recovered from a panic")
	}
	if len(m.BodySHA256) != 64 {
		t.Errorf("BodySHA256 %q", m.BodySHA256)
	}
}

func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile("testdata/spam.eml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(raw, DefaultLimits())
	}
}
