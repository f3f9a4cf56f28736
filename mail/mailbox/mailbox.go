// Package mailbox reads archived trap mail — mbox files, Maildirs and single messages, plain or
// compressed with gzip, bzip2 or zstd — so that years of it can be replayed through the pipeline.
// It finds and splits messages and reports what it could not read; parsing them is the caller's job.
package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Item is one message found in an archive.
type Item struct {
	Path         string    // the file it came from
	Index        int       // position within the file (0 for single-message files)
	Offset       int64     // byte offset of the message in the (decompressed) file, for error reports
	Data         []byte    // the raw message; valid only until the callback returns
	PostmarkTime time.Time // mbox "From " line date, zero otherwise
}

// Skipped reports something that was not imported, with why.
type Skipped struct {
	Path  string
	Index int
	// Reason is short and machine-friendly: "too-large", "empty", "not-mail", "unreadable"
	// (the file or directory could not be read), "broken-symlink" (a symbolic link to nothing),
	// "corrupt-gzip", "corrupt-bzip2" or "corrupt-zstd" (the compressed stream is damaged), or
	// "incomplete-gzip", "incomplete-bzip2" or "incomplete-zstd": the compressed stream ends early,
	// inside the message skipped, as a file still being written does. The messages before were read.
	Reason string
	Err    error
}

// Options of a Walk.
type Options struct {
	// MaxMessageBytes is the size above which a message is skipped as "too-large". An mbox is
	// streamed past such a message, which is never held whole in memory.
	MaxMessageBytes int64
	// MboxQuoting says how ">From " lines in mbox files are read. "mboxrd" removes one '>' from
	// every line matching ^>+From ; "mboxo" leaves them as they are. The two formats cannot be
	// told apart from the file, and mboxrd is the more common writer.
	MboxQuoting string
	// Progress, when set, is called with the number of bytes read from disk (compressed bytes for
	// compressed files) as Walk reads them, on Walk's goroutine. When Walk leaves a file early it
	// reports the unread rest too, so over a complete Walk the calls add up to Size(paths).
	Progress func(n int64)
}

// DefaultOptions returns the options Walk uses for zero fields.
func DefaultOptions() Options {
	return Options{MaxMessageBytes: 64 << 20, MboxQuoting: "mboxrd"}
}

// Walk reads every message under paths in a deterministic order, calling yield for each message and
// skip for each thing it could not read; it stops early if yield returns an error (and returns it) or
// ctx ends. Corrupt files never stop the walk: they are reported through skip and the walk goes on.
//
// Paths are read in the order given; directories are walked recursively in name order. A directory
// with cur and new subdirectories is a Maildir: the files in cur and new are messages, tmp and the
// files beside cur and new (index files) are ignored, and its hidden Maildir++ folders are walked
// too. Elsewhere hidden files and directories and known index files (dovecot*, courier*, *.msf) are
// ignored without a report. A file whose content, once decompressed, starts with an mbox postmark
// line ("From sender date") is an mbox; any other file is one message, skipped as "not-mail" if it
// does not start with a header field. skip may be nil.
func Walk(ctx context.Context, paths []string, opts Options, yield func(Item) error, skip func(Skipped)) error {
	defaults := DefaultOptions()
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = defaults.MaxMessageBytes
	}
	if opts.MboxQuoting == "" {
		opts.MboxQuoting = defaults.MboxQuoting
	}
	if opts.MboxQuoting != "mboxrd" && opts.MboxQuoting != "mboxo" {
		return fmt.Errorf("mailbox: unknown mbox quoting %q (want mboxrd or mboxo)", opts.MboxQuoting)
	}
	if skip == nil {
		skip = func(Skipped) {}
	}
	w := &walker{
		ctx:   ctx,
		opts:  opts,
		yield: yield,
		skip:  skip,
		raw:   bufio.NewReaderSize(nil, 64<<10),
		text:  bufio.NewReaderSize(nil, 64<<10),
	}
	return eachFile(paths, func(path string, size int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return w.file(path, size)
	}, func(path string, err error) error {
		reason := "unreadable"
		if errors.Is(err, errBrokenSymlink) {
			reason = "broken-symlink"
		}
		skip(Skipped{Path: path, Reason: reason, Err: err})
		return nil
	})
}

// Size returns the total number of bytes Walk will read from disk for paths (compressed sizes),
// for a progress bar. What cannot be listed counts nothing: Walk reports it.
func Size(paths []string) int64 {
	var total int64
	eachFile(paths, func(_ string, size int64) error {
		total += size
		return nil
	}, func(string, error) error { return nil })
	return total
}

// walker holds what Walk reuses from file to file.
type walker struct {
	ctx     context.Context
	opts    Options
	yield   func(Item) error
	skip    func(Skipped)
	raw     *bufio.Reader // the file as stored
	text    *bufio.Reader // its decompressed content, when compressed
	message bytes.Buffer  // a single-message file
	mbox    mboxReader
}

// headSize is how much of a file is looked at to tell an mbox from a single message.
const headSize = 1024

func (w *walker) file(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		w.skip(Skipped{Path: path, Reason: "unreadable", Err: err})
		if w.opts.Progress != nil {
			w.opts.Progress(size)
		}
		return nil
	}
	defer f.Close()
	disk := &diskReader{r: f, progress: w.opts.Progress}
	defer disk.finish(size)

	w.raw.Reset(disk)
	text := w.raw
	decompressed, format, err := decompress(w.raw)
	if err != nil {
		w.skip(Skipped{Path: path, Reason: failureReason(format, err), Err: err})
		return nil
	}
	if decompressed != nil {
		defer decompressed.Close()
		w.text.Reset(decompressed)
		text = w.text
	}

	// A stream that ends early is read up to where it ends: the error shows again there.
	head, err := text.Peek(headSize)
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		w.skip(Skipped{Path: path, Reason: failureReason(format, err), Err: err})
		return nil
	}
	if _, ok := postmark(firstLine(head)); ok {
		return w.mboxFile(path, text, format)
	}
	return w.singleFile(path, text, format)
}

func (w *walker) mboxFile(path string, r *bufio.Reader, format string) error {
	w.mbox.reset(r, w.opts.MaxMessageBytes, w.opts.MboxQuoting == "mboxrd")
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		msg, err := w.mbox.next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			w.skip(Skipped{Path: path, Index: msg.index, Reason: failureReason(format, err), Err: err})
			return nil
		case msg.tooLarge:
			w.skip(Skipped{Path: path, Index: msg.index, Reason: "too-large", Err: w.tooLarge()})
		case isBlank(msg.data):
			w.skip(Skipped{Path: path, Index: msg.index, Reason: "empty"})
		default:
			item := Item{Path: path, Index: msg.index, Offset: msg.offset, Data: msg.data, PostmarkTime: msg.postmarkTime}
			if err := w.yield(item); err != nil {
				return err
			}
		}
	}
}

func (w *walker) singleFile(path string, r io.Reader, format string) error {
	w.message.Reset()
	if _, err := w.message.ReadFrom(io.LimitReader(r, w.opts.MaxMessageBytes+1)); err != nil {
		w.skip(Skipped{Path: path, Reason: failureReason(format, err), Err: err})
		return nil
	}
	data := w.message.Bytes()
	switch {
	case int64(len(data)) > w.opts.MaxMessageBytes:
		w.skip(Skipped{Path: path, Reason: "too-large", Err: w.tooLarge()})
	case isBlank(data):
		w.skip(Skipped{Path: path, Reason: "empty"})
	case !startsWithHeader(data):
		w.skip(Skipped{Path: path, Reason: "not-mail", Err: errors.New("neither an mbox nor a message starting with a header field")})
	default:
		return w.yield(Item{Path: path, Data: data})
	}
	return nil
}

func (w *walker) tooLarge() error {
	return fmt.Errorf("message larger than %d bytes", w.opts.MaxMessageBytes)
}

func isBlank(data []byte) bool {
	return len(bytes.TrimSpace(data)) == 0
}

// startsWithHeader reports whether data's first line is a header field: a name of printable
// characters other than space and colon, then a colon.
func startsWithHeader(data []byte) bool {
	line := firstLine(data)
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func firstLine(data []byte) []byte {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return data[:i+1]
	}
	return data
}
