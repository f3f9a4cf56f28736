package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// MigrateCmd is `spamgeo migrate`.
type MigrateCmd struct {
	DryRun     bool   `help:"Print the SQL of the pending migrations instead of applying them." env:"SPAMGEO_MIGRATE_DRY_RUN"`
	Population string `help:"The country dataset loaded into country_population (for the views monthly_country_per_capita and country_population_current): a CSV of your own, in the form report --population reads, instead of the built-in one (CIA World Factbook 2025). Every run loads it again if it changed, so pass it each time." type:"existingfile" placeholder:"FILE" env:"SPAMGEO_MIGRATE_POPULATION"`
}

// Run applies (or prints) the pending migrations.
func (c *MigrateCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	m := migrations.New(g.clickhouse(), g.logger)
	if c.DryRun {
		pending, err := m.Pending(ctx)
		if err != nil {
			return err
		}
		statements, err := m.Statements(pending)
		if err != nil {
			return err
		}
		for _, mig := range pending {
			fmt.Fprintf(stdout, "-- migration %04d_%s\n", mig.Version, mig.Name)
			for _, s := range statements[mig.Version] {
				if s.PerShard {
					fmt.Fprintln(stdout, "-- on one server of each shard:")
				}
				if s.Check != "" {
					fmt.Fprintf(stdout, "-- %s %s\n", "apply-if:", s.Check)
				}
				fmt.Fprintf(stdout, "%s;\n\n", s.SQL)
			}
		}
		if len(pending) == 0 {
			fmt.Fprintf(stdout, "-- database %s is up to date\n", g.ClickhouseDatabase)
		}
		return nil
	}
	applied, err := m.Apply(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s: %d migration(s) applied, schema up to date\n", g.ClickhouseDatabase, len(applied))
	data, source := countries.BuiltinPopulation(), countries.PopulationSource
	if c.Population != "" {
		if data, source, err = readPopulation(c.Population); err != nil {
			return err
		}
	}
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	loaded, err := migrations.LoadPopulation(ctx, conn, data, source, time.Now())
	if err != nil {
		return err
	}
	if loaded {
		fmt.Fprintf(stdout, "country dataset loaded: %d countries (%s)\n", len(data), source)
	}
	return nil
}
