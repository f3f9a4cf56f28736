package query

import (
	"math"

	"github.com/spamgeo/spamgeo/internal/countries"
)

// Row is one line of a share table: a group's part of the period's messages and unique sources,
// and the same group in the comparison period.
type Row struct {
	Key      string // "" for the rest of the world
	Name     string // the AS organisation, for networks
	Rank     int    // 1 for the largest; equal counts share a rank (1, 2, 2, 4); 0 when Unplaced
	Messages uint64
	Sources  uint64
	// Share is the percentage of the period's messages; Low and High bound its 95% Wilson
	// score interval. SourceShare is the percentage of the period's unique source addresses.
	Share, Low, High, SourceShare float64
	// The comparison period: the group's rank there (0 when it relayed nothing), share, and the
	// change in percentage points and in places (positive: it climbed).
	PreviousRank     int
	PreviousMessages uint64
	PreviousShare    float64
	ChangePP         float64
	RankChange       int
}

// Table is the top groups of a period, the rest of the world, and optionally the comparison.
type Table struct {
	Current  Counts
	Previous *Counts
	Top      []Row
	Rest     Row
}

// Compared says whether the rows carry a comparison: one was asked for and its period had
// messages. A comparison period without messages leaves the rows' comparison fields zero.
func (t Table) Compared() bool { return t.Previous != nil && t.Previous.Total.Messages > 0 }

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// Wilson returns the 95% Wilson score interval of the proportion k/n, in percent.
func Wilson(k, n uint64) (low, high float64) {
	if n == 0 {
		return 0, 0
	}
	nf, p := float64(n), float64(k)/float64(n)
	d := 1 + z95*z95/nf
	c := p + z95*z95/(2*nf)
	m := z95 * math.Sqrt(p*(1-p)/nf+z95*z95/(4*nf*nf))
	return 100 * max(0, (c-m)/d), 100 * min(1, (c+m)/d)
}

func percent(k, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(k) / float64(n)
}

// Unplaced says whether key, in grouping g, holds senders no GeoIP data placed (Unknown) or
// that are not public addresses (Reserved), rather than a place: such rows are shown with
// their share but not ranked, so that "second" means the second place that relayed most.
func Unplaced(g Grouping, key string) bool {
	switch g {
	case ByCountry:
		return key == countries.Unknown || key == countries.Reserved
	case ByContinent:
		return key == ""
	case ByASN:
		return key == "0"
	}
	return false
}

// ranks gives competition ranks to groups sorted largest first, 0 to the unplaced ones.
func ranks(g Grouping, groups []Count) []int {
	out := make([]int, len(groups))
	placed, last := 0, -1 // how many placed groups so far, and the index of the last one
	for i, c := range groups {
		if Unplaced(g, c.Key) {
			continue
		}
		placed++
		out[i] = placed
		if last >= 0 && c.Messages == groups[last].Messages {
			out[i] = out[last]
		}
		last = i
	}
	return out
}

// Compare builds the top-n table of current, each group also in previous (which may be nil).
// Groups beyond n make the rest of the world; its unique sources are the period's minus the top
// groups' (exact when groups share no address, as countries and networks do).
func Compare(current Counts, previous *Counts, n int) Table {
	t := Table{Current: current, Previous: previous}
	compared := t.Compared()
	prevRank := map[string]int{}
	prevCount := map[string]uint64{}
	if compared {
		for i, r := range ranks(previous.Grouping, previous.Groups) {
			prevRank[previous.Groups[i].Key] = r
			prevCount[previous.Groups[i].Key] = previous.Groups[i].Messages
		}
	}
	tot := current.Total
	var topMessages, topSources, topPrevious uint64
	for i, rank := range ranks(current.Grouping, current.Groups) {
		g := current.Groups[i]
		if i >= n {
			break
		}
		row := Row{Key: g.Key, Name: g.Name, Rank: rank, Messages: g.Messages, Sources: g.Sources,
			Share: percent(g.Messages, tot.Messages), SourceShare: percent(g.Sources, tot.Sources)}
		row.Low, row.High = Wilson(g.Messages, tot.Messages)
		if compared {
			row.PreviousRank, row.PreviousMessages = prevRank[g.Key], prevCount[g.Key]
			row.PreviousShare = percent(row.PreviousMessages, previous.Total.Messages)
			row.ChangePP = row.Share - row.PreviousShare
			if row.PreviousRank > 0 && row.Rank > 0 {
				row.RankChange = row.PreviousRank - row.Rank
			}
			topPrevious += row.PreviousMessages
		}
		topMessages += g.Messages
		topSources += g.Sources
		t.Top = append(t.Top, row)
	}
	rest := &t.Rest
	rest.Messages = tot.Messages - topMessages
	// Unique counts are approximate per group and overall: with no group beyond n, the
	// difference is that error, not sources of the rest.
	if len(current.Groups) > n && tot.Sources > topSources {
		rest.Sources = tot.Sources - topSources
	}
	rest.Share, rest.SourceShare = percent(rest.Messages, tot.Messages), percent(rest.Sources, tot.Sources)
	rest.Low, rest.High = Wilson(rest.Messages, tot.Messages)
	if compared {
		rest.PreviousMessages = previous.Total.Messages - topPrevious
		rest.PreviousShare = percent(rest.PreviousMessages, previous.Total.Messages)
		rest.ChangePP = rest.Share - rest.PreviousShare
	}
	return t
}
