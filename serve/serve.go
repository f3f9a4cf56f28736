// Package serve is spamgeo's read-only HTTP JSON API — the report of a period: shares by
// country, continent, network or trap, with a comparison and the share-over-time series — and
// a built-in dashboard page that draws it. It only reads ClickHouse, through query with bound parameters; every
// request is validated, bounded in time, and answered with caching headers.
package serve

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/query"
	"github.com/spamgeo/spamgeo/report"
)

// Configuration of the API server.
type Configuration struct {
	// Listen is the address to serve on.
	Listen string
	// QueryTimeout bounds the ClickHouse work of one request (504 beyond).
	QueryTimeout time.Duration
	// CacheMaxAge is how long clients and proxies may keep an answer about a period that has
	// ended; answers that include today are kept for a tenth of it.
	CacheMaxAge time.Duration
}

// DefaultConfiguration serves on loopback.
func DefaultConfiguration() Configuration {
	return Configuration{Listen: "127.0.0.1:9560", QueryTimeout: 10 * time.Second, CacheMaxAge: 5 * time.Minute}
}

// Dependencies are what the server reads from and reports to.
type Dependencies struct {
	ClickHouse driver.Conn
	Registry   prometheus.Registerer
	Logger     *slog.Logger
}

// dashboard is the built-in page served at /: map, chart, table and period picker, with every
// asset embedded (no CDN). Third-party assets are listed in dashboard/LICENSES.md.
//
//go:embed dashboard
var dashboard embed.FS

// OpenAPI is the API's description, served at /api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Server answers the API.
type Server struct {
	cfg      Configuration
	deps     Dependencies
	reader   *query.Reader
	http     *http.Server
	addr     net.Addr
	requests *prometheus.CounterVec
	seconds  prometheus.Histogram
	now      func() time.Time
}

// New prepares the server.
func New(cfg Configuration, deps Dependencies) *Server {
	s := &Server{cfg: cfg, deps: deps, reader: query.NewReader(deps.ClickHouse), now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spamgeo_serve_requests_total", Help: "API requests answered, by path and status code.",
		}, []string{"path", "code"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spamgeo_serve_request_seconds", Help: "Time to answer an API request.",
		}),
	}
	deps.Registry.MustRegister(s.requests, s.seconds)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/report", s.report)
	page, _ := fs.Sub(dashboard, "dashboard")
	mux.Handle("GET /", http.FileServerFS(page))
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: cfg.QueryTimeout + 5*time.Second,
		IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(deps.Logger.Handler(), slog.LevelWarn)}
	return s
}

// Handler is the server's routing, for tests.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.addr = ln.Addr()
	go s.http.Serve(ln)
	s.deps.Logger.Info("serving the API", "url", "http://"+ln.Addr().String()+"/api/v1/report")
	return nil
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop finishes the requests in flight (up to 10 s) and closes the listener.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}

// badRequest is a parameter problem, answered 400 with its message.
type badRequest struct{ error }

// Params are the report endpoint's query parameters, as the OpenAPI file lists them.
var Params = []string{"period", "from", "to", "last", "compare", "by", "top", "publisher", "series"}

// reportRequest reads and checks the parameters.
func (s *Server) reportRequest(q map[string][]string) (report.Request, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for k := range q {
		if !slices.Contains(Params, k) {
			return report.Request{}, badRequest{fmt.Errorf("unknown parameter %q", k)}
		}
	}
	var p query.Period
	var err error
	switch {
	case get("period") != "":
		p, err = query.ParsePeriod(get("period"))
	case get("last") != "":
		p, err = query.LastPeriod(get("last"), s.now())
	case get("from") != "" && get("to") != "":
		var from, to time.Time
		if from, err = time.Parse(time.DateOnly, get("from")); err == nil {
			if to, err = time.Parse(time.DateOnly, get("to")); err == nil {
				p, err = query.Days(from, to)
			}
		}
	default:
		err = errors.New("give the period: period, last, or from and to")
	}
	if err != nil {
		return report.Request{}, badRequest{err}
	}
	req := report.Request{Query: query.Request{Period: p, Grouping: query.ByCountry}, Top: 12, Publisher: get("publisher")}
	if by := get("by"); by != "" {
		if !slices.Contains([]string{"country", "continent", "asn", "trap"}, by) {
			return req, badRequest{fmt.Errorf("by %q is not country, continent, asn or trap", by)}
		}
		req.Query.Grouping = query.Grouping(by)
	}
	if top := get("top"); top != "" {
		if req.Top, err = strconv.Atoi(top); err != nil || req.Top < 1 || req.Top > 250 {
			return req, badRequest{fmt.Errorf("top %q is not a number from 1 to 250", top)}
		}
	}
	if req.Publisher != "" && !slices.Contains(query.BuiltinPublishers(), req.Publisher) {
		// Over HTTP only the built-in groupings: a file name would read the server's disk.
		return req, badRequest{fmt.Errorf("publisher %q is not one of %v", req.Publisher, query.BuiltinPublishers())}
	}
	if req.Publisher != "" && req.Query.Grouping != query.ByCountry {
		return req, badRequest{errors.New("a publisher groups countries: use it with by=country")}
	}
	if req.Compare, err = report.Comparison(get("compare"), p); err != nil {
		return req, badRequest{err}
	}
	req.Series = get("series") != "false"
	return req, nil
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := http.StatusOK
	defer func() {
		s.requests.WithLabelValues("/api/v1/report", strconv.Itoa(code)).Inc()
		s.seconds.Observe(time.Since(start).Seconds())
	}()
	req, err := s.reportRequest(r.URL.Query())
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		var rep report.Report
		if rep, err = report.Build(ctx, s.reader, req); err == nil {
			w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.maxAge(req).Seconds())))
			writeJSON(w, code, response{Report: rep, Series: seriesOf(rep.Series)})
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusGatewayTimeout
		} else {
			code = http.StatusInternalServerError
			s.deps.Logger.Error("report request failed", "query", r.URL.RawQuery, "error", err)
			err = errors.New("the report could not be computed; see the server log")
		}
	} else {
		code = http.StatusBadRequest
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// maxAge keeps answers about the past longer than answers that may still change.
func (s *Server) maxAge(req report.Request) time.Duration {
	if req.Query.Period.To.After(s.now()) {
		return s.cfg.CacheMaxAge / 10
	}
	return s.cfg.CacheMaxAge
}

// response is a report with its series, which JSON carries with null for the gaps (NaN).
type response struct {
	report.Report
	Series *series `json:"series,omitempty"`
}

type series struct {
	Bucket string                `json:"bucket"`
	Times  []time.Time           `json:"times"`
	Shares map[string][]*float64 `json:"shares"`
}

func seriesOf(s *query.Series) *series {
	if s == nil {
		return nil
	}
	out := &series{Bucket: s.Bucket, Times: s.Times, Shares: map[string][]*float64{}}
	for k, values := range s.Shares {
		col := make([]*float64, len(values))
		for i, v := range values {
			if !math.IsNaN(v) {
				col[i] = &v
			}
		}
		out.Shares[k] = col
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
