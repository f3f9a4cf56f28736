package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
	"gonum.org/v1/plot/vg"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/internal/outfile"
	"github.com/spamgeo/spamgeo/internal/period"
)

// PeriodFlags choose a period the ways report and export accept.
type PeriodFlags struct {
	Period string    `help:"Period: a year (2005), half-year (2005H2), quarter (2005Q2), month (2005-04), day (2005-04-01) or range (2005-04-01..2005-09-30)." env:"PERIOD"`
	From   time.Time `help:"First day of the period (YYYY-MM-DD, UTC), with --to." format:"2006-01-02" env:"FROM"`
	To     time.Time `help:"Last day of the period, included (YYYY-MM-DD, UTC)." format:"2006-01-02" env:"TO"`
	Last   string    `help:"Rolling window up to today: 30d, 12w, 6m, 1y." env:"LAST"`
}

// ReportCmd is `spamgeo report`.
type ReportCmd struct {
	PeriodFlags `embed:"" envprefix:"SPAMGEO_REPORT_"`
	Compare     string    `help:"Comparison: none, previous (the period before, same length), year (a year earlier), or a period as for --period." default:"none" env:"SPAMGEO_REPORT_COMPARE"`
	CompareFrom time.Time `help:"First day of a comparison period, with --compare-to." format:"2006-01-02" env:"SPAMGEO_REPORT_COMPARE_FROM"`
	CompareTo   time.Time `help:"Last day of the comparison period, included." format:"2006-01-02" env:"SPAMGEO_REPORT_COMPARE_TO"`
	By          string    `help:"Rows: country, continent, asn (network) or trap." default:"country" enum:"country,continent,asn,trap" env:"SPAMGEO_REPORT_BY"`
	Top         int       `help:"Rows listed before the rest of the world." default:"12" env:"SPAMGEO_REPORT_TOP"`
	Publisher   string    `help:"Report countries grouped as a publisher does: a built-in grouping (sophos: China incl. Hong Kong) or a YAML file." env:"SPAMGEO_REPORT_PUBLISHER"`
	Format      string    `help:"Output: text, markdown, csv, json, html (self-contained page with charts), png or svg (a chart)." default:"text" enum:"text,markdown,csv,json,html,png,svg" env:"SPAMGEO_REPORT_FORMAT"`
	Chart       string    `help:"Chart for png/svg: bars (this period against the comparison) or time (share over time of the top rows)." default:"bars" enum:"bars,time" env:"SPAMGEO_REPORT_CHART"`
	Title       string    `help:"Title of the report and of its png/svg chart, instead of \"Share of trapped spam by relaying country\" and the like (the chart's period line goes with it)." env:"SPAMGEO_REPORT_TITLE"`
	Source      string    `help:"Line printed under a chart (png, svg, html), above the automatic one that gives the period, messages, traps and GeoIP data: \"Source: ExampleLab spam traps\"." env:"SPAMGEO_REPORT_SOURCE"`
	Width       string    `help:"Chart width, with its unit: cm, mm, in, pt (1/72 in) or px (pixels at --dpi): 18cm, 7in, 1200px. Default 18cm (wider for bar charts of many rows)." placeholder:"LENGTH" env:"SPAMGEO_REPORT_WIDTH"`
	Height      string    `help:"Chart height, with its unit as for --width. Default 11cm." placeholder:"LENGTH" env:"SPAMGEO_REPORT_HEIGHT"`
	DPI         int       `name:"dpi" help:"PNG resolution in pixels per inch: 18cm at 150 dpi is 1063 pixels; 300 for print." default:"150" env:"SPAMGEO_REPORT_DPI"`
	Per         string    `help:"Rank by a normalisation instead of the raw share, in a table of its own (text, markdown, csv, json): capita or internet-user (messages per million people or Internet users of each country, from --population), or address-space (unique sending IPv4 addresses per million addresses the GeoIP build places in each country or network, IPv6 /64s beside; the enricher stores that space for each build it loads; --by country or asn)." enum:",capita,internet-user,address-space" default:"" env:"SPAMGEO_REPORT_PER"`
	Reference   string    `help:"With --per: the country (or AS number) whose figure the others are a multiple of." default:"US" env:"SPAMGEO_REPORT_REFERENCE"`
	Population  string    `help:"With --per capita or internet-user: a country dataset of your own instead of the built-in one (CIA World Factbook 2025): CSV with a header naming country_code and population, and internet_users, population_year, internet_year if you have them." type:"existingfile" placeholder:"FILE" env:"SPAMGEO_REPORT_POPULATION"`
	Movers      bool      `help:"Also list the groups whose share rose or fell beyond chance against the comparison (two-proportion z-test at 99% confidence, at least 30 messages in the two periods, largest change first) and those that entered or left the top rows (text, markdown, json)." env:"SPAMGEO_REPORT_MOVERS"`
	Output      string    `help:"Write to this file instead of standard output; it is written under a temporary name beside it and renamed into place when complete, so a failure leaves the path as it was (pipes and devices are written to directly)." short:"o" placeholder:"FILE" env:"SPAMGEO_REPORT_OUTPUT"`
}

// period resolves --period, --from/--to and --last as the HTTP API resolves its parameters.
func (c *PeriodFlags) period(now time.Time) (period.Period, error) {
	return period.Spec{Period: c.Period, From: c.From, To: c.To, Last: c.Last}.Resolve(now)
}

func (c *ReportCmd) comparison(p period.Period) (*period.Period, error) {
	if !c.CompareFrom.IsZero() || !c.CompareTo.IsZero() {
		if c.CompareFrom.IsZero() || c.CompareTo.IsZero() {
			return nil, errors.New("--compare-from and --compare-to go together")
		}
		cp, err := period.Days(c.CompareFrom, c.CompareTo)
		return &cp, err
	}
	return report.Comparison(c.Compare, p)
}

// Run reads the counts and writes the report.
func (c *ReportCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	if c.Top < 1 {
		return fmt.Errorf("--top %d: list at least one row", c.Top)
	}
	p, err := c.period(time.Now())
	if err != nil {
		return err
	}
	cp, err := c.comparison(p)
	if err != nil {
		return err
	}
	if c.Publisher != "" && c.By != string(query.ByCountry) {
		return errors.New("--publisher groups countries; use it with --by country")
	}
	if c.Per != "" {
		if cp != nil || c.Movers {
			return errors.New("--per ranks one period: leave out --compare and --movers")
		}
		return c.runPer(ctx, g, p, stdout)
	}
	chart, err := c.chartOptions()
	if err != nil {
		return err
	}
	format := render.Format(c.Format)
	charts := format == render.PNG || format == render.SVG || format == render.HTML
	timeChart := c.Chart == "time" && format != render.HTML && charts
	req := report.Request{Query: query.Request{Period: p, Grouping: query.Grouping(c.By)}, Compare: cp, Top: c.Top,
		Publisher: c.Publisher, Series: format == render.HTML || timeChart, Provenance: charts, Movers: c.Movers}
	if c.Movers && cp == nil {
		return errors.New("--movers compares two periods: give --compare too")
	}
	return readTo(ctx, g, c.Output, stdout, format == render.PNG, func(out io.Writer, r *query.Reader) error {
		rep, err := report.Build(ctx, r, req)
		if err != nil {
			return err
		}
		if c.Title != "" {
			rep.Title = c.Title
		}
		switch {
		case timeChart:
			return report.WriteTimeChart(out, rep, chart, format)
		case format == render.PNG || format == render.SVG:
			return report.WriteBarChart(out, rep, chart, format)
		case format == render.HTML:
			chart.Title = "" // the page's heading; its two charts keep their own titles
			return report.WriteHTML(out, rep, chart)
		}
		return report.Write(out, rep, format)
	})
}

// readTo opens the output and ClickHouse, runs write, and commits the output once write has
// succeeded (a failure leaves a file path as it was).
func readTo(ctx context.Context, g *Globals, path string, stdout io.Writer, binary bool, write func(io.Writer, *query.Reader) error) error {
	out, err := output(ctx, path, stdout, binary)
	if err != nil {
		return err
	}
	defer out.Abort()
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := write(out, query.NewReader(conn)); err != nil {
		return err
	}
	return out.Commit()
}

// runPer writes the ranking by --per.
func (c *ReportCmd) runPer(ctx context.Context, g *Globals, p period.Period, stdout io.Writer) error {
	if c.Publisher != "" {
		return errors.New("--per ranks countries as ISO codes: leave out --publisher")
	}
	req := report.NormalRequest{Period: p, Per: c.Per, Grouping: query.Grouping(c.By), Reference: c.Reference, Top: c.Top}
	if c.Population != "" {
		var err error
		if req.Population, req.Source, err = readPopulation(c.Population); err != nil {
			return err
		}
	}
	format := render.Format(c.Format)
	if format != render.Text && format != render.Markdown && format != render.CSV && format != render.JSON {
		return fmt.Errorf("--per writes text, markdown, csv or json, not %s", format)
	}
	return readTo(ctx, g, c.Output, stdout, false, func(out io.Writer, r *query.Reader) error {
		n, err := report.Normalise(ctx, r, req)
		if err != nil {
			return err
		}
		return n.Write(out, format)
	})
}

// chartOptions reads --width, --height, --dpi, --title and --source.
func (c *ReportCmd) chartOptions() (render.ChartOptions, error) {
	if c.DPI < 10 || c.DPI > 1200 {
		return render.ChartOptions{}, fmt.Errorf("--dpi %d: give between 10 and 1200 pixels per inch", c.DPI)
	}
	o := render.ChartOptions{DPI: c.DPI, Title: c.Title, Source: c.Source}
	for _, l := range []struct {
		flag, value string
		to          *vg.Length
	}{{"--width", c.Width, &o.Width}, {"--height", c.Height, &o.Height}} {
		if l.value == "" {
			continue
		}
		v, err := chartLength(l.value, c.DPI)
		if err != nil {
			return render.ChartOptions{}, fmt.Errorf("%s: %w", l.flag, err)
		}
		if px := v / vg.Inch * vg.Length(c.DPI); px > 16000 {
			return render.ChartOptions{}, fmt.Errorf("%s %s at %d dpi is %.0f pixels: give at most 16000", l.flag, l.value, c.DPI, px)
		}
		*l.to = v
	}
	return o, nil
}

// chartLength reads a length with its unit: 18cm, 180mm, 7in, 504pt, or 1200px at dpi.
func chartLength(s string, dpi int) (vg.Length, error) {
	units := []struct {
		suffix string
		unit   vg.Length
	}{{"cm", vg.Centimeter}, {"mm", vg.Millimeter}, {"in", vg.Inch}, {"pt", vg.Points(1)}, {"px", vg.Inch / vg.Length(dpi)}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(strings.TrimSpace(s), u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || v <= 0 || math.IsInf(v, 0) {
				break
			}
			l := vg.Length(v) * u.unit
			if l < 3*vg.Centimeter || l > 100*vg.Centimeter {
				return 0, fmt.Errorf("%q is %.1f cm: give between 3 cm and 1 m", s, l/vg.Centimeter)
			}
			return l, nil
		}
	}
	return 0, fmt.Errorf("%q: give a positive number and its unit: 18cm, 180mm, 7in, 504pt or 1200px (pixels at --dpi)", s)
}

// output is where a command writes: the file path when given ("-" for standard output), else
// standard output, which must not be a terminal when the output is binary. A file appears, whole,
// on Commit; the caller defers Abort.
func output(ctx context.Context, path string, stdout io.Writer, binary bool) (*outfile.File, error) {
	if path == "" {
		path = outfile.Stdout
	}
	if binary && path == outfile.Stdout && isTerminal(stdout) {
		return nil, errors.New("a PNG chart is binary: write it with --output FILE or redirect standard output")
	}
	return outfile.Create(ctx, path, stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readPopulation reads a country dataset of one's own (--population); source names it.
func readPopulation(path string) (data map[string]countries.Population, source string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if data, err = countries.ReadPopulation(f); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return data, filepath.Base(path), nil
}
