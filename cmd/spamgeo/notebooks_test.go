package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// lastPrinted returns what the last code cell of an executed notebook printed.
func lastPrinted(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Cells []struct {
			CellType string `json:"cell_type"`
			Outputs  []struct {
				Name string `json:"name"`
				Text any    `json:"text"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatal(err)
	}
	last := nb.Cells[len(nb.Cells)-1]
	var out strings.Builder
	for _, o := range last.Outputs {
		switch text := o.Text.(type) {
		case string:
			out.WriteString(text)
		case []any:
			for _, s := range text {
				out.WriteString(s.(string))
			}
		}
	}
	return out.String()
}

// The notebooks in notebooks/ executed headless against exports of the real pipeline: the
// share-over-time notebook draws its chart and finds the calibrated overall shares; the
// 2004-vs-2005 notebook reproduces the press-release figures (United States 41.5% -> 26.5%).
func TestNotebooksOnRealServers(t *testing.T) {
	python := os.Getenv("SPAMGEO_PYTHON")
	if python == "" {
		t.Skip("SPAMGEO_PYTHON (the venv with notebooks/requirements.txt) is not set; make test sets it")
	}
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
	exports := map[string]string{
		"SPAMGEO_EXPORT":      filepath.Join(dir, "all.parquet"),
		"SPAMGEO_EXPORT_2004": filepath.Join(dir, "2004.parquet"),
		"SPAMGEO_EXPORT_2005": filepath.Join(dir, "2005.parquet"),
	}
	spamgeo(t, env, "export", "--period", "2004-01-01..2005-12-31", "-o", exports["SPAMGEO_EXPORT"])
	spamgeo(t, env, "export", "--period", "2004-04-01..2004-09-30", "-o", exports["SPAMGEO_EXPORT_2004"])
	spamgeo(t, env, "export", "--period", "2005-04-01..2005-09-30", "-o", exports["SPAMGEO_EXPORT_2005"])

	out := filepath.Join(dir, "executed")
	chart := filepath.Join(dir, "share_over_time.png")
	cmd := exec.Command(python, "../../notebooks/run.py", out,
		"../../notebooks/share_over_time.ipynb", "../../notebooks/compare_2004_2005.ipynb")
	cmd.Env = append(os.Environ(), "SPAMGEO_CHART="+chart)
	for k, v := range exports {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("executing the notebooks: %v\n%s", err, b)
	}

	var overall struct {
		Months       int                `json:"months"`
		Top          []string           `json:"top"`
		OverallShare map[string]float64 `json:"overall_share"`
	}
	if err := json.Unmarshal([]byte(lastPrinted(t, filepath.Join(out, "share_over_time.ipynb"))), &overall); err != nil {
		t.Fatal(err)
	}
	if overall.Months != 12 || overall.Top[0] != "US" || math.Abs(overall.OverallShare["US"]-34.0) > 1e-9 {
		t.Errorf("share-over-time notebook: %+v; want 12 months, US first at 34%% ((41.5+26.5)/2)", overall)
	}
	if fi, err := os.Stat(chart); err != nil || fi.Size() < 10_000 {
		t.Errorf("the notebook's chart: %v", err)
	}

	var compare map[string][2]float64
	if err := json.Unmarshal([]byte(lastPrinted(t, filepath.Join(out, "compare_2004_2005.ipynb"))), &compare); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string][2]float64{"US": {41.5, 26.5}, "CN": {11.62, 22.3}, "KR": {15.42, 9.7}} {
		if got := compare[code]; math.Abs(got[0]-want[0]) > 1e-9 || math.Abs(got[1]-want[1]) > 1e-9 {
			t.Errorf("comparison notebook, %s: %v, want %v", code, got, want)
		}
	}
}
