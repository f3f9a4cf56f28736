// Package serve is spamgeo's read-only HTTP JSON API — the report of a period: shares by
// country, continent, network or trap, with a comparison and the share-over-time series — and
// a built-in dashboard page that draws it. It only reads ClickHouse, through query with bound parameters; every
// request is validated, bounded in time, and answered with caching and security headers.
package serve

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/lifecycle"
	"github.com/spamgeo/spamgeo/internal/period"
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
	serving  lifecycle.Worker
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
	mux.HandleFunc("GET /api/v1/report", s.instrument("/api/v1/report", s.report))
	mux.HandleFunc("GET /api/v1/normalised", s.instrument("/api/v1/normalised", s.normalised))
	mux.HandleFunc("GET /api/v1/extent", s.instrument("/api/v1/extent", s.extent))
	mux.HandleFunc("GET /api/v1/live", s.instrument("/api/v1/live", s.live))
	page, _ := fs.Sub(dashboard, "dashboard")
	mux.Handle("GET /", http.FileServerFS(page))
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	s.http = &http.Server{Handler: secure(mux), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: cfg.QueryTimeout + 5*time.Second,
		IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(deps.Logger.Handler(), slog.LevelWarn)}
	return s
}

// securityHeaders go with every answer, of the API and of the dashboard: browsers take types as
// sent, never show the pages in a frame, and run, style and fetch from this server only. The
// dashboard has no inline script or style (app.js colours the map through the CSSOM, which
// style-src allows), so the policy needs no 'unsafe-inline'.
var securityHeaders = map[string]string{
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

// secure adds the securityHeaders to every answer of h.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		h.ServeHTTP(w, r)
	})
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
	s.serving.Go(func(ctx context.Context) error {
		failed := make(chan error, 1)
		go func() { failed <- s.http.Serve(ln) }()
		select {
		case err := <-failed: // the listener failed
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		// Finish the requests in flight, up to 10 s.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.http.Shutdown(sctx)
		<-failed
		return err
	})
	s.deps.Logger.Info("serving the API", "url", "http://"+ln.Addr().String()+"/api/v1/report")
	return nil
}

// Done is closed when the server stopped: by Stop, or because its listener failed.
func (s *Server) Done() <-chan struct{} { return s.serving.Done() }

// Healthy reports ClickHouse not answering.
func (s *Server) Healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.deps.ClickHouse.Ping(ctx)
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop finishes the requests in flight (up to 10 s) and closes the listener.
func (s *Server) Stop() error { return s.serving.Stop() }

// badRequest is a parameter problem, answered 400 with its message.
type badRequest struct{ error }

// parameters reads an endpoint's query parameters: each one of known, at most once (a second
// value would otherwise be dropped unseen).
func parameters(q url.Values, known []string) (map[string]string, error) {
	out := make(map[string]string, len(q))
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(known, k):
			return nil, badRequest{fmt.Errorf("unknown parameter %q", k)}
		case len(q[k]) > 1:
			return nil, badRequest{fmt.Errorf("parameter %q is given %d times: give it once", k, len(q[k]))}
		}
		out[k] = q[k][0]
	}
	return out, nil
}

// parseBool reads a yes-or-no parameter: true or 1, false or 0, in any case.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, badRequest{fmt.Errorf("%s %q is not true or false (nor 1 or 0)", name, v)}
}

// Params are the report endpoint's query parameters, as the OpenAPI file lists them.
var Params = []string{"period", "from", "to", "last", "compare", "by", "top", "publisher", "series", "movers", "format", "chart"}

// Downloads are the report endpoint's formats besides JSON: the table as CSV and a chart as
// PNG, as the dashboard offers them.
var Downloads = []render.Format{render.CSV, render.PNG}

// download is what a report request asks for besides the report: a file format and its chart.
type download struct {
	format render.Format // "" for JSON
	chart  string        // bars or time, for PNG
}

// downloadRequest reads the format and chart parameters.
func downloadRequest(q map[string]string) (download, error) {
	d := download{chart: "bars"}
	if v, ok := q["format"]; ok && v != "json" {
		d.format = render.Format(v)
		if !slices.Contains(Downloads, d.format) {
			return d, badRequest{fmt.Errorf("format %q is not json, csv or png", v)}
		}
	}
	if v, ok := q["chart"]; ok {
		if d.format != render.PNG || v != "bars" && v != "time" {
			return d, badRequest{fmt.Errorf("chart %q: use chart=bars or chart=time with format=png", v)}
		}
		d.chart = v
	}
	return d, nil
}

// period reads the period parameters (period, from and to, or last) as the command line reads
// its flags.
func (s *Server) period(q map[string]string) (period.Period, error) {
	spec := period.Spec{Period: q["period"], Last: q["last"]}
	for name, day := range map[string]*time.Time{"from": &spec.From, "to": &spec.To} {
		if v := q[name]; v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return period.Period{}, badRequest{fmt.Errorf("%s %q: write a day as YYYY-MM-DD", name, v)}
			}
			*day = t
		}
	}
	p, err := spec.Resolve(s.now())
	if err != nil {
		return p, badRequest{err}
	}
	return p, nil
}

// top reads the top parameter: rows listed, 12 by default.
func top(q map[string]string) (int, error) {
	v, ok := q["top"]
	if !ok {
		return 12, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 250 {
		return 0, badRequest{fmt.Errorf("top %q is not a number from 1 to 250", v)}
	}
	return n, nil
}

// reportRequest reads and checks the parameters (see parameters).
func (s *Server) reportRequest(q map[string]string) (report.Request, error) {
	p, err := s.period(q)
	if err != nil {
		return report.Request{}, err
	}
	req := report.Request{Query: query.Request{Period: p, Grouping: query.ByCountry}, Top: 12, Publisher: q["publisher"]}
	if by := q["by"]; by != "" {
		if !slices.Contains([]string{"country", "continent", "asn", "trap"}, by) {
			return req, badRequest{fmt.Errorf("by %q is not country, continent, asn or trap", by)}
		}
		req.Query.Grouping = query.Grouping(by)
	}
	if req.Top, err = top(q); err != nil {
		return req, err
	}
	if req.Publisher != "" && !slices.Contains(query.BuiltinPublishers(), req.Publisher) {
		// Over HTTP only the built-in groupings: a file name would read the server's disk.
		return req, badRequest{fmt.Errorf("publisher %q is not one of %v", req.Publisher, query.BuiltinPublishers())}
	}
	if req.Publisher != "" && req.Query.Grouping != query.ByCountry {
		return req, badRequest{errors.New("a publisher groups countries: use it with by=country")}
	}
	if req.Compare, err = report.Comparison(q["compare"], p); err != nil {
		return req, badRequest{err}
	}
	req.Series = true
	if v := q["series"]; v != "" {
		if req.Series, err = parseBool("series", v); err != nil {
			return req, err
		}
	}
	if v := q["movers"]; v != "" {
		if req.Movers, err = parseBool("movers", v); err != nil {
			return req, err
		}
	}
	return req, nil
}

// NormalParams are the normalised endpoint's query parameters, as the OpenAPI file lists them.
var NormalParams = []string{"period", "from", "to", "last", "per", "by", "top", "reference"}

// normalised answers a ranking by a normalisation (report --per): per person, per Internet user
// (the built-in country dataset) or per address space.
func (s *Server) normalised(w http.ResponseWriter, r *http.Request) int {
	q, err := parameters(r.URL.Query(), NormalParams)
	if err != nil {
		return s.fail(w, r, err)
	}
	p, err := s.period(q)
	if err != nil {
		return s.fail(w, r, err)
	}
	req := report.NormalRequest{Period: p, Per: q["per"], Grouping: query.Grouping(cmp.Or(q["by"], "country")), Reference: cmp.Or(q["reference"], "US")}
	if req.Top, err = top(q); err != nil {
		return s.fail(w, r, err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	n, err := report.Normalise(ctx, s.reader, req)
	if errors.Is(err, report.ErrNormalRequest) || errors.Is(err, query.ErrNoAddressSpace) || errors.Is(err, query.ErrEventsExpired) {
		err = badRequest{err}
	}
	if err != nil {
		return s.fail(w, r, err)
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.maxAge(p.To).Seconds())))
	return writeJSON(w, http.StatusOK, n)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) int {
	q, err := parameters(r.URL.Query(), Params)
	if err != nil {
		return s.fail(w, r, err)
	}
	req, err := s.reportRequest(q)
	if err != nil {
		return s.fail(w, r, err)
	}
	file, err := downloadRequest(q)
	if err != nil {
		return s.fail(w, r, err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	req.Series = req.Series && (file.format == "" || file.chart == "time")
	req.Provenance = file.format == render.PNG // a chart's methodology line: traps, GeoIP builds
	rep, err := report.Build(ctx, s.reader, req)
	if err != nil {
		return s.fail(w, r, err)
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.maxAge(req.Query.Period.To).Seconds())))
	if file.format == "" {
		return writeJSON(w, http.StatusOK, response{Report: rep, Series: seriesOf(rep.Series)})
	}
	if err := writeFile(w, req, rep, file); err != nil {
		return s.fail(w, r, err)
	}
	return http.StatusOK
}

// instrument counts the answers of h by status code and times them.
func (s *Server) instrument(path string, h func(http.ResponseWriter, *http.Request) int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := h(w, r)
		s.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
		s.seconds.Observe(time.Since(start).Seconds())
	}
}

// fail answers err: 400 with its message for a parameter problem, 504 when ClickHouse ran out of
// time, nothing when the client has gone, otherwise 500 with the details in the server's log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) int {
	code := http.StatusInternalServerError
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		code = http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	case r.Context().Err() != nil:
		// The client went away (a dashboard aborts a request it no longer needs); nobody reads
		// the answer. 499 is the status proxies log for it.
		return 499
	default:
		s.deps.Logger.Error("request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "error", err)
		err = errors.New("the answer could not be computed; see the server log")
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, code, map[string]string{"error": err.Error()})
}

// writeFile writes the report as a download named after what it holds, e.g.
// spamgeo-country-2005-04-01..2005-09-30.csv. It renders into memory first, so that a failure
// is still answered as an error.
func writeFile(w http.ResponseWriter, req report.Request, rep report.Report, d download) error {
	var b bytes.Buffer
	var err error
	name := fmt.Sprintf("spamgeo-%s-%s", req.Query.Grouping, req.Query.Period)
	switch {
	case d.format == render.PNG && d.chart == "time":
		err, name = report.WriteTimeChart(&b, rep, render.ChartOptions{}, render.PNG), name+"-over-time"
	default:
		err = report.Write(&b, rep, d.format)
	}
	if err != nil {
		return fmt.Errorf("render %s: %w", d.format, err)
	}
	w.Header().Set("Content-Type", map[render.Format]string{render.CSV: "text/csv; charset=utf-8", render.PNG: "image/png"}[d.format])
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"."+string(d.format)))
	w.Write(b.Bytes())
	return nil
}

// maxAge keeps answers about the past longer than answers that may still change: those about a
// time span that ends after now.
func (s *Server) maxAge(end time.Time) time.Duration {
	if end.After(s.now()) {
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

func writeJSON(w http.ResponseWriter, code int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
	return code
}
