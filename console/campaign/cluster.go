// Package campaign finds spam campaigns in the stored events: messages that advertise the same
// registered domains, share a subject template or have near-identical bodies are one campaign,
// transitively. It reads events and host resolutions from ClickHouse and summarizes each campaign
// (messages, days, sources, relay countries, hosting and domain countries); package keys derives
// the keys, package hosting resolves hosts, package evidence builds the bundle for one campaign.
package campaign

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/spamgeo/spamgeo/mail/keys"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// Rules say which shared keys link messages into one campaign.
type Rules struct {
	// MinSubjectWords is how many real words (not numbers or tags) a subject template needs to
	// link messages: "hello" or "re: #" are shared by unrelated mail.
	MinSubjectWords int
	// MaxSimhashDistance is how many bits two body hashes may differ in and still link
	// messages. 0 links identical hashes only.
	MaxSimhashDistance int
	// IgnoreDomains are registered domains that link nothing: link shorteners and the domains
	// of markup boilerplate, which unrelated campaigns share.
	IgnoreDomains []string
}

// DefaultRules link by subject templates of three words or more and bodies at most six bits
// apart, and ignore the W3C's domain, which HTML mail names in its DOCTYPE. Six, not the three of
// Manku et al. for web pages: spam bodies are short, so one changed word moves their hash by about
// four bits (measured on campaigntest's corpus), while unrelated bodies are about 32 bits apart
// and two random hashes come within six bits once in 10^11 pairs.
func DefaultRules() Rules {
	return Rules{MinSubjectWords: 3, MaxSimhashDistance: 6, IgnoreDomains: []string{"w3.org"}}
}

// Fingerprint is a group of stored messages with the same keys.
type Fingerprint struct {
	Domains             []string // registered domains advertised, sorted
	SubjectTemplate     string
	BodySimhash         uint64 // 0 when the body had too little text
	Messages            uint64
	FirstSeen, LastSeen time.Time
}

// Key kinds.
const (
	KindDomain  = "domain"
	KindSubject = "subject"
	KindBody    = "body"
)

// Key is one thing messages of a campaign share.
type Key struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func (k Key) String() string { return k.Kind + ":" + k.Value }

// Campaign is a set of fingerprints linked by shared keys.
type Campaign struct {
	// ID names the campaign by its earliest key, so it stays the same as messages arrive; it
	// changes only when the campaign turns out to be part of an older one.
	ID                  string
	Members             []int // indexes of its fingerprints
	Keys                []Key // sorted by kind, then value
	Messages            uint64
	FirstSeen, LastSeen time.Time
}

// Keys returns the keys of one fingerprint under rules.
func (r Rules) Keys(fp Fingerprint) []Key {
	var out []Key
	for _, d := range fp.Domains {
		if !slices.Contains(r.IgnoreDomains, d) {
			out = append(out, Key{KindDomain, d})
		}
	}
	if keys.TemplateWords(fp.SubjectTemplate) >= r.MinSubjectWords {
		out = append(out, Key{KindSubject, fp.SubjectTemplate})
	}
	if fp.BodySimhash != 0 {
		out = append(out, Key{KindBody, event.Simhash(fp.BodySimhash).String()})
	}
	return out
}

// Cluster groups fingerprints into campaigns, largest first (ties by ID). Fingerprints without
// any key belong to no campaign.
func Cluster(fps []Fingerprint, rules Rules) []Campaign {
	g := newGraph()
	fpKeys := make([][]int, len(fps))
	for i, fp := range fps {
		for _, k := range rules.Keys(fp) {
			id := g.key(k, fp.FirstSeen)
			fpKeys[i] = append(fpKeys[i], id)
			g.union(fpKeys[i][0], id)
		}
	}
	linkNearBodies(g, rules.MaxSimhashDistance)

	byRoot := map[int]*Campaign{}
	var out []*Campaign
	for i, fp := range fps {
		if len(fpKeys[i]) == 0 {
			continue
		}
		root := g.find(fpKeys[i][0])
		c := byRoot[root]
		if c == nil {
			c = &Campaign{FirstSeen: fp.FirstSeen, LastSeen: fp.LastSeen}
			byRoot[root] = c
			out = append(out, c)
		}
		c.Members = append(c.Members, i)
		c.Messages += fp.Messages
		c.FirstSeen = minTime(c.FirstSeen, fp.FirstSeen)
		c.LastSeen = maxTime(c.LastSeen, fp.LastSeen)
	}
	first := map[int]int{} // root -> its earliest key
	for id := range g.keys {
		root := g.find(id)
		if e, ok := first[root]; !ok || g.earlier(id, e) {
			first[root] = id
		}
	}
	for id, k := range g.keys {
		if c := byRoot[g.find(id)]; c != nil {
			c.Keys = append(c.Keys, k)
		}
	}
	campaigns := make([]Campaign, 0, len(out))
	for root, c := range byRoot {
		c.ID = campaignID(g.keys[first[root]])
		slices.SortFunc(c.Keys, func(a, b Key) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value)) })
		campaigns = append(campaigns, *c)
	}
	slices.SortFunc(campaigns, func(a, b Campaign) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.ID, b.ID))
	})
	return campaigns
}

// campaignID is a short, stable name for the campaign whose earliest key is k.
func campaignID(k Key) string {
	sum := sha256.Sum256([]byte(k.String()))
	return hex.EncodeToString(sum[:6])
}

// linkNearBodies links body keys whose hashes differ in at most maxDistance bits. Cut into
// maxDistance+2 blocks of bits, two such hashes agree exactly on at least two blocks (the differing
// bits touch at most maxDistance blocks), so for each pair of blocks the hashes are sorted by those
// two blocks and only hashes that agree on both are compared: about n log n work per pair of blocks
// instead of n² for all pairs.
func linkNearBodies(g *graph, maxDistance int) {
	if maxDistance <= 0 {
		return
	}
	type body struct {
		id   int
		hash uint64
	}
	var bodies []body
	for id, k := range g.keys {
		if k.Kind == KindBody {
			bodies = append(bodies, body{id, uint64(event.ParseSimhash(k.Value))})
		}
	}
	blocks := maxDistance + 2
	if blocks > 32 { // blocks of a bit or two: no index helps, compare every pair
		for i := range bodies {
			for j := i + 1; j < len(bodies); j++ {
				if keys.SimhashDistance(bodies[i].hash, bodies[j].hash) <= maxDistance {
					g.union(bodies[i].id, bodies[j].id)
				}
			}
		}
		return
	}
	block := func(h uint64, b int) uint64 {
		lo, hi := b*64/blocks, (b+1)*64/blocks
		return h >> lo & (1<<(hi-lo) - 1)
	}
	type entry struct {
		key uint64
		i   int
	}
	entries := make([]entry, len(bodies))
	for a := range blocks {
		for b := a + 1; b < blocks; b++ {
			for i, x := range bodies {
				entries[i] = entry{block(x.hash, a)<<32 | block(x.hash, b), i}
			}
			slices.SortFunc(entries, func(x, y entry) int { return cmp.Compare(x.key, y.key) })
			for start := 0; start < len(entries); {
				end := start + 1
				for end < len(entries) && entries[end].key == entries[start].key {
					end++
				}
				for i := start; i < end; i++ {
					for j := i + 1; j < end; j++ {
						x, y := bodies[entries[i].i], bodies[entries[j].i]
						if keys.SimhashDistance(x.hash, y.hash) <= maxDistance {
							g.union(x.id, y.id)
						}
					}
				}
				start = end
			}
		}
	}
}

// graph is a union-find over keys.
type graph struct {
	ids       map[Key]int
	keys      []Key
	firstSeen []time.Time
	parent    []int
}

func newGraph() *graph { return &graph{ids: map[Key]int{}} }

// key returns the id of k, adding it; seen lowers its first sighting.
func (g *graph) key(k Key, seen time.Time) int {
	id, ok := g.ids[k]
	if !ok {
		id = len(g.keys)
		g.ids[k] = id
		g.keys = append(g.keys, k)
		g.firstSeen = append(g.firstSeen, seen)
		g.parent = append(g.parent, id)
	}
	g.firstSeen[id] = minTime(g.firstSeen[id], seen)
	return id
}

func (g *graph) find(id int) int {
	for g.parent[id] != id {
		g.parent[id] = g.parent[g.parent[id]]
		id = g.parent[id]
	}
	return id
}

func (g *graph) union(a, b int) {
	if ra, rb := g.find(a), g.find(b); ra != rb {
		g.parent[max(ra, rb)] = min(ra, rb)
	}
}

// earlier orders keys by first sighting, then by name.
func (g *graph) earlier(a, b int) bool {
	if !g.firstSeen[a].Equal(g.firstSeen[b]) {
		return g.firstSeen[a].Before(g.firstSeen[b])
	}
	return g.keys[a].String() < g.keys[b].String()
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
