package query

import "context"

// Share is a country's part of a period's messages.
type Share struct {
	Country  string
	Messages uint64
	Percent  float64
	Rank     int // 1 for the largest; countries with equal counts share a rank
}

// Shares are every country's share of one period, largest first.
type Shares struct {
	Period    Period
	Total     uint64
	Countries []Share
}

// Find returns the share of country, or a zero share when it relayed nothing.
func (s Shares) Find(country string) Share {
	for _, c := range s.Countries {
		if c.Country == country {
			return c
		}
	}
	return Share{Country: country}
}

// CountryShares computes every country's share of p from the daily rollup.
func (r *Reader) CountryShares(ctx context.Context, p Period) (Shares, error) {
	counts, err := r.MessagesByCountry(ctx, p)
	if err != nil {
		return Shares{}, err
	}
	return SharesOf(p, counts), nil
}

// SharesOf turns counts, largest first, into shares with competition ranks (1, 2, 2, 4).
func SharesOf(p Period, counts []CountryCount) Shares {
	s := Shares{Period: p}
	for _, c := range counts {
		s.Total += c.Messages
	}
	for i, c := range counts {
		sh := Share{Country: c.Country, Messages: c.Messages, Rank: i + 1}
		if i > 0 && c.Messages == counts[i-1].Messages {
			sh.Rank = s.Countries[i-1].Rank
		}
		if s.Total > 0 {
			sh.Percent = 100 * float64(c.Messages) / float64(s.Total)
		}
		s.Countries = append(s.Countries, sh)
	}
	return s
}

// Row is one line of a comparison table.
type Row struct {
	Country  string // "" for the rest of the world
	Current  Share
	Previous Share // zero when there is no comparison or the country relayed nothing then
	ChangePP float64
}

// Table is the top countries of a period, the rest of the world, and optionally the same
// countries in a comparison period.
type Table struct {
	Current  Shares
	Previous *Shares
	Top      []Row
	Rest     Row
}

// Compare builds the top-n table of current, with each country's share in previous (may be nil).
func Compare(current Shares, previous *Shares, n int) Table {
	t := Table{Current: current, Previous: previous}
	var restPrev uint64
	if previous != nil {
		restPrev = previous.Total
	}
	for i, c := range current.Countries {
		if i >= n {
			t.Rest.Current.Messages += c.Messages
			continue
		}
		row := Row{Country: c.Country, Current: c}
		if previous != nil {
			row.Previous = previous.Find(c.Country)
			restPrev -= row.Previous.Messages
			row.ChangePP = c.Percent - row.Previous.Percent
		}
		t.Top = append(t.Top, row)
	}
	if current.Total > 0 {
		t.Rest.Current.Percent = 100 * float64(t.Rest.Current.Messages) / float64(current.Total)
	}
	if previous != nil {
		t.Rest.Previous.Messages = restPrev
		if previous.Total > 0 {
			t.Rest.Previous.Percent = 100 * float64(restPrev) / float64(previous.Total)
		}
		t.Rest.ChangePP = t.Rest.Current.Percent - t.Rest.Previous.Percent
	}
	return t
}
