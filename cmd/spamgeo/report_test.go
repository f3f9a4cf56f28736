package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// Chart sizes are lengths with their unit; pixels count at --dpi; nonsense is refused with the
// forms that work.
func TestChartOptions(t *testing.T) {
	for _, c := range []struct {
		width, height string
		dpi           int
		w, h          vg.Length
	}{
		{"16cm", "9cm", 300, 16 * vg.Centimeter, 9 * vg.Centimeter},
		{"160mm", " 3.5 in", 150, 16 * vg.Centimeter, 3.5 * vg.Inch},
		{"1200px", "600px", 150, 8 * vg.Inch, 4 * vg.Inch},
		{"504pt", "", 96, 7 * vg.Inch, 0},
		{"", "", 150, 0, 0},
	} {
		cmd := ReportCmd{Width: c.width, Height: c.height, DPI: c.dpi, Title: "T", Source: "S"}
		o, err := cmd.chartOptions()
		if err != nil || math.Abs(float64(o.Width-c.w)) > 1e-9 || math.Abs(float64(o.Height-c.h)) > 1e-9 || o.DPI != c.dpi || o.Title != "T" || o.Source != "S" {
			t.Errorf("--width %q --height %q --dpi %d: %+v, %v; want %v x %v", c.width, c.height, c.dpi, o, err, c.w, c.h)
		}
	}
	for _, c := range []struct {
		cmd  ReportCmd
		want string
	}{
		{ReportCmd{Width: "18", DPI: 150}, `--width: "18": give a positive number and its unit`},
		{ReportCmd{Width: "-3cm", DPI: 150}, "give a positive number"},
		{ReportCmd{Height: "2cm", DPI: 150}, "--height: \"2cm\" is 2.0 cm: give between 3 cm and 1 m"},
		{ReportCmd{Width: "2m", DPI: 150}, "give a positive number"},
		{ReportCmd{Width: "90cm", DPI: 600}, "--width 90cm at 600 dpi is 21260 pixels: give at most 16000"},
		{ReportCmd{DPI: 0}, "--dpi 0: give between 10 and 1200"},
	} {
		if _, err := c.cmd.chartOptions(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cmd, err, c.want)
		}
	}
}

// Issue 18, finding 10: `spamgeo report` refuses a period or comparison ClickHouse's DateTime
// cannot hold before it asks ClickHouse, saying which days it can count.
func TestReportPeriodOutsideClickHouseDateTime(t *testing.T) {
	for _, cmd := range []ReportCmd{
		{PeriodFlags: PeriodFlags{Period: "9999"}},
		{PeriodFlags: PeriodFlags{Last: "99999y"}},
		{PeriodFlags: PeriodFlags{From: time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}},
		{PeriodFlags: PeriodFlags{Period: "2005"}, Compare: "9999"},
		{PeriodFlags: PeriodFlags{Period: "1970"}, Compare: "previous"},
		{PeriodFlags: PeriodFlags{Period: "2005"}, CompareFrom: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), CompareTo: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		cmd.Top, cmd.By, cmd.Format, cmd.DPI = 12, "country", "text", 150
		err := cmd.Run(context.Background(), &Globals{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "outside the days spamgeo can count, 1970-01-01 to 2104-12-31") && !strings.Contains(err.Error(), "reaches before 1970-01-01") {
			t.Errorf("%+v: %v; want the bounds named", cmd.PeriodFlags, err)
		}
	}
}

// A report that fails leaves its output file as it was (it used to be emptied before the
// report was read), and -o - is standard output.
func TestReportOutputOnRealServers(t *testing.T) {
	env := pipelineEnv{kafka: kafka.DefaultConfiguration(), clickhouse: testenv.ClickHouse(t)}
	t.Chdir(t.TempDir()) // where a file named - would go
	path := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(path, []byte("last month's report"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The database is not migrated yet: there is nothing to read.
	for _, command := range []string{"report", "campaigns"} {
		if err := runErr(env, command, "--period", "2005-04", "--format", "csv", "-o", path); err == nil {
			t.Fatalf("%s without a schema succeeded", command)
		}
		if b, _ := os.ReadFile(path); string(b) != "last month's report" {
			t.Errorf("after a failed %s the file holds %q", command, b)
		}
	}
	spamgeo(t, env, "migrate")
	insertEvents(t, env.clickhouse, []struct{ at, country string }{{"2005-04-02 10:00:00", "US"}})
	spamgeo(t, env, "report", "--period", "2005-04", "--format", "csv", "-o", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out := spamgeo(t, env, "report", "--period", "2005-04", "--format", "csv", "-o", "-"); out != string(b) || !strings.Contains(out, "US") {
		t.Errorf("-o - wrote %q, the file %q", out, b)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("files beside the report: %v", entries)
	}
}
