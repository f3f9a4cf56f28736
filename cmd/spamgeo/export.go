package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/spamgeo/spamgeo/console/export"
	"github.com/spamgeo/spamgeo/internal/outfile"
)

// ExportCmd is `spamgeo export`.
type ExportCmd struct {
	PeriodFlags `embed:"" envprefix:"SPAMGEO_EXPORT_"`
	Rows        string `help:"One row per: events (each stored message) or country-days (day and country, from the rollups: messages, bytes, distinct sources)." enum:"events,country-days" default:"events" env:"SPAMGEO_EXPORT_ROWS"`
	Country     string `help:"Only events from this country (ISO code, e.g. US; ZZ unknown, XR reserved)." env:"SPAMGEO_EXPORT_COUNTRY"`
	TrapID      string `help:"Only events of this trap." env:"SPAMGEO_EXPORT_TRAP_ID"`
	Format      string `help:"File format: parquet (zstd) or arrow (Arrow IPC file; the stream format when writing to standard output, a pipe, FIFO or device). Default: from the file name, else parquet." enum:",parquet,arrow" default:"" env:"SPAMGEO_EXPORT_FORMAT"`
	Output      string `help:"File to write, or - for standard output. A file is written under a temporary name beside it and renamed into place when complete; pipes, FIFOs and devices are written to directly." short:"o" required:"" placeholder:"FILE" env:"SPAMGEO_EXPORT_OUTPUT"`
}

// Help describes the files.
func (c *ExportCmd) Help() string {
	return "Writes the stored events of a period, one row per trapped message, ordered by time, with the " +
		"columns of schemas/exportschema (event id, time, trap, collector, source address, HELO, envelope " +
		"sender, recipients, size, country, continent, ASN and organisation, GeoIP build); or, with --rows " +
		"country-days, one row per day and country from the rollups. Rows stream in batches of 65,536, so " +
		"memory stays flat for any period. A failed export leaves no partial file and whatever was at the " +
		"path before; what it wrote to a pipe, FIFO or device stays written. With -o - the file goes to " +
		"standard output and the summary line to standard error."
}

// Run writes the export.
func (c *ExportCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	p, err := c.period(time.Now())
	if err != nil {
		return err
	}
	format := export.Format(c.Format)
	if format == "" {
		format = export.Parquet
		if ext := strings.ToLower(filepath.Ext(c.Output)); ext == ".arrow" || ext == ".feather" || ext == ".ipc" {
			format = export.Arrow
		}
	}
	if c.Output == outfile.Stdout && isTerminal(stdout) {
		return fmt.Errorf("%s is binary: redirect standard output, or give a file with -o", format)
	}
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	f := export.Filter{Period: p, Country: strings.ToUpper(c.Country), TrapID: c.TrapID}
	what := export.Rows(c.Rows)
	total, err := export.Count(ctx, conn, what, f)
	if err != nil {
		return err
	}
	bar := progressbar.DefaultSilent(int64(total))
	if w := progress(); w != nil {
		bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("export"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	out, err := outfile.Create(ctx, c.Output, stdout)
	if err != nil {
		return err
	}
	defer out.Abort()
	n, err := export.Write(ctx, conn, what, f, format, out, func(done int64) { bar.Set64(done) })
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	bar.Finish()
	if c.Output == outfile.Stdout {
		g.logger.Info("exported to standard output", "rows", n, "kind", string(what), "period", p.String(), "format", string(format))
		return nil
	}
	fmt.Fprintf(stdout, "exported %d %s of %s to %s (%s)\n", n, what, p, c.Output, format)
	return nil
}
