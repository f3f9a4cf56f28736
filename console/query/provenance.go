package query

import (
	"context"
	"fmt"
	"strings"

	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/storage/queries"
)

// Provenance is what a period's figures rest on: the traps that caught its messages and the
// GeoIP builds that placed them.
type Provenance struct {
	Traps uint64 // traps that caught at least one message
	// Events counts the period's messages still kept in the events table, which retention may
	// have emptied while the rollups (and the shares) remain: the builds are those of these.
	Events      uint64
	GeoIPBuilds []string // most messages first; sources not looked up (reserved addresses) have none
}

// Provenance reads the traps and GeoIP builds behind the figures of p.
func (r *Reader) Provenance(ctx context.Context, p period.Period) (Provenance, error) {
	from, to := p.From.UTC().Format(sqlTime), p.To.UTC().Format(sqlTime)
	var out Provenance
	traps := strings.NewReplacer("{table}", Coarsest(p).country).Replace(queries.Traps)
	if err := r.conn.QueryRow(ctx, traps, from, to).Scan(&out.Traps); err != nil {
		return Provenance{}, fmt.Errorf("traps of %s: %w", p, err)
	}
	rows, err := r.conn.Query(ctx, queries.GeoIPBuilds, from, to)
	if err != nil {
		return Provenance{}, fmt.Errorf("GeoIP builds of %s: %w", p, err)
	}
	defer rows.Close()
	for rows.Next() {
		var build string
		var n uint64
		if err := rows.Scan(&build, &n); err != nil {
			return Provenance{}, fmt.Errorf("GeoIP builds of %s: %w", p, err)
		}
		out.Events += n
		if build != "" {
			out.GeoIPBuilds = append(out.GeoIPBuilds, build)
		}
	}
	return out, rows.Err()
}
