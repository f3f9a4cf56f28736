// Package outfile writes the files commands produce so that a failure leaves nothing
// half-written and never harms what was at the path before. A regular file (or a new one) is
// written under a temporary name beside it and renamed into place by Commit; pipes, FIFOs,
// devices and standard output ("-") cannot be replaced, so they are written to directly, opened
// write-only, and are never removed.
package outfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Stdout is the path that names standard output.
const Stdout = "-"

// File is an output being written. Write to it, then Commit; a deferred Abort discards what
// was not committed.
type File struct {
	name   string    // as the user gave it, for errors
	w      io.Writer // the temporary file, the stream, or standard output
	file   *os.File  // w when it is a file this package opened
	temp   string    // the temporary file Commit renames to target; empty when streaming
	target string    // the regular file temp replaces, symbolic links resolved
	ctx    context.Context
	stop   func() bool // ends the watch on ctx
	err    error       // the first write error: a file that lost a write is never committed
	done   bool
}

// Create opens path for writing: "-" is stdout; a FIFO, device or other non-regular file is
// written to directly, once a reader has opened a FIFO; anything else gets a temporary file
// beside it. Cancelling ctx ends the wait for a FIFO's reader and a write blocked on a pipe.
func Create(ctx context.Context, path string, stdout io.Writer) (*File, error) {
	f := &File{name: path, ctx: ctx}
	if path == Stdout {
		f.name, f.w = "standard output", stdout
		if file, ok := stdout.(*os.File); ok && file.SetWriteDeadline(time.Time{}) == nil {
			f.watch(file)
		} else {
			f.w = cancellable{ctx, stdout}
		}
		return f, nil
	}
	f.target = path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// Write where the link points, as os.Create would, rather than replace the link.
		if f.target, err = filepath.EvalSymlinks(path); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(f.target)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		file, err := openStream(ctx, path, fi.Mode())
		if err != nil {
			return nil, err
		}
		f.w, f.file = file, file
		f.watch(file)
		return f, nil
	case err == nil:
		// Renaming over a file needs no right to write to it; refuse, as os.Create would.
		w, err := os.OpenFile(f.target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		w.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	file, err := createTemp(f.target)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if fi != nil {
		// Replacing a file keeps its permissions (os.Create on it would have).
		if err := file.Chmod(fi.Mode().Perm()); err != nil {
			file.Close()
			os.Remove(file.Name())
			return nil, err
		}
	}
	f.w, f.file, f.temp = file, file, file.Name()
	return f, nil
}

// openStream opens a non-regular file write-only: read-write, a FIFO would hold its own read end
// and block for ever once its reader left. Opening a FIFO for writing blocks until a reader opens
// it, out of reach of ctx; opened non-blocking, it fails at once while there is none, so it is
// retried until a reader comes or ctx ends. The descriptor stays non-blocking: the runtime
// poller waits for room in the pipe, which lets a cancelled ctx interrupt a write.
func openStream(ctx context.Context, path string, mode fs.FileMode) (*os.File, error) {
	if mode&fs.ModeNamedPipe == 0 {
		return os.OpenFile(path, os.O_WRONLY, 0)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		file, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if !errors.Is(err, syscall.ENXIO) {
			return file, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: no reader opened the FIFO: %w", path, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// createTemp creates a hidden file beside target, with the permissions os.Create would give.
func createTemp(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	for {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		file, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return file, err
		}
	}
}

// watch makes a cancelled ctx end a write blocked on file (a pipe whose reader stopped reading).
// Regular files and most devices take no deadline; their writes do not block for long.
func (f *File) watch(file *os.File) {
	f.stop = context.AfterFunc(f.ctx, func() { file.SetWriteDeadline(time.Now()) })
}

// cancellable is a writer whose writes end when ctx does, for standard output, which usually
// takes no deadline (a pipe inherited in blocking mode). A write cut short stays blocked in the
// background until the process exits, which it is about to do.
type cancellable struct {
	ctx context.Context
	w   io.Writer
}

func (c cancellable) Write(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	p = slices.Clone(p) // the caller may reuse p once Write has returned
	go func() {
		n, err := c.w.Write(p)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-c.ctx.Done():
		return 0, context.Cause(c.ctx)
	}
}

// Write writes p, or returns the first error a write met, naming the path.
func (f *File) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.w.Write(p)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err // it names the temporary file, or the path again
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && f.ctx.Err() != nil {
			err = context.Cause(f.ctx)
		}
		f.err = fmt.Errorf("write %s: %w", f.name, err)
	}
	return n, f.err
}

// Seek moves within the temporary file of a regular one; a stream cannot seek, so that writers
// that need to (the Arrow IPC file format) can tell.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if f.temp == "" {
		return 0, fmt.Errorf("seek %s: not a regular file", f.name)
	}
	return f.file.Seek(offset, whence)
}

// Commit finishes the output: a regular file is flushed to disk and renamed over the path. It
// fails, leaving the path as it was, if any write failed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("outfile: committed or aborted already")
	}
	f.done = true
	if f.stop != nil {
		f.stop()
	}
	if f.temp == "" {
		if f.file != nil {
			if err := f.file.Close(); err != nil && f.err == nil {
				f.err = fmt.Errorf("close %s: %w", f.name, err)
			}
		}
		return f.err
	}
	err := f.err
	if err == nil {
		if err = f.file.Sync(); err != nil {
			err = fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	if cerr := f.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", f.name, cerr)
	}
	if err == nil {
		if err = os.Rename(f.temp, f.target); err != nil {
			err = fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	if err != nil {
		os.Remove(f.temp)
	}
	return err
}

// Abort discards an output not committed: the temporary file is removed; a stream is closed,
// never removed. It does nothing after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	if f.stop != nil {
		f.stop()
	}
	if f.file != nil {
		f.file.Close()
	}
	if f.temp != "" {
		os.Remove(f.temp)
	}
}
