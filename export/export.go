// Package export writes stored events of a period to Arrow IPC or Parquet files for notebooks
// and partners. It streams: rows are read from ClickHouse and written in record batches of a
// fixed size, so memory stays flat however many rows a period holds. The columns are described
// by schemas/export (EventsSchema).
package export

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/spamgeo/spamgeo/query"
	"github.com/spamgeo/spamgeo/schemas/exportschema"
)

// Format is a file format Write can produce.
type Format string

// The formats.
const (
	Parquet Format = "parquet" // zstd-compressed, one row group per batch
	Arrow   Format = "arrow"   // Arrow IPC file format (Feather v2)
)

// Filter narrows what is exported.
type Filter struct {
	Period  query.Period
	Country string // ISO code; empty for all
	TrapID  string // empty for all
}

// BatchRows is how many rows are held in memory at once.
const BatchRows = 65_536

// Count returns how many events Write would export, for a progress bar.
func Count(ctx context.Context, conn driver.Conn, f Filter) (uint64, error) {
	var n uint64
	where, args := f.where()
	if err := conn.QueryRow(ctx, "SELECT count() FROM events WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events to export: %w", err)
	}
	return n, nil
}

func (f Filter) where() (string, []any) {
	where := "received_at >= ? AND received_at < ?"
	args := []any{f.Period.From, f.Period.To}
	if f.Country != "" {
		where += " AND country_code = ?"
		args = append(args, f.Country)
	}
	if f.TrapID != "" {
		where += " AND trap_id = ?"
		args = append(args, f.TrapID)
	}
	return where, args
}

// Write streams the events matching f to w in format, ordered by time, calling progress with
// the rows written so far after each batch. It returns the number of rows written.
func Write(ctx context.Context, conn driver.Conn, f Filter, format Format, w io.Writer, progress func(int64)) (int64, error) {
	where, args := f.where()
	rows, err := conn.Query(ctx, `SELECT toString(event_id), received_at, trap_id, collector, IPv6NumToString(source_ip),
		helo, mail_from, rcpt_count, size, country_code, continent_code, asn, as_org, geoip_build
		FROM events WHERE `+where+` ORDER BY received_at, event_id`, args...)
	if err != nil {
		return 0, fmt.Errorf("read events to export: %w", err)
	}
	defer rows.Close()
	out, err := newWriter(format, w)
	if err != nil {
		return 0, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, exportschema.Events)
	defer b.Release()
	var written int64
	flush := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		if rec.NumRows() == 0 {
			return nil
		}
		if err := out.Write(rec); err != nil {
			return fmt.Errorf("write %s: %w", format, err)
		}
		written += rec.NumRows()
		if progress != nil {
			progress(written)
		}
		return nil
	}
	var r eventRow
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.at, &r.trap, &r.collector, &r.ip, &r.helo, &r.from, &r.rcpt, &r.size,
			&r.country, &r.continent, &r.asn, &r.org, &r.build); err != nil {
			return written, fmt.Errorf("read events to export: %w", err)
		}
		r.append(b)
		if b.Field(0).Len() >= BatchRows {
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return written, fmt.Errorf("read events to export: %w", err)
	}
	if err := flush(); err != nil {
		return written, err
	}
	return written, out.Close()
}

type eventRow struct {
	id, trap, collector, ip, helo, from, country, continent, org, build string
	at                                                                  time.Time
	rcpt                                                                uint16
	size, asn                                                           uint32
}

// append adds the row in exportschema.Events' column order.
func (r *eventRow) append(b *array.RecordBuilder) {
	b.Field(0).(*array.StringBuilder).Append(r.id)
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.at.UnixMilli()))
	b.Field(2).(*array.StringBuilder).Append(r.trap)
	b.Field(3).(*array.StringBuilder).Append(r.collector)
	b.Field(4).(*array.StringBuilder).Append(unmap(r.ip))
	b.Field(5).(*array.StringBuilder).Append(r.helo)
	b.Field(6).(*array.StringBuilder).Append(r.from)
	b.Field(7).(*array.Uint16Builder).Append(r.rcpt)
	b.Field(8).(*array.Uint32Builder).Append(r.size)
	b.Field(9).(*array.StringBuilder).Append(r.country)
	b.Field(10).(*array.StringBuilder).Append(r.continent)
	b.Field(11).(*array.Uint32Builder).Append(r.asn)
	b.Field(12).(*array.StringBuilder).Append(r.org)
	b.Field(13).(*array.StringBuilder).Append(r.build)
}

// unmap writes IPv4 sources as dotted quads rather than ::ffff:a.b.c.d.
func unmap(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap().String()
	}
	return ip
}

// recordWriter is what both formats offer.
type recordWriter interface {
	Write(arrow.Record) error
	Close() error
}

// newWriter wraps w so that closing the format's writer does not close w: the caller owns it.
func newWriter(format Format, w io.Writer) (recordWriter, error) {
	switch format {
	case Parquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(BatchRows))
		return pqarrow.NewFileWriter(exportschema.Events, struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	case Arrow:
		ws, ok := w.(io.WriteSeeker)
		if !ok {
			// The IPC file format ends with a footer pointing back at the batches; without a
			// seekable file, write the stream format, which pyarrow and others read as well.
			return ipc.NewWriter(struct{ io.Writer }{w}, ipc.WithSchema(exportschema.Events)), nil
		}
		return ipc.NewFileWriter(struct{ io.WriteSeeker }{ws}, ipc.WithSchema(exportschema.Events))
	}
	return nil, fmt.Errorf("format %q is neither %s nor %s", format, Parquet, Arrow)
}
