package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Palette is Okabe and Ito's colour-blind-safe palette, darker colour first.
var Palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{213, 94, 0, 255}, color.RGBA{86, 180, 233, 255}, color.RGBA{204, 121, 167, 255},
	color.RGBA{240, 228, 66, 255}, color.RGBA{0, 0, 0, 255},
}

// WriteBarChart draws each top group's share, next to its share in the comparison period when
// there is one, as PNG or SVG.
func WriteBarChart(w io.Writer, r Report, f Format) error {
	p := plot.New()
	p.Title.Text = r.Title + "\n" + r.Period
	p.Y.Label.Text = "share of messages (%)"
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
	width := vg.Points(14)
	bars, err := plotter.NewBarChart(now, width)
	if err != nil {
		return err
	}
	bars.Color, bars.LineStyle.Width = Palette[0], 0
	p.Add(bars)
	p.Legend.Add(r.Period, bars)
	if r.Compared() {
		prev, err := plotter.NewBarChart(before, width)
		if err != nil {
			return err
		}
		prev.Color, prev.LineStyle.Width = Palette[1], 0
		bars.Offset, prev.Offset = -width/2, width/2
		p.Add(prev)
		p.Legend.Add(r.Compare, prev)
	}
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, 1.3*max(maxOf(now), maxOf(before), 1) // room for the legend
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign = draw.XRight
	return Render(w, p, max(16*vg.Centimeter, vg.Points(float64(80+45*len(names)))), 11*vg.Centimeter, f)
}

func maxOf(v plotter.Values) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// WriteTimeChart draws the share over time of the report's top groups, as PNG or SVG.
func WriteTimeChart(w io.Writer, r Report, f Format) error {
	s := r.Series
	if s == nil || len(s.Times) == 0 {
		return fmt.Errorf("no share-over-time data for %s", r.Period)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Share of trapped spam over time (by %s)\n%s", s.Bucket, r.Period)
	p.Y.Label.Text = "share of messages (%)"
	p.X.Tick.Marker = plot.TimeTicks{Format: map[string]string{"month": "2006-01", "day": "01-02"}[s.Bucket]}
	names := map[string]string{}
	for _, l := range r.Rows {
		names[strings.TrimPrefix(l.Code, "AS")] = l.Name
	}
	top, drawn := 1.0, false
	for i, k := range s.Keys {
		c := Palette[i%len(Palette)]
		var legend *plotter.Line
		// One line per run of buckets with data: a gap in the data stays a gap in the chart.
		for _, run := range runs(s.Times, s.Shares[k]) {
			line, points, err := plotter.NewLinePoints(run)
			if err != nil {
				return err
			}
			line.Color, points.Color = c, c
			line.Width, points.Radius = vg.Points(1.5), vg.Points(2)
			if i >= len(Palette) {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(line, points)
			for _, pt := range run {
				top = max(top, pt.Y)
			}
			legend = line
		}
		label := names[k]
		if label == "" {
			label = k
		}
		if legend != nil {
			p.Legend.Add(label, legend)
			drawn = true
		}
	}
	if !drawn {
		p.Title.Text += "\n(no messages in this period)"
	}
	// The axis spans the whole period even where (or when) there is no data.
	p.X.Min, p.X.Max = float64(s.Times[0].Unix()), float64(s.Times[len(s.Times)-1].Unix())
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, top*(1.1+0.07*float64(len(s.Keys))) // room above the lines for the legend
	return Render(w, p, 18*vg.Centimeter, 11*vg.Centimeter, f)
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

// Render writes p, width by height, as PNG or SVG.
func Render(w io.Writer, p *plot.Plot, width, height vg.Length, f Format) error {
	wt, err := p.WriterTo(width, height, string(f))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}
