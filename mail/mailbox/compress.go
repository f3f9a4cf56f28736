package mailbox

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

// decompress returns a reader of r's decompressed content and the compression's name, recognised
// by its magic bytes whatever the file is called; the reader is nil when r is not compressed.
func decompress(r *bufio.Reader) (io.ReadCloser, string, error) {
	magic, _ := r.Peek(4) // a read error shows again when the content is read
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		decompressed, err := gzip.NewReader(r)
		if err != nil {
			return nil, "gzip", err
		}
		return decompressed, "gzip", nil
	case len(magic) == 4 && bytes.HasPrefix(magic, []byte("BZh")) && magic[3] >= '1' && magic[3] <= '9':
		return io.NopCloser(bzip2.NewReader(r)), "bzip2", nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		decoder, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20)) // a hostile frame cannot ask for more
		if err != nil {
			return nil, "zstd", err
		}
		return decoder.IOReadCloser(), "zstd", nil
	}
	return nil, "", nil
}

// failureReason names why reading a file stopped: the disk read failed ("unreadable"), its
// compressed stream ends early ("incomplete-gzip" and so on: cut short, or still being written)
// or it is corrupt ("corrupt-gzip" and so on).
func failureReason(format string, err error) string {
	var disk *diskError
	switch {
	case format == "" || errors.As(err, &disk):
		return "unreadable"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "incomplete-" + format
	}
	return "corrupt-" + format
}

// diskReader reads a file, reporting progress and marking read errors as the disk's.
type diskReader struct {
	r        io.Reader
	progress func(n int64)
	read     int64
}

type diskError struct{ err error }

func (e *diskError) Error() string { return e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

func (d *diskReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.read += int64(n)
	if n > 0 && d.progress != nil {
		d.progress(int64(n))
	}
	if err != nil && err != io.EOF {
		err = &diskError{err}
	}
	return n, err
}

// finish reports the part of a file of size bytes that was left unread as progress too, so that
// progress adds up to Size.
func (d *diskReader) finish(size int64) {
	if d.progress != nil && size > d.read {
		d.progress(size - d.read)
	}
}
