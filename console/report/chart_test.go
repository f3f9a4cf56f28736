package report

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

const (
	build4 = "country ipvAll@2026-06-01; asn-ipv4.csv#76afd7f575bc"
	build6 = "country ipvAll@2026-06-01; asn-ipv6.csv#0a1b2c3d4e5f"
)

var pressOptions = render.ChartOptions{Source: "Source: ExampleLab spam traps"}

// chartSample is the sample report with what Build reads for charts: six months of shares and
// the traps and GeoIP builds of both periods.
func chartSample(t *testing.T) Report {
	r := sample(t)
	var months []time.Time
	for m := range 6 {
		months = append(months, time.Date(2005, time.Month(4+m), 1, 0, 0, 0, 0, time.UTC))
	}
	r.Series = &query.Series{Bucket: "month", Times: months, Keys: []string{"US", "CN", "KR"}, Shares: map[string][]float64{
		"US": {30, 28, 27, 26, 25, 24}, "CN": {18, 20, 22, 23, 24, 26}, "KR": {11, 10, 10, 9, 9, 9}}}
	r.provenance = &query.Provenance{Traps: 12, Events: 10_000, GeoIPBuilds: []string{build4, build6}}
	r.compareProvenance = &query.Provenance{Traps: 11, Events: 10_000, GeoIPBuilds: []string{build4}}
	return r
}

var chartWriters = map[string]func(*bytes.Buffer, Report, render.ChartOptions, render.Format) error{
	"bars": func(b *bytes.Buffer, r Report, o render.ChartOptions, f render.Format) error {
		return WriteBarChart(b, r, o, f)
	},
	"time": func(b *bytes.Buffer, r Report, o render.ChartOptions, f render.Format) error {
		return WriteTimeChart(b, r, o, f)
	},
}

var embeddedFont = regexp.MustCompile(`base64,[A-Za-z0-9+/=]+`)

// svgTexts returns the text of every <text> element, in order, and the font family each uses.
func svgTexts(t *testing.T, svg []byte) (texts, families []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "text" {
			var el struct {
				Style string `xml:"style,attr"`
				Text  string `xml:",chardata"`
			}
			if err := d.DecodeElement(&el, &start); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, el.Text)
			if _, f, ok := strings.Cut(el.Style, "font-family:"); ok {
				f, _, _ = strings.Cut(f, ";")
				families = append(families, f)
			}
		}
	}
	return texts, families
}

// The SVG charts match their golden files (the embedded font's data left out), and the PNG and
// SVG of each chart are kept in $SPAMGEO_ARTIFACTS, when set, to be looked at (the pipeline
// test in cmd/spamgeo keeps the same charts of real data as report-bars and report-time).
func TestChartGolden(t *testing.T) {
	dir := os.Getenv("SPAMGEO_ARTIFACTS")
	r := chartSample(t)
	for name, write := range chartWriters {
		for _, f := range []render.Format{render.SVG, render.PNG} {
			var b bytes.Buffer
			if err := write(&b, r, pressOptions, f); err != nil {
				t.Fatal(err)
			}
			if dir != "" {
				if err := os.WriteFile(filepath.Join(dir, "report-sample-"+name+"."+string(f)), b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if f == render.SVG {
				golden(t, "chart-"+name+".svg", embeddedFont.ReplaceAll(b.Bytes(), []byte("base64,…")))
			}
		}
	}
}

// What a press office needs on the chart: percent axes, the values on the bars, short period
// names, the source and the methodology line, and in SVG the very font the PNG is drawn with.
func TestChartText(t *testing.T) {
	r := chartSample(t)
	// The time chart shows no comparison, so its footer has none.
	methodology := map[string]string{
		"bars": "Apr–Sep 2005: 10,000 messages caught by 12 spam traps (Apr–Sep 2004: 10,000 messages caught by 11 spam traps); " +
			"shares are of these messages, not of all spam. GeoIP: DB-IP Country Lite 2026-06-01, ip-location-db ASN (CC BY 4.0).",
		"time": "Apr–Sep 2005: 10,000 messages caught by 12 spam traps; " +
			"shares are of these messages, not of all spam. GeoIP: DB-IP Country Lite 2026-06-01, ip-location-db ASN (CC BY 4.0).",
	}
	want := map[string][]string{
		"bars": {"Share of trapped spam by relaying country", "Apr–Sep 2005, compared with Apr–Sep 2004",
			"26.5%", "22.3%", "9.7%", "41.5%", "11.6%", "15.4%", "Apr–Sep 2005", "Apr–Sep 2004", "United States", "China (incl Hong", "Kong)"},
		"time": {"Share of trapped spam by relaying country, month by month", "Apr–Sep 2005", "0%", "10%", "20%", "30%",
			"Apr 2005", "May", "Jun", "Jul", "Aug", "Sep", "United States", "China (incl Hong Kong)", "South Korea"},
	}
	for name, write := range chartWriters {
		var b bytes.Buffer
		if err := write(&b, r, pressOptions, render.SVG); err != nil {
			t.Fatal(err)
		}
		texts, families := svgTexts(t, b.Bytes())
		for _, w := range want[name] {
			if !slices.Contains(texts, w) {
				t.Errorf("%s chart: no text %q in %q", name, w, texts)
			}
		}
		var axis []string // the percent labels of the y axis
		for _, s := range texts {
			if regexp.MustCompile(`^[0-9]+%$`).MatchString(s) {
				axis = append(axis, s)
			}
		}
		if len(axis) < 3 || axis[0] != "0%" {
			t.Errorf("%s chart: y axis labels %q", name, axis)
		}
		for _, banned := range []string{"50.00", "2005-04-01..2005-09-30", "2005-06"} {
			if slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, banned) }) {
				t.Errorf("%s chart: has %q", name, banned)
			}
		}
		if all := strings.Join(texts, " "); !strings.Contains(all, "Source: ExampleLab spam traps "+methodology[name]) {
			t.Errorf("%s chart: no source and methodology lines in\n%s", name, all)
		}
		for _, f := range families {
			if f != "Liberation Sans" {
				t.Errorf("%s chart: text in font %q", name, f)
			}
		}
		if !strings.Contains(b.String(), "@font-face{\n\t\t\tfont-family:\"Liberation Sans\"") || !strings.Contains(b.String(), "data:font/ttf;charset=utf-8;base64,AAEAAA") {
			t.Errorf("%s chart: Liberation Sans is not embedded", name)
		}
		if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
			t.Errorf("%s chart: not XML: %v", name, err)
		}
	}

	// The user's title replaces the chart's; a comparison without messages is noted, not drawn.
	var b bytes.Buffer
	if err := WriteBarChart(&b, emptyComparison(t), render.ChartOptions{Title: "Where spam came from"}, render.SVG); err != nil {
		t.Fatal(err)
	}
	texts, _ := svgTexts(t, b.Bytes())
	all := strings.Join(texts, " ")
	for _, w := range []string{"Where spam came from", "Apr–Sep 2005: 10,000 messages (Oct 2004–Mar 2005: no messages); shares are of these messages, not of all spam.",
		"Note: Our traps caught no spam between October 2004 and March 2005, the comparison period: no changes are shown."} {
		if !strings.Contains(all, w) {
			t.Errorf("empty comparison: no %q in\n%s", w, all)
		}
	}
	if strings.Contains(all, "Share of trapped spam") || strings.Contains(all, "Oct 2004–Mar 2005 ") {
		t.Errorf("empty comparison: default title or comparison legend in\n%s", all)
	}

	// A period without messages draws an empty frame that says so, with no value on it.
	b.Reset()
	empty := New(query.Compare(counts(testenv.Period(t, "2006-01"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	if err := WriteBarChart(&b, empty, render.ChartOptions{}, render.SVG); err != nil {
		t.Fatal(err)
	}
	texts, _ = svgTexts(t, b.Bytes())
	if !slices.Contains(texts, "(no messages)") || slices.Contains(texts, "0.0%") ||
		!slices.Contains(texts, "Jan 2006: no messages.") {
		t.Errorf("empty period: %q", texts)
	}
}

// A PNG is --width × --dpi pixels wide and --height × --dpi high; an SVG is as wide in points.
func TestChartSize(t *testing.T) {
	r := chartSample(t)
	for _, c := range []struct {
		o    render.ChartOptions
		w, h int
	}{
		{render.ChartOptions{}, 1063, 650}, // 18 × 11 cm at 150 dpi
		{render.ChartOptions{Width: 16 * vg.Centimeter, Height: 9 * vg.Centimeter, DPI: 300}, 1890, 1063},
		{render.ChartOptions{Width: 8 * vg.Inch, Height: 5 * vg.Inch, DPI: 96}, 768, 480},
	} {
		for name, write := range chartWriters {
			var b bytes.Buffer
			if err := write(&b, r, c.o, render.PNG); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Size(); got.X != c.w || got.Y != c.h {
				t.Errorf("%s chart %+v: %v pixels, want %dx%d", name, c.o, got, c.w, c.h)
			}
		}
	}
	var b bytes.Buffer
	if err := WriteTimeChart(&b, r, render.ChartOptions{Width: 16 * vg.Centimeter, Height: 9 * vg.Centimeter}, render.SVG); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<svg width="453.54pt" height="255.12pt"`) {
		t.Errorf("SVG size: %.200s", b.String())
	}
	// A bar chart of many rows grows wider than the default, unless told its width.
	many := New(query.Compare(sampleCounts(t), nil, 25), Namer{}, nil)
	b.Reset()
	if err := WriteBarChart(&b, many, render.ChartOptions{DPI: 72}, render.PNG); err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(&b); err != nil || img.Bounds().Dx() <= 510 {
		t.Errorf("25 bars at 72 dpi: %v, %v", img.Bounds(), err)
	}
}

// The labelled ticks sit exactly at month (or day) starts, where the buckets' points are, thinned
// out to as many as fit; the starts in between are minor ticks.
func TestTimeChartTicksOnPoints(t *testing.T) {
	r := chartSample(t)
	var b bytes.Buffer
	if err := WriteTimeChart(&b, r, render.ChartOptions{}, render.SVG); err != nil {
		t.Fatal(err)
	}
	// The x axis draws each tick as a vertical path in the axis colour; each series is a path
	// through its points, in its colour.
	var ticks []float64
	for _, m := range regexp.MustCompile(`<path d="M([0-9.]+),([0-9.]+)L([0-9.]+),([0-9.]+)" style="fill:none;stroke:#444444`).FindAllSubmatch(b.Bytes(), -1) {
		if string(m[1]) == string(m[3]) && atof(t, m[4])-atof(t, m[2]) <= 8 { // not the y axis itself
			ticks = append(ticks, atof(t, m[1]))
		}
	}
	lines := regexp.MustCompile(`<path d="M([0-9.,L]+)" style="fill:none;stroke:#[0-9A-F]{6};stroke-width:1.5"`).FindAllSubmatch(b.Bytes(), -1)
	if len(lines) != 3+3 { // three series, each in the legend too
		t.Fatalf("found %d lines", len(lines))
	}
	for _, l := range lines[3:] {
		var xs []float64
		for pt := range strings.SplitSeq(string(l[1]), "L") {
			x, _, _ := strings.Cut(pt, ",")
			xs = append(xs, atof(t, []byte(x)))
		}
		if !slices.Equal(xs, ticks) {
			t.Errorf("points at x = %v, month ticks at x = %v", xs, ticks)
		}
	}
}

func atof(t *testing.T, b []byte) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGeoIPText(t *testing.T) {
	for _, c := range []struct {
		builds []string
		want   string
	}{
		{[]string{build4, build6}, "GeoIP: DB-IP Country Lite 2026-06-01, ip-location-db ASN (CC BY 4.0)"},
		{[]string{"country ipvAll@2026-06-01"}, "GeoIP: DB-IP Country Lite 2026-06-01 (CC BY 4.0)"},
		{[]string{"country ipvAll@2026-06-01; asn-ipv4.csv#1", "country ipvAll@2026-04-01; asn-ipv4.csv#2", "country ipvAll@2026-05-01"},
			"GeoIP: DB-IP Country Lite (3 builds, 2026-04-01 to 2026-06-01), ip-location-db ASN (CC BY 4.0)"},
		{[]string{"GeoLite2-Country@2026-05-30; GeoLite2-ASN@2026-05-30"},
			"GeoIP: MaxMind GeoLite2 Country 2026-05-30, MaxMind GeoLite2 ASN 2026-05-30 (GeoLite2 EULA)"},
		{[]string{"GeoIP2-City@2026-05-30; asn-ipv4.csv#1"}, "GeoIP: MaxMind GeoIP2 City 2026-05-30, ip-location-db ASN (CC BY 4.0)"},
		{[]string{"Home-Made@2026-01-01; asn-ipv4.csv#1"}, "GeoIP: Home-Made@2026-01-01, ip-location-db ASN (CC BY 4.0)"},
		{nil, ""},
	} {
		if got := geoipText(c.builds); got != c.want {
			t.Errorf("geoipText(%q) = %q, want %q", c.builds, got, c.want)
		}
	}
}

// The methodology line says when the GeoIP builds cover only part of the messages, or none.
func TestMethodology(t *testing.T) {
	r := New(query.Compare(sampleCounts(t), nil, 6), Namer{}, nil)
	if got, want := r.methodology(), "Apr–Sep 2005: 10,000 messages; shares are of these messages, not of all spam."; got != want {
		t.Errorf("without provenance: %q, want %q", got, want)
	}
	r.provenance = &query.Provenance{Traps: 1, Events: 2_500, GeoIPBuilds: []string{build4}}
	if got, want := r.methodology(), "Apr–Sep 2005: 10,000 messages caught by 1 spam trap; shares are of these messages, not of all spam. "+
		"GeoIP: DB-IP Country Lite 2026-06-01, ip-location-db ASN (CC BY 4.0), for the 25.0% of messages whose events are still kept."; got != want {
		t.Errorf("events partly kept: %q, want %q", got, want)
	}
	r.provenance = &query.Provenance{Traps: 3}
	if got, want := r.methodology(), "Apr–Sep 2005: 10,000 messages caught by 3 spam traps; shares are of these messages, not of all spam. "+
		"GeoIP data: not recorded (the messages' events are no longer kept)."; got != want {
		t.Errorf("events gone: %q, want %q", got, want)
	}
}

// The HTML page is self-contained, its charts inline PNG images.
func TestHTML(t *testing.T) {
	var page bytes.Buffer
	if err := WriteHTML(&page, chartSample(t), pressOptions); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("SPAMGEO_ARTIFACTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "report.html"), page.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(page.String(), `<img src="data:image/png;base64,`); n != 2 {
		t.Errorf("HTML page has %d inline PNG charts, want 2", n)
	}
	for _, want := range []string{"China (incl Hong Kong)", "26.50%", "a year earlier"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", `src="http`, `href="http`, "<link", "@import"} {
		if strings.Contains(page.String(), banned) {
			t.Errorf("HTML page is not self-contained: has %q", banned)
		}
	}
}
