package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/spamgeo/spamgeo/internal/testenv"
)

// exportEvents is how many events the output tests export: some megabytes, far more than a
// pipe holds.
const exportEvents = 30000

// What spamgeo export does when its output is not an ordinary new file (issue 18): devices,
// FIFOs, failing writes. Whatever happens, it never removes what it did not create, never
// panics, and stops when told to.
func TestExportOutputOnRealServers(t *testing.T) {
	env := exportEnv(t, exportEvents)
	bin := testenv.BuildSpamgeo(t)
	export := func(args ...string) *exec.Cmd {
		all := slices.Concat(testenv.ClickHouseFlags(env.clickhouse), []string{"export", "--period", "2005-04"}, args)
		return exec.Command(bin, all...)
	}

	// Finding 3: Parquet to a full device panicked ("failed to write magic number", exit 2);
	// finding 4: Arrow to it removed the device node.
	t.Run("full device", func(t *testing.T) {
		device := fullDevice(t)
		for _, format := range []string{"parquet", "arrow"} {
			out, err := export("--format", format, "-o", device).CombinedOutput()
			t.Logf("%s: %s", format, out)
			if code := exitCode(err); code != 1 || strings.Contains(string(out), "panic") ||
				!strings.Contains(string(out), device+": no space left on device") {
				t.Errorf("%s to %s: exit %d, want 1 and the device's error:\n%s", format, device, code, out)
			}
			if fi, err := os.Stat(device); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
				t.Fatalf("%s to %s: the device is gone: %v", format, device, err)
			}
		}
	})

	// Finding 4: Arrow to a FIFO failed (no seeking) and removed the FIFO. It streams the Arrow
	// stream format into it.
	t.Run("arrow to fifo", func(t *testing.T) {
		fifo := mkfifo(t)
		read := make(chan []byte)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				t.Error(err)
				close(read)
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			read <- b
		}()
		if out, err := export("--format", "arrow", "-o", fifo).CombinedOutput(); err != nil {
			t.Fatalf("arrow to a FIFO: %v\n%s", err, out)
		}
		if n := exportedRows(t, "arrow", <-read); n != exportEvents {
			t.Errorf("arrow to a FIFO: %d rows, want %d", n, exportEvents)
		}
		isFIFO(t, fifo)
	})

	// Finding 5: to a FIFO whose reader goes away, Parquet blocked for ever: the FIFO was opened
	// read-write, so the export's own read end kept the pipe open. It fails at once.
	t.Run("fifo reader exits", func(t *testing.T) {
		fifo := mkfifo(t)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				t.Error(err)
				return
			}
			f.Read(make([]byte, 100))
			f.Close()
		}()
		cmd := export("--format", "parquet", "-o", fifo)
		out, err := wait(t, cmd, nil)
		t.Log(out)
		if code := exitCode(err); code != 1 || !strings.Contains(out, fifo+": broken pipe") {
			t.Errorf("parquet to a FIFO whose reader left: exit %d, want 1 and a broken pipe:\n%s", code, out)
		}
		isFIFO(t, fifo)
	})

	// Finding 5: SIGTERM did not stop an export blocked on a FIFO; it stops it, whether the
	// FIFO has no reader or a reader that stopped reading.
	t.Run("fifo sigterm", func(t *testing.T) {
		for _, reader := range []bool{false, true} {
			fifo := mkfifo(t)
			cmd := export("--format", "parquet", "-o", fifo)
			out, err := wait(t, cmd, func() {
				if !reader {
					time.Sleep(2 * time.Second) // counting the rows, then waiting for a reader
					return
				}
				f, err := os.Open(fifo)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				waitFull(t, f)
			})
			t.Logf("reader %v: %s", reader, out)
			if code := exitCode(err); code != 1 || !strings.Contains(out, fifo) {
				t.Errorf("SIGTERM (reader %v): exit %d, want 1 and the FIFO's name:\n%s", reader, code, out)
			}
			isFIFO(t, fifo)
		}
	})

	// The same with -o - into a pipe nobody reads: standard output is inherited in blocking mode,
	// where no deadline can interrupt a write.
	t.Run("stdout sigterm", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cmd := export("--format", "parquet", "-o", "-")
		cmd.Stdout = w
		out, err := wait(t, cmd, func() {
			w.Close() // the child has its own copy
			waitFull(t, r)
		})
		t.Log(out)
		if code := exitCode(err); code != 1 || !strings.Contains(out, "write standard output: terminated") {
			t.Errorf("SIGTERM on a blocked standard output: exit %d, want 1:\n%s", code, out)
		}
	})

	// Finding 4, on a regular file: a failed export removed the file, even one that was there
	// before. The file keeps its content, and no temporary file is left.
	t.Run("existing file kept", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "april.parquet")
		if err := os.WriteFile(path, []byte("last month's export"), 0o640); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"parquet", "arrow"} {
			// A file size limit of 100 kB makes writes fail as on a full disk.
			cmd := exec.Command("sh", append([]string{"-c", `ulimit -f 200 && exec "$@"`, "sh"}, export("--format", format, "-o", path).Args...)...)
			out, err := cmd.CombinedOutput()
			t.Logf("%s: %s", format, out)
			if code := exitCode(err); code != 1 || !strings.Contains(string(out), path+": file too large") {
				t.Errorf("%s over the size limit: exit %d, want 1 and the file's name:\n%s", format, code, out)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "last month's export" {
				t.Errorf("%s: after a failed export the file holds %q (%v)", format, b, err)
			}
		}
		// A successful export replaces it, keeping its permissions.
		spamgeo(t, env, "export", "--period", "2005-04", "-o", path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := exportedRows(t, "parquet", b); n != exportEvents {
			t.Errorf("replaced file: %d rows, want %d", n, exportEvents)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("replaced file: mode %v, want 0640", fi.Mode().Perm())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("files left beside the export: %v", entries)
		}
	})
}

// fullDevice returns a character device on which every write fails with ENOSPC: a copy of
// /dev/full of the test's own when it may create one (as root), so that a bug that removes its
// output never removes /dev/full; /dev/full itself for other users, who cannot remove it.
func fullDevice(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "full")
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|7); err == nil {
		return path
	}
	if os.Geteuid() == 0 {
		t.Skip("cannot create a full device (mknod), and as root a bug could remove /dev/full")
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip(err)
	}
	return "/dev/full"
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
		t.Fatalf("the FIFO %s is gone: %v", path, err)
	}
}

// wait starts cmd (its standard output to the output returned unless set), runs then (if not nil) and sends it SIGTERM, and returns its output once it
// has exited; a command still running 20 seconds later fails the test.
func wait(t *testing.T, cmd *exec.Cmd, then func()) (string, error) {
	t.Helper()
	var out bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if then != nil {
		then()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running after 20 s:\n%s", strings.Join(cmd.Args[1:], " "), out.String())
		return "", nil
	}
}

// waitFull returns once the pipe f reads from holds most of Linux's default 64 KiB and has stopped
// filling: its writer is then blocked.
func waitFull(t *testing.T, f *os.File) {
	t.Helper()
	conn, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var last int32
	for ctx.Err() == nil {
		var n int32
		conn.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		})
		if n >= 32<<10 && n == last {
			return
		}
		last = n
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("the export never filled the FIFO")
}

// exitCode is the exit status of a finished command, 0 when err is nil, -1 when it was killed.
func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
