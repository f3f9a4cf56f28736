package campaign

import (
	"fmt"
	"io"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/spamgeo/spamgeo/console/render"
)

// writeChart draws the messages per day of the listed campaigns over the period, one line each
// (days without messages at zero), as PNG or SVG.
func writeChart(w io.Writer, l Listing, f render.Format) error {
	p := render.NewPlot()
	p.Title.Text = "Messages per day of the top spam campaigns\n" + render.ShortPeriod(l.period)
	p.Y.Label.Text = "Messages"
	p.Y.Tick.Marker = render.CountTicks{}
	p.X.Tick.Marker = render.CalendarTicks{Labels: 7}
	top := 1.0
	for i, s := range l.Campaigns {
		perDay := map[time.Time]uint64{}
		for _, d := range s.Days {
			perDay[d.Day.UTC()] = d.Messages
		}
		var pts plotter.XYs
		for day := l.period.From; day.Before(l.period.To); day = day.AddDate(0, 0, 1) {
			n := float64(perDay[day])
			pts = append(pts, plotter.XY{X: float64(day.Unix()), Y: n})
			top = max(top, n)
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color, line.Width = render.Palette[i%len(render.Palette)], vg.Points(1.5)
		if i >= len(render.Palette) {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line)
		label := s.ID
		if len(s.RelayCountries) > 0 {
			label += fmt.Sprintf(" (%d messages, most from %s)", s.Messages, s.RelayCountries[0].Country)
		}
		p.Legend.Add(label, line)
	}
	if len(l.Campaigns) == 0 {
		p.Title.Text += "\n(no campaigns in this period)"
	}
	p.Y.Min, p.Y.Max = 0, top
	return render.Render(w, p, nil, render.ChartOptions{}, f)
}
