package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Palette is Okabe and Ito's colour-blind-safe palette, darker colour first.
var Palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{213, 94, 0, 255}, color.RGBA{86, 180, 233, 255}, color.RGBA{204, 121, 167, 255},
	color.RGBA{240, 228, 66, 255}, color.RGBA{0, 0, 0, 255},
}

// The chart defaults: a size that fits a page column or a news article, and a PNG resolution
// that stays sharp on a high-density screen.
const (
	DefaultChartWidth  = 18 * vg.Centimeter
	DefaultChartHeight = 11 * vg.Centimeter
	DefaultDPI         = 150
)

// ChartOptions say how a chart is drawn; zero fields take the defaults.
type ChartOptions struct {
	// Width and Height are the whole image's, the lines under the chart included. The default
	// width grows for bar charts of many rows.
	Width, Height vg.Length
	DPI           int    // pixels per inch of a PNG: a PNG is Width×DPI pixels wide
	Title         string // replaces the chart's title and its period line
	Source        string // printed under the chart, above the methodology line
}

func (o ChartOptions) sized(width vg.Length) ChartOptions {
	if o.Width == 0 {
		o.Width = width
	}
	if o.Height == 0 {
		o.Height = DefaultChartHeight
	}
	if o.DPI == 0 {
		o.DPI = DefaultDPI
	}
	return o
}

// The house style: Liberation Sans, embedded in SVG so that both formats draw the same glyphs.
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	darkGrey = color.Gray{Y: 0x44}
)

const margin = vg.Length(8) // points around the chart

func style(size vg.Length, c color.Color) text.Style {
	return text.Style{Font: font.From(sans, size), Color: c, Handler: plot.DefaultTextHandler}
}

// NewPlot returns a plot in the house style, for every chart spamgeo draws.
func NewPlot() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 9)
		a.Color, a.Tick.Color, a.Tick.Label.Color = darkGrey, darkGrey, darkGrey
	}
	p.Legend.TextStyle.Font = font.From(sans, 9)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = vg.Points(14)
	p.Legend.Padding = vg.Points(3)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color, grid.Horizontal.Width = color.Gray{Y: 0xdd}, vg.Points(0.5)
	p.Add(grid)
	return p
}

// WriteBarChart draws each top group's share, with its value, next to its share in the
// comparison period when there is one, as PNG or SVG.
func WriteBarChart(w io.Writer, r Report, o ChartOptions, f Format) error {
	p := NewPlot()
	p.Title.Text = chartTitle(o, r.Title, r.periodLine())
	p.Y.Label.Text = "Share of messages"
	p.Y.Tick.Marker = percentTicks{}
	var names []string
	var now, before plotter.Values
	for _, l := range r.Rows {
		if l.Code == "" {
			continue
		}
		names = append(names, shortName(l))
		now = append(now, l.Share)
		if l.PreviousShare != nil {
			before = append(before, *l.PreviousShare)
		}
	}
	if len(names) == 0 {
		names, now, before = []string{"(no messages)"}, plotter.Values{0}, plotter.Values{0}
	}
	compared := r.Compared()
	o = o.sized(max(DefaultChartWidth, vg.Points(float64(100+30*len(names)))))

	// A category's slot on the x axis, roughly: the width less the margins and the y axis.
	slot := (o.Width - 2*margin - vg.Points(48)) / vg.Length(len(names))
	width := min(slot*0.6, vg.Points(36))
	if compared {
		width = min(slot*0.42, vg.Points(28))
	}
	label := style(8, color.Black)
	widest := vg.Length(0)
	all := append(append(plotter.Values{}, now...), before...)
	q := quoting(all...) // two decimals only where two bars would otherwise read alike
	for _, v := range all {
		widest = max(widest, label.Width(q.share(v)))
	}
	room := slot
	if compared {
		room = min(width, slot-width)
	}
	upright := widest+vg.Points(2) > room // too wide side by side: labels stand up
	type barSeries struct {
		values plotter.Values
		colour color.Color
		offset vg.Length
		legend string
	}
	series := []barSeries{{now, Palette[0], 0, ShortPeriodText(r.period)}}
	if compared {
		series[0].offset = -width / 2
		series = append(series, barSeries{before, Palette[1], width / 2, ShortPeriodText(*r.comparePeriod)})
	}
	for _, s := range series {
		bars, err := plotter.NewBarChart(s.values, width)
		if err != nil {
			return err
		}
		bars.Color, bars.LineStyle.Width, bars.Offset = s.colour, 0, s.offset
		p.Add(bars)
		if r.Messages > 0 { // no "0.0%" over the empty frame of a period without messages
			values, err := valueLabels(s.values, q, s.offset, upright)
			if err != nil {
				return err
			}
			p.Add(values)
		}
		if compared {
			p.Legend.Add(s.legend, bars)
		}
	}
	// Names stand under their bars on up to two lines where they fit, else slanted.
	p.X.Tick.Label.Color = color.Black
	wrapped := make([]string, len(names))
	for i, n := range names {
		lines := wrap(p.X.Tick.Label, []string{n}, slot-vg.Points(4))
		if len(lines) > 2 || slices.ContainsFunc(lines, func(l string) bool { return p.X.Tick.Label.Width(l) > slot-vg.Points(4) }) {
			wrapped = nil
			break
		}
		wrapped[i] = strings.Join(lines, "\n")
	}
	if wrapped != nil {
		p.NominalX(wrapped...)
	} else {
		p.NominalX(names...)
		p.X.Tick.Label.Rotation = 0.6
		p.X.Tick.Label.XAlign = draw.XRight
	}
	// Half a slot each side of the outer bars: NominalX's padding for its first name is not needed.
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Padding = vg.Points(5)
	p.Y.Min, p.Y.Max = 0, max(maxOf(now), maxOf(before), 1)
	return render(w, p, r.footer(o, true), nil, o, f)
}

// valueLabels writes each bar's share above it, as q quotes it (one decimal unless two bars
// would then read alike), upright when the labels are too wide to sit side by side.
func valueLabels(v plotter.Values, q quoter, offset vg.Length, upright bool) (*plotter.Labels, error) {
	xy := plotter.XYLabels{}
	for i, share := range v {
		xy.XYs = append(xy.XYs, plotter.XY{X: float64(i), Y: share})
		xy.Labels = append(xy.Labels, q.share(share))
	}
	labels, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	labels.Offset = vg.Point{X: offset, Y: vg.Points(2)}
	for i := range labels.TextStyle {
		s := style(8, color.Black)
		s.XAlign, s.YAlign = draw.XCenter, draw.YBottom
		if upright {
			s.Rotation, s.XAlign, s.YAlign = math.Pi/2, draw.XLeft, draw.YCenter
		}
		labels.TextStyle[i] = s
	}
	return labels, nil
}

func maxOf(v plotter.Values) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// WriteTimeChart draws the share over time of the report's top groups, as PNG or SVG.
func WriteTimeChart(w io.Writer, r Report, o ChartOptions, f Format) error {
	s := r.Series
	if s == nil || len(s.Times) == 0 {
		return fmt.Errorf("no share-over-time data for %s", r.Period)
	}
	o = o.sized(DefaultChartWidth)
	p := NewPlot()
	p.Title.Text = chartTitle(o, fmt.Sprintf("%s, %s by %s", r.Title, s.Bucket, s.Bucket), ShortPeriodText(r.period))
	p.Y.Label.Text = "Share of messages"
	p.Y.Tick.Marker = percentTicks{}
	names := map[string]string{}
	for _, l := range r.Rows {
		names[strings.TrimPrefix(l.Code, "AS")] = shortName(l)
	}
	legend := plot.NewLegend()
	legend.TextStyle = style(9, color.Black)
	legend.ThumbnailWidth, legend.Padding = vg.Points(18), vg.Points(3)
	top, drawn := 1.0, false
	for i, k := range s.Keys {
		c := Palette[i%len(Palette)]
		var thumbs []plot.Thumbnailer
		// One line per run of buckets with data: a gap in the data stays a gap in the chart.
		for _, run := range runs(s.Times, s.Shares[k]) {
			line, points, err := plotter.NewLinePoints(run)
			if err != nil {
				return err
			}
			line.Color, points.Color, points.Shape = c, c, draw.CircleGlyph{}
			line.Width, points.Radius = vg.Points(1.5), vg.Points(2.5)
			if i >= len(Palette) {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(line)
			// Markers show each bucket of a short series; a long one would drown in them, but a
			// single bucket between gaps still needs its dot.
			if len(s.Times) <= 24 || len(run) == 1 {
				p.Add(points)
			}
			for _, pt := range run {
				top = max(top, pt.Y)
			}
			thumbs = []plot.Thumbnailer{line}
			if len(s.Times) <= 24 {
				thumbs = append(thumbs, points)
			}
		}
		label := names[k]
		if label == "" {
			label = k
		}
		if thumbs != nil {
			legend.Add(label, thumbs...)
			drawn = true
		}
	}
	if !drawn && o.Title == "" {
		p.Title.Text += "\n(no messages in this period)"
	}
	// The axis spans the whole period even where (or when) there is no data.
	p.X.Min, p.X.Max = float64(s.Times[0].Unix()), float64(s.Times[len(s.Times)-1].Unix())
	if len(s.Times) == 1 {
		p.X.Min, p.X.Max = p.X.Min-12*3600, p.X.Max+12*3600
	}
	// As many labelled ticks as fit beside each other in the plotting width.
	plotWidth := o.Width - 2*margin - vg.Points(48) - legend.Rectangle(draw.Canvas{}).Size().X
	widest := p.X.Tick.Label.Width("30 Sep 2005")
	if s.Bucket == "month" {
		widest = p.X.Tick.Label.Width("Sep 2005")
	}
	p.X.Tick.Marker = CalendarTicks{Months: s.Bucket == "month", Labels: int(plotWidth / (widest + vg.Points(14)))}
	p.Y.Min, p.Y.Max = 0, top*1.05
	return render(w, p, r.footer(o, false), &legend, o, f)
}

// runs cuts a series into stretches without NaN.
func runs(times []time.Time, values []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for j, v := range values {
		if math.IsNaN(v) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: float64(times[j].Unix()), Y: v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// shortName keeps axis labels readable: long network names give way to their AS number.
func shortName(l Line) string {
	if strings.HasPrefix(l.Code, "AS") && len(l.Name) > 24 {
		return l.Code
	}
	return l.Name
}

// chartTitle is the user's title when given, else the chart's own over its period line.
func chartTitle(o ChartOptions, title, period string) string {
	if o.Title != "" {
		return o.Title
	}
	return title + "\n" + period
}

// periodLine names the report's period, and its comparison when there is a usable one.
func (r Report) periodLine() string {
	if r.Compared() {
		return ShortPeriodText(r.period) + ", compared with " + ShortPeriodText(*r.comparePeriod)
	}
	return ShortPeriodText(r.period)
}

// percentTicks labels a share axis "0%", "25%", "50%", up to 100% at most.
type percentTicks struct{}

func (percentTicks) Ticks(minY, maxY float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range tidyTicks(minY, maxY) {
		if t.Value > 100+1e-9 {
			continue
		}
		if t.Label != "" {
			t.Label += "%"
		}
		out = append(out, t)
	}
	return out
}

// CountTicks labels an axis of counts "0", "25", "50", never between two whole numbers.
type CountTicks struct{}

// Ticks implements plot.Ticker.
func (CountTicks) Ticks(minY, maxY float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range tidyTicks(minY, maxY) {
		if t.Value == math.Trunc(t.Value) {
			out = append(out, t)
		}
	}
	return out
}

// tidyTicks are gonum's default ticks without the trailing zeros of their labels ("25.00").
func tidyTicks(lo, hi float64) []plot.Tick {
	ticks := (plot.DefaultTicks{}).Ticks(lo, hi)
	for i, t := range ticks {
		if strings.Contains(t.Label, ".") {
			ticks[i].Label = strings.TrimRight(strings.TrimRight(t.Label, "0"), ".")
		}
	}
	return ticks
}

// CalendarTicks marks a time axis of Unix seconds at the starts of months or of days (UTC),
// where the points of monthly or daily buckets lie. At most Labels ticks are labelled: every
// month, second month, quarter, half-year or year; or every day, second, fifth or tenth day of
// the month, or the first of each month. The starts in between get minor ticks.
type CalendarTicks struct {
	Months bool // month starts; else day starts
	Labels int
}

var (
	monthSteps = []int{1, 2, 3, 6, 12, 24, 60, 120}
	daySteps   = []int{1, 2, 5, 10, 31} // 31: the first of the month only
)

// Ticks implements plot.Ticker.
func (c CalendarTicks) Ticks(minX, maxX float64) []plot.Tick {
	lo, hi := time.Unix(int64(math.Ceil(minX)), 0).UTC(), time.Unix(int64(math.Floor(maxX)), 0).UTC()
	start := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, time.UTC)
	if c.Months {
		start = time.Date(lo.Year(), lo.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if start.Before(lo) {
		start = c.next(start)
	}
	var starts []time.Time
	for t := start; !t.After(hi); t = c.next(t) {
		starts = append(starts, t)
	}
	steps := daySteps
	if c.Months {
		steps = monthSteps
	}
	step := steps[len(steps)-1]
	for _, s := range steps {
		n := 0
		for _, t := range starts {
			if c.major(t, s) {
				n++
			}
		}
		if n <= max(c.Labels, 1) {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	first := true
	for _, t := range starts {
		switch {
		case c.major(t, step):
			ticks = append(ticks, plot.Tick{Value: float64(t.Unix()), Label: c.label(t, step, first)})
			first = false
		case len(starts) <= 200:
			ticks = append(ticks, plot.Tick{Value: float64(t.Unix())})
		}
	}
	return ticks
}

func (c CalendarTicks) next(t time.Time) time.Time {
	if c.Months {
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// major says whether t gets a labelled tick at step months or days.
func (c CalendarTicks) major(t time.Time, step int) bool {
	if c.Months {
		if step > 12 {
			return t.Month() == time.January && t.Year()%(step/12) == 0
		}
		return (int(t.Month())-1)%step == 0
	}
	if step == 31 {
		return t.Day() == 1
	}
	// The last tick of a month stays at least half a step clear of the next month's first.
	left := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() - t.Day() + 1
	return (t.Day()-1)%step == 0 && 2*left >= step+1
}

// label writes "Apr 2005", "May"… or "2005" for months; "1 Apr 2005", "6 Apr"… for days: the
// year on the first label and where a year starts.
func (c CalendarTicks) label(t time.Time, step int, first bool) string {
	newYear := first || t.YearDay() == 1
	switch {
	case c.Months && step >= 12:
		return t.Format("2006")
	case c.Months && newYear:
		return t.Format("Jan 2006")
	case c.Months:
		return t.Format("Jan")
	case newYear:
		return t.Format("2 Jan 2006")
	}
	return t.Format("2 Jan")
}

// Render writes p as PNG or SVG at o's size, with the footer lines (source, methodology) under
// it, and raises p.Y.Max so that the legend, at the top of the plot, stays clear of the data.
func Render(w io.Writer, p *plot.Plot, footer []string, o ChartOptions, f Format) error {
	return render(w, p, footer, nil, o.sized(DefaultChartWidth), f)
}

// render is Render with, when side is not nil, a legend in a column right of the plot.
func render(w io.Writer, p *plot.Plot, footer []string, side *plot.Legend, o ChartOptions, f Format) error {
	var c vg.CanvasWriterTo
	switch f {
	case PNG:
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(o.Width, o.Height), vgimg.UseDPI(o.DPI))}
	case SVG:
		c = vgsvg.NewWith(vgsvg.UseWH(o.Width, o.Height), vgsvg.EmbedFonts(true))
	default:
		return fmt.Errorf("a chart is png or svg, not %q", f)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	area := draw.Crop(dc, margin, -margin, margin, -margin)

	small := style(8, darkGrey)
	small.XAlign, small.YAlign = draw.XLeft, draw.YBottom
	lines := wrap(small, footer, area.Size().X)
	step := small.Height("Ag") + vg.Points(2)
	for i, line := range lines {
		dc.FillText(small, vg.Point{X: area.Min.X, Y: area.Min.Y + vg.Length(len(lines)-1-i)*step}, line)
	}
	if len(lines) > 0 {
		area.Min.Y += vg.Length(len(lines))*step + vg.Points(6)
	}
	// The title spans the whole width, over the side legend too.
	if p.Title.Text != "" {
		t := p.Title.TextStyle
		t.XAlign, t.YAlign = draw.XCenter, draw.YTop
		title := p.Title.Text
		lines := strings.Join(wrap(t, strings.Split(title, "\n"), area.Size().X), "\n")
		dc.FillText(t, vg.Point{X: area.Center().X, Y: area.Max.Y}, lines)
		area.Max.Y -= t.Height(lines) + p.Title.Padding
		p.Title.Text = ""
		defer func() { p.Title.Text = title }()
	}
	if side != nil {
		if width := side.Rectangle(area).Size().X; width > 0 {
			column := area
			column.Min.X = area.Max.X - width
			column.Max.Y -= vg.Points(4)
			side.Top, side.Left = true, true
			side.Draw(column)
			area.Max.X = column.Min.X - vg.Points(10)
		}
	}
	clearOfLegend(p, area)
	p.Draw(area)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// clearOfLegend raises p.Y.Max until the data, and its value labels and markers, end below the
// legend drawn at the top of the plotting area.
func clearOfLegend(p *plot.Plot, area draw.Canvas) {
	height := p.Legend.Rectangle(area).Size().Y
	if height == 0 || !p.Legend.Top {
		return
	}
	top := p.Y.Max
	for range 5 {
		data := p.DataCanvas(area)
		limit := area.Max.Y - height - vg.Points(6)
		if limit-data.Min.Y < data.Size().Y/3 {
			limit = data.Min.Y + data.Size().Y/3
		}
		highest := data.Y(p.Y.Norm(top))
		for _, b := range p.GlyphBoxes(p) {
			highest = max(highest, data.Y(b.Y)+b.Max.Y)
		}
		if highest <= limit {
			return
		}
		p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)*float64((highest-data.Min.Y)/(limit-data.Min.Y))*1.01
	}
}

// wrap breaks lines at spaces to fit width in style s.
func wrap(s text.Style, lines []string, width vg.Length) []string {
	var out []string
	for _, line := range lines {
		cur := ""
		for _, word := range strings.Fields(line) {
			if cur != "" && s.Width(cur+" "+word) > width {
				out = append(out, cur)
				cur = word
				continue
			}
			if cur != "" {
				cur += " "
			}
			cur += word
		}
		if cur != "" {
			out = append(out, cur)
		}
	}
	return out
}
