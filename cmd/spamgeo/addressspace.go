package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/storage/addressspace"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// AddressSpaceCmd is `spamgeo address-space`.
type AddressSpaceCmd struct {
	GeoIPFlags
}

// Help says what is walked and where it goes.
func (c *AddressSpaceCmd) Help() string {
	return "Walks every network of the GeoIP files and stores, per build, the IPv4 " +
		"addresses and IPv6 /64 networks each places in every country and network, in the table address_space. " +
		"`spamgeo report --per address-space` and SQL read it there. The enricher does the same for every build it " +
		"loads or reloads (unless --no-address-space); run this for files it never served, or to store a build again " +
		"(its rows are replaced)."
}

// Run walks the files, stores what they hold and prints each build's largest countries.
func (c *AddressSpaceCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	db, err := geoip.Open(c.configuration())
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	builds, err := db.AddressSpace(nil)
	if err != nil {
		return err
	}
	g.logger.Info("GeoIP networks walked", "builds", len(builds), "seconds", time.Since(start).Seconds())
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := migrations.RequireCurrent(ctx, conn); err != nil {
		return err
	}
	if err := addressspace.Store(ctx, conn, builds, time.Now()); err != nil {
		return err
	}
	for _, b := range builds {
		printSpace(stdout, b)
	}
	return nil
}

// printSpace says what one build holds, with its largest keys by IPv4 space.
func printSpace(w io.Writer, b geoip.BuildSpace) {
	var v4, v6 uint64
	for _, s := range b.Spaces {
		v4, v6 = v4+s.IPv4, v6+s.IPv6
	}
	keys := slices.SortedFunc(maps.Keys(b.Spaces), func(x, y string) int {
		return cmp.Or(cmp.Compare(b.Spaces[y].IPv4, b.Spaces[x].IPv4), cmp.Compare(x, y))
	})
	what := map[string]string{"country": "countries", "asn": "networks"}[b.Kind]
	fmt.Fprintf(w, "%s: %d %s, %d IPv4 addresses, %d IPv6 /64 networks stored\n", b.Build, len(b.Spaces), what, v4, v6)
	t := table.NewWriter()
	t.AppendHeader(table.Row{b.Kind, "IPv4 addresses", "IPv6 /64 networks"})
	for _, k := range keys[:min(5, len(keys))] {
		t.AppendRow(table.Row{k, b.Spaces[k].IPv4, b.Spaces[k].IPv6})
	}
	fmt.Fprintln(w, t.Render())
}
