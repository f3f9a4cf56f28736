// Package export writes stored events, or per-day country counts from the rollups, of a period
// to Arrow IPC or Parquet files for notebooks and partners. It streams: rows are read from ClickHouse and written in record batches of a
// fixed size, so memory stays flat however many rows a period holds. The columns are described
// by schemas/exportschema.
package export

import (
	"context"
	"errors"
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

	"github.com/spamgeo/spamgeo/internal/period"
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
	Period  period.Period
	Country string // ISO code; empty for all
	TrapID  string // empty for all
}

// Rows names what is exported, one row per:
type Rows string

// The kinds of rows.
const (
	Events      Rows = "events"       // stored event (exportschema.Events)
	CountryDays Rows = "country-days" // day and country, from the day rollup (exportschema.CountryDays)
)

// BatchRows is how many rows are held in memory at once.
const BatchRows = 65_536

// source is how one kind of rows is read and laid out.
type source struct {
	schema                   *arrow.Schema
	timeColumn, count, query string
	scan                     func() (dest []any, add func(*array.RecordBuilder))
}

var sources = map[Rows]source{
	Events: {
		schema: exportschema.Events, timeColumn: "received_at",
		count: "SELECT count() FROM events WHERE %s",
		query: `SELECT toString(event_id), received_at, trap_id, collector, IPv6NumToString(source_ip),
			helo, mail_from, rcpt_count, size, country_code, continent_code, asn, as_org, geoip_build
			FROM events WHERE %s ORDER BY received_at, event_id`,
		scan: func() ([]any, func(*array.RecordBuilder)) {
			var r eventRow
			return []any{&r.id, &r.at, &r.trap, &r.collector, &r.ip, &r.helo, &r.from, &r.rcpt, &r.size,
				&r.country, &r.continent, &r.asn, &r.org, &r.build}, r.append
		},
	},
	CountryDays: {
		schema: exportschema.CountryDays, timeColumn: "t",
		count: "SELECT count() FROM (SELECT 1 FROM rollup_country_day WHERE %s GROUP BY t, country_code, continent_code)",
		query: `SELECT t, country_code, continent_code, countMerge(messages), sumMerge(bytes), uniqMerge(sources)
			FROM rollup_country_day WHERE %s
			GROUP BY t, country_code, continent_code ORDER BY t, country_code, continent_code`,
		scan: func() ([]any, func(*array.RecordBuilder)) {
			var r countryDayRow
			return []any{&r.day, &r.country, &r.continent, &r.messages, &r.bytes, &r.sources}, r.append
		},
	},
}

func (f Filter) where(timeColumn string) (string, []any) {
	where := timeColumn + " >= ? AND " + timeColumn + " < ?"
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

func sourceOf(what Rows) (source, error) {
	src, ok := sources[what]
	if !ok {
		return source{}, fmt.Errorf("rows %q are neither %s nor %s", what, Events, CountryDays)
	}
	return src, nil
}

// Count returns how many rows Write would export, for a progress bar.
func Count(ctx context.Context, conn driver.Conn, what Rows, f Filter) (uint64, error) {
	src, err := sourceOf(what)
	if err != nil {
		return 0, err
	}
	where, args := f.where(src.timeColumn)
	var n uint64
	if err := conn.QueryRow(ctx, fmt.Sprintf(src.count, where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s to export: %w", what, err)
	}
	return n, nil
}

// Write streams the rows matching f to w in format, ordered by time, calling progress with the
// rows written so far after each batch. It returns the number of rows written. When a write to w
// fails, the error is w's.
func Write(ctx context.Context, conn driver.Conn, what Rows, f Filter, format Format, w io.Writer, progress func(int64)) (int64, error) {
	src, err := sourceOf(what)
	if err != nil {
		return 0, err
	}
	where, args := f.where(src.timeColumn)
	rows, err := conn.Query(ctx, fmt.Sprintf(src.query, where), args...)
	if err != nil {
		return 0, fmt.Errorf("read %s to export: %w", what, err)
	}
	defer rows.Close()
	s := &sink{w: w, format: format}
	var out recordWriter
	if err := s.do(func() (err error) { out, err = newWriter(format, src.schema, s); return err }); err != nil {
		return 0, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, src.schema)
	defer b.Release()
	var written int64
	flush := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		if rec.NumRows() == 0 {
			return nil
		}
		if err := s.do(func() error { return out.Write(rec) }); err != nil {
			return err
		}
		written += rec.NumRows()
		if progress != nil {
			progress(written)
		}
		return nil
	}
	dest, add := src.scan()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return written, fmt.Errorf("read %s to export: %w", what, err)
		}
		add(b)
		if b.Field(0).Len() >= BatchRows {
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return written, fmt.Errorf("read %s to export: %w", what, err)
	}
	if err := flush(); err != nil {
		return written, err
	}
	return written, s.do(out.Close)
}

// sink is the output as the format writers see it. It keeps the first write error: the Parquet
// library panics when its output fails ("failed to write magic number") or, in places, drops
// the error, and the output's own error says what went wrong and where.
type sink struct {
	w      io.Writer
	format Format
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	s.err = err
	return n, err
}

// Seek is w's, when it has one; probing it tells a file from a stream.
func (s *sink) Seek(offset int64, whence int) (int64, error) {
	seeker, ok := s.w.(io.Seeker)
	if !ok {
		return 0, errors.New("the output cannot seek")
	}
	return seeker.Seek(offset, whence)
}

// do runs a call of the format's writer, turning its panic into an error; the output's own
// error, if a write failed, comes first.
func (s *sink) do(call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
		switch {
		case s.err != nil:
			err = s.err
		case err != nil:
			err = fmt.Errorf("write %s: %w", s.format, err)
		}
	}()
	return call()
}

type countryDayRow struct {
	day                      time.Time
	country, continent       string
	messages, bytes, sources uint64
}

func (r *countryDayRow) append(b *array.RecordBuilder) {
	b.Field(0).(*array.Date32Builder).Append(arrow.Date32FromTime(r.day))
	b.Field(1).(*array.StringBuilder).Append(r.country)
	b.Field(2).(*array.StringBuilder).Append(r.continent)
	b.Field(3).(*array.Uint64Builder).Append(r.messages)
	b.Field(4).(*array.Uint64Builder).Append(r.bytes)
	b.Field(5).(*array.Uint64Builder).Append(r.sources)
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
func newWriter(format Format, schema *arrow.Schema, w *sink) (recordWriter, error) {
	switch format {
	case Parquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(BatchRows))
		return pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	case Arrow:
		if _, err := w.Seek(0, io.SeekCurrent); err != nil {
			// The IPC file format ends with a footer pointing back at the batches; without a
			// seekable file, write the stream format, which pyarrow and others read as well.
			return ipc.NewWriter(struct{ io.Writer }{w}, ipc.WithSchema(schema)), nil
		}
		return ipc.NewFileWriter(struct{ io.WriteSeeker }{w}, ipc.WithSchema(schema))
	}
	return nil, fmt.Errorf("format %q is neither %s nor %s", format, Parquet, Arrow)
}
