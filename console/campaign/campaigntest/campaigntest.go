// Package campaigntest writes a trap archive of known campaigns and background noise for tests:
// three campaigns that vary their links, subjects, bodies and senders the way real campaigns do,
// each held together by a different kind of key, plus unrelated one-off messages, together with
// the ground truth and the DNS answers of the advertised hosts.
package campaigntest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
)

// Truth is what a test must find of one campaign.
type Truth struct {
	Name     string
	Messages int
	Sources  []netip.Addr // sorted
	// HostingCountries are the countries of the addresses DNS gives its hosts (in geoiptest's
	// world); DomainCountries those of its ccTLDs. Both sorted.
	HostingCountries []string
	DomainCountries  []string
	// Subjects are the subjects of its messages, in archive order.
	Subjects []string
}

// Corpus is a written archive.
type Corpus struct {
	Path      string // an mbox file
	Campaigns []Truth
	Noise     int // one-off messages
	// Labels name the campaign of each message, in archive order; "" for noise.
	Labels []string
	// DNS are the answers a test DNS server should give: host -> addresses (hosts missing here
	// do not exist).
	DNS   map[string][]netip.Addr
	Start time.Time // the first message's day; every message is within 21 days of it
}

// world places test addresses: country code -> its IPv4 /16 and its IPv6 /32.
func world() map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	for _, c := range geoiptest.World() {
		out[c.Code] = c.Networks
	}
	return out
}

// addr returns the n-th address of country cc's IPv4 network in geoiptest's world.
func addr(w map[string][]netip.Prefix, cc string, n int) netip.Addr {
	b := w[cc][0].Addr().As4()
	b[2], b[3] = byte(n>>8), byte(n)
	return netip.AddrFrom4(b)
}

var words = strings.Fields(`account action advice agent album answer apple arrival artist aspect
autumn baker balance banana basket battery beach bicycle blanket border bottle branch breath bridge
bucket budget button cabinet camera candle canvas carbon carpet castle cattle ceiling chapter cheese
cherry circle climate clover coffee collar copper cotton county cousin crystal curtain cushion
dancer debate desert diamond dinner doctor donkey dragon drawer effort elbow empire engine evening
fabric factor falcon family farmer feather fellow fiction finger forest fossil fountain garage
garden garlic ginger glider guitar hammer harbor helmet hollow honey horizon island jacket jungle
kettle kitten ladder lantern lemon letter library lizard lobster magnet mammal marble meadow
mirror monkey morning mustard napkin needle nephew noodle number object ocean office orange
oyster paddle palace pencil pepper pillow planet pocket potato powder puzzle rabbit radio raisin
ribbon rocket saddle salmon sample season shadow shelter silver singer sister spider spring
statue summer sunset table teacher temple thunder ticket timber tomato tongue tunnel turtle
valley velvet violin wallet walnut window winter wizard yellow zebra`)

// Write writes the corpus into dir. Its content depends on nothing but the code: the same
// archive every time.
func Write(t testing.TB, dir string) Corpus {
	t.Helper()
	w := world()
	rng := rand.New(rand.NewPCG(2005, 4))
	start := time.Date(2005, 4, 4, 0, 0, 0, 0, time.UTC)
	c := Corpus{Path: filepath.Join(dir, "trap-2005-04.mbox"), Start: start, DNS: map[string][]netip.Addr{}}
	var msgs []message
	when := func() time.Time {
		return start.Add(time.Duration(rng.Int64N(int64(21 * 24 * time.Hour))).Truncate(time.Second))
	}
	name := func() string {
		return strings.ToUpper(words[rng.IntN(len(words))][:1]) + words[rng.IntN(len(words))][1:]
	}

	// Pharmacy: sites under Monaco, Australia and France, hosted in China, Korea, Brazil and
	// Taiwan; one subject template, rotating domains, mail from hijacked PCs in many countries.
	pharmacyHosts := []string{"www.rx-meds.mc", "shop.cheapmeds.com.au", "pharma-direct.fr", "www.pharma-direct.fr"}
	c.DNS["www.rx-meds.mc"] = []netip.Addr{addr(w, "CN", 7)}
	c.DNS["shop.cheapmeds.com.au"] = []netip.Addr{addr(w, "KR", 9)}
	c.DNS["pharma-direct.fr"] = []netip.Addr{addr(w, "BR", 11), addr(w, "TW", 12)}
	c.DNS["www.pharma-direct.fr"] = []netip.Addr{addr(w, "BR", 11)}
	pharmacy := Truth{Name: "pharmacy", HostingCountries: []string{"BR", "CN", "KR", "TW"}, DomainCountries: []string{"AU", "FR", "MC"}}
	relays := []string{"US", "CN", "KR", "BR", "DE", "FR", "PL", "TR", "IN", "RU", "MX", "ES"}
	for i := range 120 {
		src := addr(w, relays[i%len(relays)], 100+rng.IntN(3)) // a few PCs per country, some sending more than once
		host := pharmacyHosts[i%len(pharmacyHosts)]
		subject := fmt.Sprintf("Your order #%d: save %d%% on meds today", 10000+rng.IntN(90000), 50+rng.IntN(40))
		if i%5 == 0 {
			subject = "RE: " + subject
		}
		body := fmt.Sprintf(`<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<html><body><p>Dear %s,</p><p>Genuine medicines shipped discreetly to your door at prices your local pharmacy cannot match.
No prescription needed, overnight delivery, and a full refund if you are not satisfied.</p>
<p><a href="http://%s/?id=%d">Order now and save %d%%</a></p>
<p>Over %d,000 happy customers trust us with their health every month.</p></body></html>
`, name(), host, rng.IntN(1e6), 50+rng.IntN(40), 10+rng.IntN(80))
		msgs = append(msgs, message{label: "pharmacy", at: when(), src: src, subject: subject, body: body, html: true, rcpt: trap(rng)})
		pharmacy.Sources = append(pharmacy.Sources, src)
		pharmacy.Messages++
		pharmacy.Subjects = append(pharmacy.Subjects, subject)
	}

	// Stock tip: no links, subjects too short to link anything; only the body, the same text
	// with other names and figures, holds it together. Some senders on IPv6.
	stock := Truth{Name: "stock"}
	tips := []string{"Hot tip", "Hello", "Re: hi", "Check it", "Urgent"}
	for i := range 60 {
		src := addr(w, []string{"VN", "TH", "ID", "PH"}[i%4], 200+i%7)
		if i%10 == 0 {
			b := w["JP"][1].Addr().As16()
			b[15] = byte(i)
			src = netip.AddrFrom16(b)
		}
		subject := tips[rng.IntN(len(tips))]
		body := fmt.Sprintf(`%s,

Our analysts have found the stock that will explode this week. Golden Dragon Mining (GDMX) trades
at only $0.%02d today and our target is $%d.00 within ten trading days. The company has just
announced a major gold discovery and a buyout offer is expected any moment now. Insiders are
buying heavily. Do not miss this opportunity, the last pick we sent you rose %d percent in three
days. Act before the market opens and the big investors find out about this news.

Regards,
The Market Insider Research Team
`, name(), 10+rng.IntN(80), 2+rng.IntN(5), 100+rng.IntN(300))
		msgs = append(msgs, message{label: "stock", at: when(), src: src, subject: subject, body: body, rcpt: trap(rng)})
		stock.Sources = append(stock.Sources, src)
		stock.Messages++
		stock.Subjects = append(stock.Subjects, subject)
	}

	// Watches: every message links the ring's order site and one of five rotating landing
	// domains (generic TLDs, some not resolving); subjects and text differ from message to message.
	c.DNS["www.watch-hub.com"] = []netip.Addr{addr(w, "US", 21), addr(w, "US", 22)}
	c.DNS["replica-1.net"] = []netip.Addr{addr(w, "US", 23)}
	watches := Truth{Name: "watches", HostingCountries: []string{"US"}}
	brands := []string{"Rolex", "Omega", "Breitling", "Cartier", "Tag Heuer"}
	lines := []string{
		"Swiss quality replicas at a fraction of the price.", "Every watch comes with a two year warranty.",
		"Free shipping worldwide on orders over one hundred dollars.", "Impress your friends and colleagues.",
		"Our craftsmen copy every detail of the original.", "Secure payment with all major credit cards.",
		"Thousands of models in stock and ready to ship.", "Only the finest materials are used.",
		"Unbeatable prices guaranteed or your money back.", "Order today and receive a free gift box.",
	}
	for i := range 45 {
		src := addr(w, []string{"RO", "UA", "BR", "AR"}[i%4], 300+i)
		brand := brands[rng.IntN(len(brands))]
		subject := fmt.Sprintf("%s for $%d", brand, 99+rng.IntN(300))
		picked := slices.Clone(lines)
		rng.Shuffle(len(picked), func(a, b int) { picked[a], picked[b] = picked[b], picked[a] })
		body := fmt.Sprintf("%s watches. %s %s %s\nVisit http://www.watch-hub.com/%s or http://replica-%d.net/\n",
			brand, picked[0], picked[1], picked[2], strings.ToLower(brand), 1+i%5)
		msgs = append(msgs, message{label: "watches", at: when(), src: src, subject: subject, body: body, rcpt: trap(rng)})
		watches.Sources = append(watches.Sources, src)
		watches.Messages++
		watches.Subjects = append(watches.Subjects, subject)
	}

	// Noise: one-off messages, each with its own words, subject and (for some) link; some HTML
	// with the same DOCTYPE link as the pharmacy's.
	for i := range 100 {
		src := addr(w, relays[rng.IntN(len(relays))], 1000+i)
		var text []string
		for range 40 + rng.IntN(40) {
			text = append(text, words[rng.IntN(len(words))])
		}
		subject := strings.Join(text[:4], " ")
		body := strings.Join(text, " ") + "\n"
		if i%3 == 0 {
			body += fmt.Sprintf("http://www.%s-%s%d.org/\n", text[5], text[6], i)
		}
		html := i%5 == 0
		if html {
			body = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd"><html><body><p>` + body + "</p></body></html>\n"
		}
		msgs = append(msgs, message{at: when(), src: src, subject: subject, body: body, html: html, rcpt: trap(rng)})
		c.Noise++
	}

	slices.SortStableFunc(msgs, func(a, b message) int { return a.at.Compare(b.at) })
	var mbox bytes.Buffer
	for i, m := range msgs {
		m.write(&mbox, i)
		c.Labels = append(c.Labels, m.label)
	}
	if err := os.WriteFile(c.Path, mbox.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*Truth{&pharmacy, &stock, &watches} {
		slices.SortFunc(tr.Sources, netip.Addr.Compare)
		tr.Sources = slices.Compact(tr.Sources)
	}
	c.Campaigns = []Truth{pharmacy, stock, watches}
	return c
}

// trap picks the trap addresses a message was sent to: one or two of a few dozen.
func trap(rng *rand.Rand) []string {
	out := []string{fmt.Sprintf("trap%02d@traps.example.net", rng.IntN(40))}
	if rng.IntN(4) == 0 {
		out = append(out, fmt.Sprintf("old-user%02d@traps.example.org", rng.IntN(10)))
	}
	return out
}

type message struct {
	label         string
	at            time.Time
	src           netip.Addr
	subject, body string
	html          bool
	rcpt          []string
}

// write appends the message to an mbox as a receiving MTA would have delivered it.
func (m message) write(b *bytes.Buffer, i int) {
	fmt.Fprintf(b, "From MAILER-DAEMON %s\n", m.at.Format("Mon Jan _2 15:04:05 2006"))
	for _, r := range m.rcpt {
		fmt.Fprintf(b, "Delivered-To: %s\n", r)
	}
	fmt.Fprintf(b, "Received: from pc%d.dsl.example (pc%d.dsl.example [%s]) by mx.traps.example.net (Postfix) with SMTP id Q%05d; %s\n",
		i, i, m.src, i, m.at.Format(time.RFC1123Z))
	fmt.Fprintf(b, "From: \"Sales\" <sales%d@mailer.example>\nTo: %s\nSubject: %s\nMessage-ID: <%d.%d@mailer.example>\nDate: %s\nMIME-Version: 1.0\n",
		i, m.rcpt[0], m.subject, m.at.Unix(), i, m.at.Format(time.RFC1123Z))
	if m.html {
		b.WriteString("Content-Type: text/html; charset=us-ascii\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=us-ascii\n")
	}
	b.WriteString("\n")
	for line := range strings.Lines(m.body) {
		if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
			b.WriteByte('>')
		}
		b.WriteString(line)
	}
	b.WriteString("\n")
}
