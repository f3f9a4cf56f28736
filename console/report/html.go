package report

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"io"

	"github.com/spamgeo/spamgeo/console/render"
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": percent, "pp": points, "n": thousands, "move": rankMove,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.R.Title}}, {{.R.Period}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: bold; border-top: 2px solid #888; }
.caveat { color: #666; font-size: 0.9em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{.R.Title}}</h1>
<p>{{.R.Period}} ({{n .R.Messages}} messages{{if .R.CompareTotal}}), compared with {{.R.Compare}} ({{n .R.CompareTotal}} messages{{end}}).</p>
<table>
<thead><tr><th class="num">#</th><th>Name</th><th>Code</th><th class="num">Share</th><th class="num">95% interval</th><th class="num">Sources</th>{{if .R.Compared}}<th class="num">Before</th><th class="num">Change</th><th>Rank</th>{{end}}<th class="num">Messages</th></tr></thead>
<tbody>
{{range .R.Rows}}<tr><td class="num">{{if .Rank}}{{.Rank}}{{end}}</td><td>{{.Name}}</td><td>{{.Code}}</td><td class="num">{{pct .Share}}</td><td class="num">{{printf "%.2f–%.2f" .Low .High}}</td><td class="num">{{pct .SourceShare}}</td>{{if $.R.Compared}}<td class="num">{{pct .PreviousShare}}</td><td class="num">{{pp .ChangePP}}</td><td>{{move .}}</td>{{end}}<td class="num">{{n .Messages}}</td></tr>
{{end}}</tbody>
<tfoot><tr><td></td><td>All messages</td><td></td><td class="num">{{if .R.Messages}}100.00%{{else}}–{{end}}</td><td></td><td class="num">{{if .R.Messages}}100.00%{{else}}–{{end}}</td>{{if .R.Compared}}<td></td><td></td><td></td>{{end}}<td class="num">{{n .R.Messages}}</td></tr></tfoot>
</table>
{{range .R.Sentences}}<p>{{.}}</p>
{{end}}{{range .R.Notes}}<p class="note">Note: {{.}}</p>
{{end}}<figure><img src="{{.Bars}}" alt="Bar chart: share of trapped spam by relaying country"></figure>
{{if .Time}}<figure><img src="{{.Time}}" alt="Line chart: share of trapped spam over time"></figure>{{end}}
<p class="caveat">{{.R.Caveat}}</p>
</body>
</html>
`))

// WriteHTML writes a self-contained page: the table, the sentences and the charts as inline
// PNG images drawn with o, with no external script, style, font or image. PNG rather than SVG:
// the page stays small, and SVG text would need the embedded font to keep its metrics.
func WriteHTML(w io.Writer, r Report, o render.ChartOptions) error {
	bars, err := dataURI(func(b *bytes.Buffer) error { return WriteBarChart(b, r, o, render.PNG) })
	if err != nil {
		return err
	}
	data := struct {
		R          Report
		Bars, Time template.URL
	}{R: r, Bars: bars}
	if r.Series != nil && len(r.Series.Times) > 0 {
		if data.Time, err = dataURI(func(b *bytes.Buffer) error { return WriteTimeChart(b, r, o, render.PNG) }); err != nil {
			return err
		}
	}
	return page.Execute(w, data)
}

// dataURI renders a PNG chart into a data: URI.
func dataURI(draw func(*bytes.Buffer) error) (template.URL, error) {
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}
