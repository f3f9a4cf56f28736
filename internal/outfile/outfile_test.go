//go:build unix

package outfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func create(t *testing.T, ctx context.Context, path string) *File {
	t.Helper()
	f, err := Create(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Abort)
	return f
}

func write(t *testing.T, f *File, s string) {
	t.Helper()
	if _, err := io.WriteString(f, s); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// A new file appears only on Commit, whole; an aborted one never appears.
func TestNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	f := create(t, t.Context(), path)
	write(t, f, "rows")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file exists before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := content(t, path); got != "rows" {
		t.Errorf("content %q", got)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("files beside the output: %v", got)
	}

	aborted := filepath.Join(dir, "aborted.parquet")
	f = create(t, t.Context(), aborted)
	write(t, f, "half")
	f.Abort()
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("an aborted output left %v", got)
	}
}

// An existing file keeps its content until a Commit replaces it, and its permissions after.
func TestExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	f := create(t, t.Context(), path)
	write(t, f, "new")
	f.Abort()
	if got := content(t, path); got != "old" {
		t.Errorf("after Abort the file holds %q", got)
	}
	f = create(t, t.Context(), path)
	write(t, f, "new")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := content(t, path); got != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("after Commit: %q, mode %v", got, fi.Mode().Perm())
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("files beside the output: %v", got)
	}
}

// Through a symbolic link the file it points to is replaced, and the link stays.
func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "2005.parquet"), filepath.Join(dir, "latest.parquet")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("2005.parquet", link); err != nil {
		t.Fatal(err)
	}
	f := create(t, t.Context(), link)
	write(t, f, "new")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if got := content(t, target); got != "new" {
		t.Errorf("target holds %q", got)
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(t.Context(), dir, nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory as output: %v", err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, syscall.ENOSPC
}

// "-" is standard output; a failed write is reported with what was written to, and again by
// every later Write and by Commit, without writing further.
func TestStdout(t *testing.T) {
	var b bytes.Buffer
	f, err := Create(t.Context(), Stdout, &b)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "rows")
	if err := f.Commit(); err != nil || b.String() != "rows" {
		t.Errorf("standard output got %q (%v)", b.String(), err)
	}
	if _, err := f.Seek(0, io.SeekCurrent); err == nil {
		t.Error("standard output can seek")
	}

	w := &failingWriter{}
	f, err = Create(t.Context(), Stdout, w)
	if err != nil {
		t.Fatal(err)
	}
	const want = "write standard output: no space left on device"
	for range 2 {
		if _, err := f.Write([]byte("rows")); err == nil || err.Error() != want {
			t.Errorf("Write: %v, want %q", err, want)
		}
	}
	if err := f.Commit(); err == nil || err.Error() != want || w.writes != 1 {
		t.Errorf("Commit after a failed write: %v (%d writes)", err, w.writes)
	}
}

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func isFIFO(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO is gone: %v", err)
	}
}

// A FIFO is written to directly, waits for its reader, and is never removed.
func TestFIFO(t *testing.T) {
	fifo := mkfifo(t)
	read := make(chan string)
	go func() {
		b, _ := os.ReadFile(fifo)
		read <- string(b)
	}()
	f := create(t, t.Context(), fifo)
	write(t, f, "rows")
	if _, err := f.Seek(0, io.SeekCurrent); err == nil {
		t.Error("a FIFO can seek")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; got != "rows" {
		t.Errorf("the reader got %q", got)
	}
	isFIFO(t, fifo)

	go func() {
		b, _ := os.ReadFile(fifo)
		read <- string(b)
	}()
	f = create(t, t.Context(), fifo)
	write(t, f, "half")
	f.Abort()
	<-read
	isFIFO(t, fifo)
}

// Without a reader, opening a FIFO waits until the context ends.
func TestFIFOWithoutReader(t *testing.T) {
	fifo := mkfifo(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Create(ctx, fifo, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("open without a reader: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("open gave up after %s", d)
	}
	isFIFO(t, fifo)
}

// A reader that leaves makes the next write fail: the FIFO is not held open for reading.
func TestFIFOReaderLeaves(t *testing.T) {
	fifo := mkfifo(t)
	opened := make(chan *os.File)
	go func() {
		r, err := os.Open(fifo)
		if err != nil {
			t.Error(err)
		}
		opened <- r
	}()
	f := create(t, t.Context(), fifo)
	(<-opened).Close()
	_, err := f.Write(make([]byte, 1<<20))
	if !errors.Is(err, syscall.EPIPE) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("write after the reader left: %v", err)
	}
	isFIFO(t, fifo)
}

// A write blocked on a reader that stopped reading ends when the context does.
func TestFIFOStalledReader(t *testing.T) {
	fifo := mkfifo(t)
	opened := make(chan *os.File)
	go func() {
		r, err := os.Open(fifo)
		if err != nil {
			t.Error(err)
		}
		opened <- r
	}()
	ctx, cancel := context.WithCancel(t.Context())
	f := create(t, ctx, fifo)
	defer (<-opened).Close()
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := f.Write(make([]byte, 1<<20))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("write to a stalled reader: %v", err)
	}
	isFIFO(t, fifo)
}

// A file the user may not write to is not replaced, though its directory would allow it.
func TestReadOnlyFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write to any file")
	}
	path := filepath.Join(t.TempDir(), "out.parquet")
	if err := os.WriteFile(path, []byte("old"), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(t.Context(), path, nil); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a read-only file: %v", err)
	}
	if got := content(t, path); got != "old" {
		t.Errorf("the file holds %q", got)
	}
}

// blocked is a writer that never returns from Write until released, as a pipe nobody reads.
type blocked chan struct{}

func (b blocked) Write(p []byte) (int, error) {
	<-b
	return len(p), nil
}

// A write to standard output that blocks ends when the context does, though standard output
// takes no deadline.
func TestStdoutBlocked(t *testing.T) {
	stdout := make(blocked)
	defer close(stdout)
	ctx, cancel := context.WithCancel(t.Context())
	f, err := Create(ctx, Stdout, stdout)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := f.Write([]byte("rows"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "standard output") {
			t.Errorf("blocked write: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the write did not end with the context")
	}
}
