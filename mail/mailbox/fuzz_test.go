package mailbox

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzMbox splits arbitrary bytes as an mbox: it never panics, never returns more bytes than it
// was given, and never returns a message that starts with a postmark line, unless that line was a
// quoted ">From " that mboxrd unquoted.
func FuzzMbox(f *testing.F) {
	f.Add([]byte(twoMessages), false)
	f.Add([]byte(twoMessages), true)
	f.Add([]byte("From a@b Fri Jul  8 12:08:34 2011\r\nSubject: x\r\n\r\n>From c@d Fri Jul  8 12:08:34 2011\r\n"), false)
	f.Add([]byte("preamble\nFrom a@b Fri Jul  8 12:08:34 2011\n\n\nFrom a@b Fri Jul  8 12:08:34 2011"), false)
	f.Add([]byte(">>From x\n>From a@b Mon Jan 1 00:00 2001\nFrom "), false)
	f.Add([]byte(""), false)
	f.Fuzz(func(t *testing.T, input []byte, mboxo bool) {
		const max = 1 << 10
		var m mboxReader
		m.reset(bufio.NewReader(bytes.NewReader(input)), max, !mboxo)
		var total int
		for n := 0; ; n++ {
			if n > len(input)+1 {
				t.Fatalf("more than %d messages from %d bytes", n, len(input))
			}
			msg, err := m.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reading from memory failed: %v", err)
			}
			if msg.index != n || msg.offset < 0 || msg.offset > int64(len(input)) {
				t.Fatalf("message %d has index %d and offset %d in %d bytes", n, msg.index, msg.offset, len(input))
			}
			if len(msg.data) > max || msg.tooLarge && msg.data != nil {
				t.Fatalf("message %d of %d bytes, too large: %v", n, len(msg.data), msg.tooLarge)
			}
			total += len(msg.data)
			if _, ok := postmark(firstLine(msg.data)); ok && (mboxo || input[msg.offset] != '>') {
				t.Fatalf("message %d starts with a postmark line: %q", n, firstLine(msg.data))
			}
			// An empty message ends where it starts, at the next postmark.
			if _, ok := postmark(firstLine(input[msg.offset:])); ok && (msg.tooLarge || len(msg.data) > 0) {
				t.Fatalf("message %d starts at a postmark line in the input: %q", n, firstLine(input[msg.offset:]))
			}
		}
		if total > len(input) {
			t.Fatalf("returned %d bytes from %d", total, len(input))
		}
	})
}
