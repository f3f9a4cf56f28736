// Package render draws what the read side shows, in one house style: the output formats, the
// chart defaults, the palette, axis ticks for shares, counts and calendars, the PNG and SVG
// renderer with its footer lines, and the short names of periods in titles and legends.
package render

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
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

// Format names an output of a report or a listing: a table format, a page, or a chart.
type Format string

// The formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
	CSV      Format = "csv"
	JSON     Format = "json"
	HTML     Format = "html"
	PNG      Format = "png"
	SVG      Format = "svg"
)

// Formats lists them for help texts and validation.
var Formats = []Format{Text, Markdown, CSV, JSON, HTML, PNG, SVG}

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

// Sized is o with the defaults filled in, width being the chart's default width.
func (o ChartOptions) Sized(width vg.Length) ChartOptions {
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
	sans = font.Font{Typeface: "Liberation", Variant: "Sans"}
	// DarkGrey is the colour of axes and small print.
	DarkGrey = color.Gray{Y: 0x44}
)

// Margin is the white space around a chart, in points.
const Margin = vg.Length(8)

// Style is the house text style at size points in colour c.
func Style(size vg.Length, c color.Color) text.Style {
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
		a.Color, a.Tick.Color, a.Tick.Label.Color = DarkGrey, DarkGrey, DarkGrey
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

// PercentTicks labels a share axis "0%", "25%", "50%", up to 100% at most.
type PercentTicks struct{}

// Ticks implements plot.Ticker.
func (PercentTicks) Ticks(minY, maxY float64) []plot.Tick {
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
	return RenderBeside(w, p, footer, nil, o.Sized(DefaultChartWidth), f)
}

// RenderBeside is Render with, when side is not nil, a legend in a column right of the plot.
func RenderBeside(w io.Writer, p *plot.Plot, footer []string, side *plot.Legend, o ChartOptions, f Format) error {
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
	area := draw.Crop(dc, Margin, -Margin, Margin, -Margin)

	small := Style(8, DarkGrey)
	small.XAlign, small.YAlign = draw.XLeft, draw.YBottom
	lines := Wrap(small, footer, area.Size().X)
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
		lines := strings.Join(Wrap(t, strings.Split(title, "\n"), area.Size().X), "\n")
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

// Wrap breaks lines at spaces to fit width in style s.
func Wrap(s text.Style, lines []string, width vg.Length) []string {
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
