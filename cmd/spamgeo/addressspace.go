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
	"github.com/spamgeo/spamgeo/schemas/migrations"
)

// AddressSpaceCmd is `spamgeo address-space`.
type AddressSpaceCmd struct {
	GeoIPFlags
}

// Help says what is walked and where it goes.
func (c *AddressSpaceCmd) Help() string {
	return "Walks every network of the GeoIP files (give those the enricher reads) and stores, per build, the IPv4 " +
		"addresses and IPv6 /64 networks each places in every country and network, in the table address_space. " +
		"`spamgeo report --per address-space` and SQL read it there. Run it whenever the enricher gets new files; " +
		"a build stored again replaces its rows."
}

// Run walks the files, stores what they hold and prints each build's largest countries.
func (c *AddressSpaceCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	db, err := geoip.Open(c.configuration())
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	builds, err := db.AddressSpace()
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
	now := time.Now().UTC().Truncate(time.Second)
	for _, b := range builds {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO address_space (geoip_build, kind, key, ipv4_addresses, ipv6_nets64, computed_at)")
		if err != nil {
			return fmt.Errorf("store the address space of %s: %w", b.Build, err)
		}
		for _, k := range slices.Sorted(maps.Keys(b.Spaces)) {
			s := b.Spaces[k]
			if err := batch.Append(b.Build, b.Kind, k, s.IPv4, s.IPv6, now); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("store the address space of %s: %w", b.Build, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("store the address space of %s: %w", b.Build, err)
		}
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
