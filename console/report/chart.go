package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/spamgeo/spamgeo/console/render"
)

// WriteBarChart draws each top group's share, with its value, next to its share in the
// comparison period when there is one, as PNG or SVG.
func WriteBarChart(w io.Writer, r Report, o render.ChartOptions, f render.Format) error {
	p := render.NewPlot()
	p.Title.Text = chartTitle(o, r.Title, r.periodLine())
	p.Y.Label.Text = "Share of messages"
	p.Y.Tick.Marker = render.PercentTicks{}
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
	o = o.Sized(max(render.DefaultChartWidth, vg.Points(float64(100+30*len(names)))))

	// A category's slot on the x axis, roughly: the width less the margins and the y axis.
	slot := (o.Width - 2*render.Margin - vg.Points(48)) / vg.Length(len(names))
	width := min(slot*0.6, vg.Points(36))
	if compared {
		width = min(slot*0.42, vg.Points(28))
	}
	label := render.Style(8, color.Black)
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
	series := []barSeries{{now, render.Palette[0], 0, render.ShortPeriod(r.period)}}
	if compared {
		series[0].offset = -width / 2
		series = append(series, barSeries{before, render.Palette[1], width / 2, render.ShortPeriod(*r.comparePeriod)})
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
		lines := render.Wrap(p.X.Tick.Label, []string{n}, slot-vg.Points(4))
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
	return render.RenderBeside(w, p, r.footer(o, true), nil, o, f)
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
		s := render.Style(8, color.Black)
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
func WriteTimeChart(w io.Writer, r Report, o render.ChartOptions, f render.Format) error {
	s := r.Series
	if s == nil || len(s.Times) == 0 {
		return fmt.Errorf("no share-over-time data for %s", r.Period)
	}
	o = o.Sized(render.DefaultChartWidth)
	p := render.NewPlot()
	p.Title.Text = chartTitle(o, fmt.Sprintf("%s, %s by %s", r.Title, s.Bucket, s.Bucket), render.ShortPeriod(r.period))
	p.Y.Label.Text = "Share of messages"
	p.Y.Tick.Marker = render.PercentTicks{}
	names := map[string]string{}
	for _, l := range r.Rows {
		names[strings.TrimPrefix(l.Code, "AS")] = shortName(l)
	}
	legend := plot.NewLegend()
	legend.TextStyle = render.Style(9, color.Black)
	legend.ThumbnailWidth, legend.Padding = vg.Points(18), vg.Points(3)
	top, drawn := 1.0, false
	for i, k := range s.Keys {
		c := render.Palette[i%len(render.Palette)]
		var thumbs []plot.Thumbnailer
		// One line per run of buckets with data: a gap in the data stays a gap in the chart.
		for _, run := range runs(s.Times, s.Shares[k]) {
			line, points, err := plotter.NewLinePoints(run)
			if err != nil {
				return err
			}
			line.Color, points.Color, points.Shape = c, c, draw.CircleGlyph{}
			line.Width, points.Radius = vg.Points(1.5), vg.Points(2.5)
			if i >= len(render.Palette) {
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
	plotWidth := o.Width - 2*render.Margin - vg.Points(48) - legend.Rectangle(draw.Canvas{}).Size().X
	widest := p.X.Tick.Label.Width("30 Sep 2005")
	if s.Bucket == "month" {
		widest = p.X.Tick.Label.Width("Sep 2005")
	}
	p.X.Tick.Marker = render.CalendarTicks{Months: s.Bucket == "month", Labels: int(plotWidth / (widest + vg.Points(14)))}
	p.Y.Min, p.Y.Max = 0, top*1.05
	return render.RenderBeside(w, p, r.footer(o, false), &legend, o, f)
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
func chartTitle(o render.ChartOptions, title, period string) string {
	if o.Title != "" {
		return o.Title
	}
	return title + "\n" + period
}

// periodLine names the report's period, and its comparison when there is a usable one.
func (r Report) periodLine() string {
	if r.Compared() {
		return render.ShortPeriod(r.period) + ", compared with " + render.ShortPeriod(*r.comparePeriod)
	}
	return render.ShortPeriod(r.period)
}
