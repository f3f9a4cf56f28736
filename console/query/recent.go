package query

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spamgeo/spamgeo/storage/queries"
)

// Extent is the span of days that have messages.
type Extent struct {
	Empty       bool      // no messages at all; First and Last are zero
	First, Last time.Time // first and last day with messages
}

// Extent reads the first and last day with messages.
func (r *Reader) Extent(ctx context.Context) (Extent, error) {
	var e Extent
	var rows uint64
	if err := r.conn.QueryRow(ctx, queries.Extent).Scan(&e.First, &e.Last, &rows); err != nil {
		return Extent{}, fmt.Errorf("days with messages: %w", err)
	}
	if rows == 0 {
		return Extent{Empty: true}, nil
	}
	e.First, e.Last = e.First.UTC(), e.Last.UTC()
	return e, nil
}

// Hourly is the message count of each hour of a window and of its busiest countries.
type Hourly struct {
	Hours     []time.Time // hour starts, in order, every hour of the window
	Messages  []uint64    // all messages per hour
	Total     uint64
	Countries []Count // every country of the window, most messages first (Sources unset)
	// PerCountry holds each country's messages per hour, aligned with Hours.
	PerCountry map[string][]uint64
}

// Hourly counts the messages of the hours in [from, to), which must be whole hours.
func (r *Reader) Hourly(ctx context.Context, from, to time.Time) (Hourly, error) {
	from, to = from.UTC(), to.UTC()
	if !from.Equal(from.Truncate(time.Hour)) || !to.Equal(to.Truncate(time.Hour)) || !to.After(from) {
		return Hourly{}, fmt.Errorf("hourly counts need whole hours, from before to: %s to %s", from, to)
	}
	h := Hourly{PerCountry: map[string][]uint64{}}
	index := map[time.Time]int{}
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		index[t] = len(h.Hours)
		h.Hours = append(h.Hours, t)
	}
	h.Messages = make([]uint64, len(h.Hours))
	rows, err := r.conn.Query(ctx, queries.Hourly, from.Format(sqlTime), to.Format(sqlTime))
	if err != nil {
		return Hourly{}, fmt.Errorf("messages per hour from %s: %w", from.Format(time.RFC3339), err)
	}
	defer rows.Close()
	byCountry := map[string]uint64{}
	for rows.Next() {
		var t time.Time
		var country string
		var n uint64
		if err := rows.Scan(&t, &country, &n); err != nil {
			return Hourly{}, err
		}
		i := index[t.UTC()]
		if h.PerCountry[country] == nil {
			h.PerCountry[country] = make([]uint64, len(h.Hours))
		}
		h.PerCountry[country][i] += n
		h.Messages[i] += n
		h.Total += n
		byCountry[country] += n
	}
	if err := rows.Err(); err != nil {
		return Hourly{}, err
	}
	for c, n := range byCountry {
		h.Countries = append(h.Countries, Count{Key: c, Messages: n})
	}
	sort.Slice(h.Countries, func(i, j int) bool {
		a, b := h.Countries[i], h.Countries[j]
		return a.Messages > b.Messages || a.Messages == b.Messages && a.Key < b.Key
	})
	return h, nil
}
