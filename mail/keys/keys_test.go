package keys

import (
	"unicode"

	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mfonda/simhash"
)

func TestRegisteredDomains(t *testing.T) {
	got := RegisteredDomains([]string{"www.Shop.Example.com.au.", "example.com.au", "x.rx-meds.mc", "com", "192.0.2.7",
		"[2001:db8::1]", "a.b.c.example.co.uk", "bit.ly", "host.unknowntld"})
	want := []string{"192.0.2.7", "2001:db8::1", "bit.ly", "example.co.uk", "example.com.au", "host.unknowntld", "rx-meds.mc"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSubjectTemplate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Re: Order #48213 for John - save 70% today", "order # for john save # today"},
		{"RE: FWD: Re[2]: Your order #10442: save 55% on meds today", "your order # save # on meds today"},
		{"Your order #99001: save 81% on meds today", "your order # save # on meds today"},
		{"Cheap V*agra x7Kq2 ab12cd", "cheap v*agra *"},
		{"100 200 300", "#"},
		{"  ", ""},
		{"Привет, 12 друзей!", "привет # друзей"},
		{"Résumé: Café", "résumé café"},
	} {
		if got := SubjectTemplate(tc.in); got != tc.want {
			t.Errorf("SubjectTemplate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := TemplateWords("order # for * john"); n != 3 {
		t.Errorf("TemplateWords = %d, want 3", n)
	}
}

func hash(parts ...string) uint64 {
	var h BodyHasher
	for _, p := range parts {
		h.Add(p, strings.HasPrefix(p, "<"))
	}
	return h.Sum()
}

func TestBodyHasher(t *testing.T) {
	text := "Our analysts have found the stock that will explode this week and the big investors do not know yet about the news"
	if hash("too few words here") != 0 {
		t.Error("a short body has a hash")
	}
	// Links, numbers and markup do not count.
	plain := hash(text + " http://a.example/x?1 www.b.example 42")
	if html := hash("<html><body><p>" + strings.ReplaceAll(text, "stock", "<b>stock</b>") + "</p><style>p{}</style></body></html>"); html != plain {
		t.Errorf("markup changed the hash: %016x vs %016x", html, plain)
	}
	if other := hash(text + " https://c.example/ 7"); other != plain {
		t.Errorf("another link changed the hash")
	}
	near := hash(strings.Replace(text, "week", "month", 1))
	far := hash("Swiss quality replicas at a fraction of the price with free shipping worldwide on every order today only")
	if d := SimhashDistance(plain, near); d > 10 {
		t.Errorf("one word changed moved the hash %d bits", d)
	}
	if d := SimhashDistance(plain, far); d < 12 {
		t.Errorf("unrelated text is only %d bits away", d)
	}
}

func FuzzSubjectTemplate(f *testing.F) {
	for _, s := range []string{"Re: Order #48213 for John", "Fwd: *** 50% ***", "a#b*c 1a", "\xff\xfe re:", "RE[3]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl := SubjectTemplate(s)
		if again := SubjectTemplate(tpl); again != tpl {
			t.Errorf("not stable: %q -> %q -> %q", s, tpl, again)
		}
		if utf8.ValidString(s) && !utf8.ValidString(tpl) {
			t.Errorf("invalid UTF-8 from %q", s)
		}
	})
}

func FuzzBodyHasher(f *testing.F) {
	for _, s := range []string{"<html><!-- x --><p>a b c</p>", "www. http:// <script>", "plain words only here and there and more"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, isHTML bool) {
		var a, b BodyHasher
		a.Add(s, isHTML)
		b.Add(s, isHTML)
		if a.Sum() != b.Sum() {
			t.Error("not deterministic")
		}
		_ = RegisteredDomains(strings.Fields(s))
	})
}

// The hasher computes what the simhash library computes from the word pairs, only faster.
func TestBodyHasherMatchesTheLibrary(t *testing.T) {
	for _, text := range []string{
		"Our analysts have found the stock that will EXPLODE this week, see www.x.example and http://y.example/",
		"Ünïcode Wörds ÄND ascii words mixed together in one longer sentence of text",
		"one two three four five six seven eight nine ten eleven twelve",
	} {
		var words [][]byte
		for token := range strings.FieldsSeq(text) {
			if isLink(token) {
				continue
			}
			for w := range strings.FieldsFuncSeq(token, func(r rune) bool { return !unicode.IsLetter(r) }) {
				words = append(words, []byte(strings.ToLower(w)))
			}
		}
		want := simhash.Fingerprint(simhash.VectorizeBytes(simhash.Shingle(2, words)))
		var h BodyHasher
		h.Add(text, false)
		if got := h.Sum(); got != want {
			t.Errorf("%q: %016x, the library says %016x", text, got, want)
		}
	}
}
