package export

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/spamgeo/spamgeo/schemas/exportschema"
)

var errFull = errors.New("write /dev/full: no space left on device")

// fullAfter accepts n bytes, then fails every write as a full disk does.
type fullAfter struct{ n int }

func (w *fullAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errFull
	}
	w.n -= len(p)
	return len(p), nil
}

// writeDays writes one batch of country-day rows to w in format, as Write does.
func writeDays(format Format, w *sink) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, exportschema.CountryDays)
	defer b.Release()
	r := countryDayRow{day: time.Date(2005, 4, 1, 0, 0, 0, 0, time.UTC), country: "US", continent: "NA", messages: 3, bytes: 4, sources: 2}
	for range 1000 {
		r.append(b)
	}
	rec := b.NewRecord()
	defer rec.Release()
	var out recordWriter
	if err := w.do(func() (err error) { out, err = newWriter(format, exportschema.CountryDays, w); return err }); err != nil {
		return err
	}
	if err := w.do(func() error { return out.Write(rec) }); err != nil {
		return err
	}
	return w.do(out.Close)
}

// Issue 18, finding 3: the Parquet library panicked when its output failed ("failed to write
// magic number"). Whichever write fails, in either format, the output's error comes back.
func TestFailingOutput(t *testing.T) {
	for _, format := range []Format{Parquet, Arrow} {
		for _, room := range []int{0, 3, 100, 1000} {
			err := writeDays(format, &sink{w: &fullAfter{n: room}, format: format})
			if !errors.Is(err, errFull) {
				t.Errorf("%s with room for %d bytes: %v, want %v", format, room, err, errFull)
			}
		}
	}
}

// Arrow is the IPC file format on a file that can seek, the stream format otherwise.
func TestArrowFileOrStream(t *testing.T) {
	var stream bytes.Buffer
	if err := writeDays(Arrow, &sink{w: &stream, format: Arrow}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "days.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeDays(Arrow, &sink{w: f, format: Arrow}); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if magic := []byte("ARROW1"); bytes.HasPrefix(stream.Bytes(), magic) || !bytes.HasPrefix(file, magic) || !bytes.HasSuffix(file, magic) {
		t.Errorf("stream starts %q, file starts %q and ends %q", stream.Bytes()[:8], file[:8], file[len(file)-6:])
	}
}
