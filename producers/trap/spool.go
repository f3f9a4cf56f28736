package trap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// spool keeps encoded raw events on disk while Kafka cannot take them: one file per event,
// written to a temporary name, synced and renamed, so a file that exists is complete. Files are
// removed only after Kafka acknowledged their event.
type spool struct {
	dir      string
	maxBytes int64
	mu       sync.Mutex
	bytes    int64
	count    int
	seq      uint64
	changed  func(count int, bytes int64)
}

var errSpoolFull = errors.New("spool full")

func openSpool(dir string, maxBytes int64, changed func(int, int64)) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, changed: changed}
	names, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil {
			s.bytes += fi.Size()
			s.count++
		}
	}
	// Leftovers of writes cut short by a crash were never acknowledged to a client.
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
	s.changed(s.count, s.bytes)
	return s, nil
}

// put stores one event durably.
func (s *spool) put(event []byte) error {
	s.mu.Lock()
	if s.bytes+int64(len(event)) > s.maxBytes {
		s.mu.Unlock()
		return errSpoolFull
	}
	s.seq++
	name := fmt.Sprintf("%019d-%06d.json", time.Now().UnixNano(), s.seq%1_000_000)
	s.mu.Unlock()
	path := filepath.Join(s.dir, name)
	if err := writeSynced(path+".tmp", event); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	s.bytes += int64(len(event))
	s.count++
	s.changed(s.count, s.bytes)
	s.mu.Unlock()
	return nil
}

// list returns the spooled files, oldest first.
func (s *spool) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// read returns up to n of the oldest spooled events with their file names.
func (s *spool) read(n int) (names []string, events [][]byte, err error) {
	all, err := s.list()
	if err != nil {
		return nil, nil, err
	}
	for _, name := range all[:min(n, len(all))] {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			return nil, nil, fmt.Errorf("spool: %w", err)
		}
		names, events = append(names, name), append(events, b)
	}
	return names, events, nil
}

// remove deletes events Kafka has acknowledged.
func (s *spool) remove(names []string) error {
	for _, name := range names {
		path := filepath.Join(s.dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.mu.Lock()
		s.bytes -= fi.Size()
		s.count--
		s.changed(s.count, s.bytes)
		s.mu.Unlock()
	}
	return syncDir(s.dir)
}

func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count == 0
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
