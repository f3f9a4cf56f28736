package trap

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/schemas/event"
)

// archive keeps every accepted message as evidence, as received, in gzip-compressed mboxrd files
// of one UTC day each (spamgeo replay reads them back). An entry is the mbox postmark line, the
// trap's envelope record (package envelope: sender, recipients as given, TLS, client, event id
// and time) and the message's bytes unchanged but for mboxrd quoting, which is undone exactly
// on reading, then a blank line.
//
// Each entry is one gzip member written with one write, and concatenated members are one valid
// gzip stream: the file is complete after every message, so reading today's file meets no
// stream without its end, gzip -t checks it, and each message has its own CRC. Flushing one
// long member instead leaves no trailer and no checksum until the file is closed, and a trap
// that dies leaves a file every reader calls truncated. A failed write is cut back off, and a
// run never appends to a file an earlier run left (that one may end in a member cut by a
// crash, which would hide every member after it): it starts the day's next file.
type archive struct {
	dir, trapID string
	mu          sync.Mutex
	day         string
	file        *os.File
	size        int64 // of file, where a failed write is cut back to
	entry       bytes.Buffer
	member      bytes.Buffer
	gz          *gzip.Writer
}

func newArchive(dir, trapID string) (*archive, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &archive{dir: dir, trapID: trapID, gz: gzip.NewWriter(nil)}, nil
}

// write appends the message of the live event r.
func (a *archive) write(r *event.Raw, message []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if day := r.ReceivedAt.UTC().Format("2006-01-02"); day != a.day {
		if err := a.rotate(day); err != nil {
			return err
		}
	}
	a.entry.Reset()
	if err := appendEntry(&a.entry, r, message); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	a.member.Reset()
	a.gz.Reset(&a.member)
	a.gz.Write(a.entry.Bytes()) // writes to memory cannot fail
	if err := a.gz.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	n, err := a.file.Write(a.member.Bytes())
	if err != nil {
		if terr := a.file.Truncate(a.size); terr != nil {
			// The file may end in a cut member now: the next message starts a new one.
			err = errors.Join(err, terr, a.closeFile())
		}
		return fmt.Errorf("archive: %w", err)
	}
	a.size += int64(n)
	return nil
}

// appendEntry writes the mbox entry of message: the postmark line, the envelope record in the
// message's line ends, the message with lines that start with ">*From " quoted by one more '>',
// a line end if the message lacks a last one, and the blank line that ends an mbox message.
func appendEntry(b *bytes.Buffer, r *event.Raw, message []byte) error {
	fmt.Fprintf(b, "From %s %s\n", postmarkSender(r.MailFrom), r.ReceivedAt.UTC().Format("Mon Jan _2 15:04:05 2006"))
	eol := "\n"
	if line, _, _ := bytes.Cut(message, []byte("\n")); bytes.HasSuffix(line, []byte("\r")) {
		eol = "\r\n"
	}
	record, err := envelope.Append(b.AvailableBuffer(), envelope.Of(r), eol)
	if err != nil {
		return err
	}
	b.Write(record)
	for rest := message; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			b.WriteByte('>')
		}
		b.Write(line)
	}
	if !bytes.HasSuffix(message, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return nil
}

// postmarkSender is the sender for the postmark line, which mbox readers split on spaces: the
// envelope record keeps the exact one.
func postmarkSender(from string) string {
	if from == "" {
		return "MAILER-DAEMON"
	}
	b := []byte(from[:min(len(from), 255)])
	for i, c := range b {
		if c < 0x21 || c > 0x7e {
			b[i] = '_'
		}
	}
	return string(b)
}

// rotate opens the day's first file this run may write: <trap>-<day>.mbox.gz, or the next of
// <trap>-<day>_2.mbox.gz, _3... that does not exist yet.
func (a *archive) rotate(day string) error {
	if err := a.closeFile(); err != nil {
		return err
	}
	for n := 1; ; n++ {
		name := fmt.Sprintf("%s-%s.mbox.gz", a.trapID, day)
		if n > 1 {
			name = fmt.Sprintf("%s-%s_%d.mbox.gz", a.trapID, day, n)
		}
		f, err := os.OpenFile(filepath.Join(a.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		a.file, a.size, a.day = f, 0, day
		return nil
	}
}

func (a *archive) closeFile() error {
	if a.file == nil {
		return nil
	}
	err := a.file.Close()
	a.file, a.day = nil, ""
	return err
}

func (a *archive) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeFile()
}
