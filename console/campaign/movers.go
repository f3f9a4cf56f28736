package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/period"
)

// Grouping names campaigns where the read side groups messages by them (movers).
const Grouping query.Grouping = "campaign"

// ErrEmptyComparison says the comparison period has no messages to compare with.
var ErrEmptyComparison = errors.New("nothing to compare with")

// Movers are the campaigns whose share of all trapped messages rose or fell beyond chance
// between cp and r's period under rule, and those that entered or left the top n. A campaign's
// share is of every message of the period, as the raw shares are, not only of those in
// campaigns. r must have grouped the history through cp's end too (FindCompared).
func (r *Result) Movers(ctx context.Context, s *Store, cp period.Period, n int, rule query.MoverRule) (query.Movers, error) {
	if cp.To.After(r.Until) {
		return query.Movers{}, fmt.Errorf("the campaigns were grouped up to %s, before the end of %s", r.Until.Format("2006-01-02"), cp)
	}
	// The period's campaign messages are in r.Summaries already; the comparison's are read.
	current := map[string]uint64{}
	for _, sum := range r.Summaries {
		current[sum.ID] = sum.Messages
	}
	traffic, err := s.traffic(ctx, cp)
	if err != nil {
		return query.Movers{}, err
	}
	previous := map[string]uint64{}
	for _, t := range traffic {
		if ci, ok := r.byFingerprint[t.fingerprint]; ok {
			previous[r.Campaigns[ci].ID] += t.messages
		}
	}
	now, err := counts(ctx, s, r.Period, current)
	if err != nil {
		return query.Movers{}, err
	}
	before, err := counts(ctx, s, cp, previous)
	if err != nil {
		return query.Movers{}, err
	}
	if before.Total.Messages == 0 {
		// Every campaign would have "entered" and none could move: no comparison at all.
		return query.Movers{}, fmt.Errorf("%w: %s has no messages", ErrEmptyComparison, cp)
	}
	return query.FindMovers(now, before, n, rule), nil
}

// counts are the campaign messages of p, most first, beside all the period's messages. Both
// must be whole: campaign messages are counted in events, so a period partly past the events'
// retention is refused.
func counts(ctx context.Context, s *Store, p period.Period, messages map[string]uint64) (query.Counts, error) {
	total, err := query.NewReader(s.conn).CompleteEvents(ctx, p, "campaign messages")
	if err != nil {
		return query.Counts{}, fmt.Errorf("%s: %w", p, err)
	}
	out := query.Counts{Period: p, Grouping: Grouping, Total: query.Count{Messages: total}}
	for id, m := range messages {
		out.Groups = append(out.Groups, query.Count{Key: id, Messages: m})
	}
	slices.SortFunc(out.Groups, func(a, b query.Count) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}
