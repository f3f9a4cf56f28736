package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

var notebooks = []string{"share_over_time.ipynb", "compare_2004_2005.ipynb", "networks_and_continents.ipynb"}

// cellOutput is one output of a code cell without what changes from run to run: execution counts
// and metadata are left out, images are compared by presence only.
type cellOutput struct {
	Type string            `json:"output_type"`
	Name string            `json:"name,omitempty"` // stdout or stderr, for streams
	Text string            `json:"text,omitempty"`
	Data map[string]string `json:"data,omitempty"` // by MIME type
}

// cellOutputs reads the outputs of each code cell of a notebook.
func cellOutputs(t *testing.T, path string) [][]cellOutput {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Cells []struct {
			CellType string `json:"cell_type"`
			Outputs  []struct {
				Type string         `json:"output_type"`
				Name string         `json:"name"`
				Text any            `json:"text"`
				Data map[string]any `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// Notebook files hold text as a string or as a list of lines.
	joined := func(text any) string {
		if lines, ok := text.([]any); ok {
			var s strings.Builder
			for _, l := range lines {
				s.WriteString(l.(string))
			}
			return s.String()
		}
		s, _ := text.(string)
		return s
	}
	var cells [][]cellOutput
	for _, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		outs := []cellOutput{}
		for _, o := range c.Outputs {
			out := cellOutput{Type: o.Type, Name: o.Name, Text: joined(o.Text)}
			for mime, v := range o.Data {
				if out.Data == nil {
					out.Data = map[string]string{}
				}
				out.Data[mime] = joined(v)
				if strings.HasPrefix(mime, "image/") && out.Data[mime] != "" {
					out.Data[mime] = "(an image)"
				}
			}
			outs = append(outs, out)
		}
		cells = append(cells, outs)
	}
	return cells
}

// summary decodes the JSON the last code cell of an executed notebook printed.
func summary(t *testing.T, cells [][]cellOutput, v any) {
	t.Helper()
	last := cells[len(cells)-1]
	if len(last) != 1 || json.Unmarshal([]byte(last[0].Text), v) != nil {
		t.Fatalf("the last cell printed %+v, not a JSON summary", last)
	}
}

// sameOutputs reports each code cell whose outputs differ between an executed notebook and the
// committed one.
func sameOutputs(t *testing.T, what string, got, want [][]cellOutput) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d code cells, the committed notebook has %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.MarshalIndent(got[i], "", "  ")
			w, _ := json.MarshalIndent(want[i], "", "  ")
			t.Errorf("%s, code cell %d: outputs differ from the committed ones (-update rewrites them)\ngot:  %s\nwant: %s",
				what, i+1, g, w)
		}
	}
}

// row is a row of a notebook's summary, named as in spamgeo report's JSON.
type row struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Messages     uint64   `json:"messages"`
	Share        float64  `json:"share_pct"`
	CompareShare *float64 `json:"compare_share_pct"`
}

// sameAsReport fails unless the rows are the report's first rows, code, name, messages and
// share alike (and the comparison's share when the rows have one).
func sameAsReport(t *testing.T, what string, rows []row, rep report.Report) {
	t.Helper()
	if len(rows) == 0 || len(rows) > len(rep.Rows) {
		t.Fatalf("%s: %d rows, the report has %d", what, len(rows), len(rep.Rows))
	}
	for i, r := range rows {
		l := rep.Rows[i]
		ok := r.Code == l.Code && r.Name == l.Name && math.Abs(r.Share-l.Share) < 1e-9
		if r.CompareShare != nil {
			ok = ok && l.PreviousShare != nil && math.Abs(*r.CompareShare-*l.PreviousShare) < 1e-9
		} else {
			ok = ok && r.Messages == l.Messages
		}
		if !ok {
			t.Errorf("%s, row %d: the notebook has %+v, spamgeo report %+v", what, i+1, r, l)
		}
	}
}

// The notebooks in notebooks/ executed headless against a database the real pipeline filled
// with fixed events (the calibrated April–September tables of 2004 and 2005), once reading
// ClickHouse and once an export file of the same events: both runs print exactly the outputs
// committed in the notebooks (-update rewrites them from the ClickHouse run), their shares and
// names are those of spamgeo report on the same data, and they find the calibrated figures.
func TestNotebooksOnRealServers(t *testing.T) {
	python := testenv.Python(t, "the venv with notebooks/requirements.txt")
	env := pipelineEnv{kafka: testenv.Kafka(t), clickhouse: testenv.ClickHouse(t)}
	country, asn := geoiptest.Files(t)
	geo := []string{"--geoip-country", country, "--geoip-asn", asn}
	spamgeo(t, env, "migrate")
	for _, p := range []string{"sophos-2004-apr-sep", "sophos-2005-apr-sep"} {
		spamgeo(t, env, append([]string{"synth", "--profile", p, "--events", "20000", "--seed", "5"}, geo...)...)
	}
	group := "n-" + testenv.Suffix()
	spamgeo(t, env, append([]string{"enrich", "--drain", "--metrics-listen", "", "--group", group}, geo...)...)
	spamgeo(t, env, "sink", "--drain", "--metrics-listen", "", "--group", group)
	dir := t.TempDir()
	export := filepath.Join(dir, "events.parquet")
	spamgeo(t, env, "export", "--period", "2004-01-01..2005-12-31", "-o", export)

	executed := map[string]string{}
	for _, source := range []string{"clickhouse", export} {
		out := filepath.Join(dir, fmt.Sprint("run-", len(executed)))
		args := []string{"../../notebooks/run.py", out}
		for _, nb := range notebooks {
			args = append(args, filepath.Join("../../notebooks", nb))
		}
		cmd := exec.Command(python, args...)
		cmd.Env = append(os.Environ(), "SPAMGEO_NOTEBOOK_SOURCE="+source,
			"SPAMGEO_CLICKHOUSE_DATABASE="+env.clickhouse.Database)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("executing the notebooks on %s: %v\n%s", source, err, b)
		}
		executed[source] = out
	}
	if *update {
		for _, nb := range notebooks {
			b, err := os.ReadFile(filepath.Join(executed["clickhouse"], nb))
			if err == nil {
				err = os.WriteFile(filepath.Join("../../notebooks", nb), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, nb := range notebooks {
		want := cellOutputs(t, filepath.Join("../../notebooks", nb))
		for source, out := range map[string]string{"ClickHouse": executed["clickhouse"], "the export": executed[export]} {
			sameOutputs(t, nb+" on "+source, cellOutputs(t, filepath.Join(out, nb)), want)
		}
	}

	reportOf := func(args ...string) report.Report {
		var rep report.Report
		out := spamgeo(t, env, append([]string{"report", "--format", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	outputs := func(nb string) [][]cellOutput { return cellOutputs(t, filepath.Join(executed["clickhouse"], nb)) }

	var overall []row
	summary(t, outputs("share_over_time.ipynb"), &overall)
	sameAsReport(t, "share over time", overall, reportOf("--period", "2004-01-01..2005-12-31", "--top", "6"))
	if overall[0].Name != "United States" || math.Abs(overall[0].Share-34) > 1e-9 {
		t.Errorf("share over time: %+v first; want the United States at 34%% ((41.5+26.5)/2)", overall[0])
	}

	var compared []row
	summary(t, outputs("compare_2004_2005.ipynb"), &compared)
	sameAsReport(t, "comparison", compared, reportOf("--period", "2005-04-01..2005-09-30", "--compare", "2004-04-01..2004-09-30"))
	for i, want := range []struct {
		name        string
		now, before float64
	}{{"United States", 26.5, 41.5}, {"China", 22.3, 11.62}, {"South Korea", 9.7, 15.42}} {
		if got := compared[i]; got.Name != want.name || math.Abs(got.Share-want.now) > 1e-9 || math.Abs(*got.CompareShare-want.before) > 1e-9 {
			t.Errorf("comparison, row %d: %+v, want %+v", i+1, got, want)
		}
	}

	var split struct{ ASN, Continent []row }
	summary(t, outputs("networks_and_continents.ipynb"), &split)
	sameAsReport(t, "networks", split.ASN, reportOf("--period", "2005-04-01..2005-09-30", "--by", "asn"))
	sameAsReport(t, "continents", split.Continent, reportOf("--period", "2005-04-01..2005-09-30", "--by", "continent"))
	if n := split.ASN[0]; n.Code != "AS64000" || n.Name != "Test Net US" || math.Abs(n.Share-26.5) > 1e-9 {
		t.Errorf("networks: %+v first; want AS64000, Test Net US, at 26.5%%", n)
	}
	var all float64
	for _, c := range split.Continent {
		all += c.Share
	}
	if c := split.Continent[0]; c.Name != "Asia" || math.Abs(all-100) > 1e-9 {
		t.Errorf("continents: %+v first, %v%% in all; want Asia first and 100%% (every continent, shares of all messages)", c, all)
	}
}
