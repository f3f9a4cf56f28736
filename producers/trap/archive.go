package trap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// archive keeps every accepted message as evidence, in one gzip-compressed mboxrd file per UTC
// day (spamgeo replay reads them back). Each message is flushed as it is written, so a crash
// loses at most the message being written and leaves a readable file.
type archive struct {
	dir, trapID string
	mu          sync.Mutex
	day         string
	file        *os.File
	gz          *gzip.Writer
}

func newArchive(dir, trapID string) (*archive, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &archive{dir: dir, trapID: trapID}, nil
}

// write appends one message, preceded by its mbox postmark line and the trap's trace headers,
// which name the client and the trap addresses and carry the event id.
func (a *archive) write(at time.Time, envelopeFrom string, trace string, message []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	day := at.UTC().Format("2006-01-02")
	if day != a.day {
		if err := a.rotate(day); err != nil {
			return err
		}
	}
	if envelopeFrom == "" {
		envelopeFrom = "MAILER-DAEMON"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From %s %s\n", envelopeFrom, at.UTC().Format("Mon Jan _2 15:04:05 2006"))
	b.WriteString(trace)
	writeMboxrd(&b, message)
	if _, err := a.gz.Write(b.Bytes()); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := a.gz.Flush(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// writeMboxrd writes message with LF line ends, quoting lines that start with ">*From " by one
// more '>', and ends it with an empty line.
func writeMboxrd(b *bytes.Buffer, message []byte) {
	sc := bufio.NewScanner(bytes.NewReader(message))
	sc.Buffer(nil, len(message)+1)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			b.WriteByte('>')
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}

func (a *archive) rotate(day string) error {
	if err := a.closeFile(); err != nil {
		return err
	}
	name := filepath.Join(a.dir, fmt.Sprintf("%s-%s.mbox.gz", a.trapID, day))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	// Appending a new gzip member to a file of earlier ones keeps it one valid gzip stream.
	a.file, a.gz, a.day = f, gzip.NewWriter(f), day
	return nil
}

func (a *archive) closeFile() error {
	if a.file == nil {
		return nil
	}
	err := a.gz.Close()
	if cerr := a.file.Close(); err == nil {
		err = cerr
	}
	a.file, a.gz, a.day = nil, nil, ""
	return err
}

func (a *archive) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeFile()
}
