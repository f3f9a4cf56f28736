package serve

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/report"
)

// extentAnswer says which days have messages, so that a client can open on data.
type extentAnswer struct {
	Empty       bool   `json:"empty"`
	FirstDay    string `json:"first_day,omitempty"`
	LastDay     string `json:"last_day,omitempty"`
	LatestMonth string `json:"latest_month,omitempty"` // the month of LastDay, as a period: 2005-09
}

func (s *Server) extent(w http.ResponseWriter, r *http.Request) int {
	if len(r.URL.Query()) > 0 {
		return s.fail(w, r, badRequest{fmt.Errorf("extent takes no parameters")})
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	e, err := s.reader.Extent(ctx)
	if err != nil {
		return s.fail(w, r, err)
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.cfg.CacheMaxAge.Seconds()/10)))
	if e.Empty {
		return writeJSON(w, http.StatusOK, extentAnswer{Empty: true})
	}
	return writeJSON(w, http.StatusOK, extentAnswer{FirstDay: e.First.Format(time.DateOnly),
		LastDay: e.Last.Format(time.DateOnly), LatestMonth: e.Last.Format("2006-01")})
}

// liveAnswer is the message count of each of the last hours and the countries that sent most.
// The last hour is the current one, still filling.
type liveAnswer struct {
	Hours     []time.Time   `json:"hours"`
	Messages  []uint64      `json:"messages"`
	Total     uint64        `json:"messages_total"`
	Countries []liveCountry `json:"countries"`
}

type liveCountry struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Messages uint64   `json:"messages"`
	Share    float64  `json:"share_pct"` // of all messages of the window
	PerHour  []uint64 `json:"per_hour"`
}

// LiveParams are the live endpoint's query parameters.
var LiveParams = []string{"hours", "top"}

func (s *Server) live(w http.ResponseWriter, r *http.Request) int {
	q, err := parameters(r.URL.Query(), LiveParams)
	if err != nil {
		return s.fail(w, r, err)
	}
	hours, top := 24, 8
	for _, p := range []struct {
		name     string
		to       *int
		min, max int
	}{{"hours", &hours, 1, 168}, {"top", &top, 1, 50}} {
		if v := q[p.name]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				return s.fail(w, r, badRequest{fmt.Errorf("%s %q is not a number from %d to %d", p.name, v, p.min, p.max)})
			}
			*p.to = n
		}
	}
	to := s.now().UTC().Truncate(time.Hour).Add(time.Hour)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	h, err := s.reader.Hourly(ctx, to.Add(-time.Duration(hours)*time.Hour), to)
	if err != nil {
		return s.fail(w, r, err)
	}
	out := liveAnswer{Hours: h.Hours, Messages: h.Messages, Total: h.Total, Countries: []liveCountry{}}
	for _, c := range h.Countries[:min(top, len(h.Countries))] {
		out.Countries = append(out.Countries, liveCountry{Code: c.Key, Name: report.Namer{}.Name(query.ByCountry, c.Key, ""),
			Messages: c.Messages, Share: 100 * float64(c.Messages) / float64(h.Total), PerHour: h.PerCountry[c.Key]})
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, out)
}
