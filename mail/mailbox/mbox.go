package mailbox

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"
)

// mboxReader splits an mbox stream into messages one line at a time, so memory stays bounded by
// the largest message it keeps.
//
// A message starts after a postmark line: "From ", a sender, then a date with a month name and
// day, a time and a year. Requiring the date keeps body lines such as "From the desk of..." inside
// their message even when the writer did not quote them. Content before the first postmark, which
// Walk never passes in, is read as a message without a postmark.
type mboxReader struct {
	r       *bufio.Reader
	max     int64
	unquote bool // mboxrd: remove one '>' from lines matching ^>+From

	buf      []byte
	pos      int64     // bytes consumed from r
	index    int       // index of the next message
	pending  bool      // a postmark line was read whose message has not been returned yet
	postmark time.Time // the date on that postmark line
	midLine  bool      // the last read ended inside a line longer than r's buffer
	done     bool
}

type mboxMessage struct {
	index        int
	offset       int64
	data         []byte // valid until the next call to next
	postmarkTime time.Time
	tooLarge     bool
}

func (m *mboxReader) reset(r *bufio.Reader, max int64, unquote bool) {
	*m = mboxReader{r: r, max: max, unquote: unquote, buf: m.buf[:0]}
}

// next returns the next message, io.EOF after the last one, or the error that made reading stop;
// the message returned with an error carries only the index of the message it interrupted.
func (m *mboxReader) next() (mboxMessage, error) {
	msg := mboxMessage{index: m.index, offset: m.pos, postmarkTime: m.postmark}
	if m.done {
		return msg, io.EOF
	}
	exists := m.pending // a postmark opened it, so it is a message even if empty
	m.pending = false
	m.buf = m.buf[:0]
	for {
		line, err := m.r.ReadSlice('\n')
		if len(line) > 0 {
			atLineStart := !m.midLine
			m.pos += int64(len(line))
			m.midLine = line[len(line)-1] != '\n'
			if date, ok := postmark(line); ok && atLineStart {
				if exists {
					m.pending, m.postmark = true, date
					return m.finish(msg), nil
				}
				// The stream's first line: it opens this message rather than closing one.
				exists, msg.offset, msg.postmarkTime = true, m.pos, date
				continue
			}
			exists = true
			if m.unquote && atLineStart && isQuotedFrom(line) {
				line = line[1:]
			}
			// Slack for the line ending that finish trims off.
			if !msg.tooLarge && int64(len(m.buf)+len(line)) > m.max+2 {
				msg.tooLarge, m.buf = true, m.buf[:0]
			}
			if !msg.tooLarge {
				m.buf = append(m.buf, line...)
			}
		}
		switch {
		case err == io.EOF:
			m.done = true
			if !exists {
				return msg, io.EOF
			}
			return m.finish(msg), nil
		case err != nil && err != bufio.ErrBufferFull:
			m.done = true
			return mboxMessage{index: msg.index}, err
		}
	}
}

// finish completes msg with the lines read, less the blank line that separates mbox messages.
func (m *mboxReader) finish(msg mboxMessage) mboxMessage {
	m.index++
	data := m.buf
	if bytes.HasSuffix(data, []byte("\r\n\r\n")) {
		data = data[:len(data)-2]
	} else if bytes.HasSuffix(data, []byte("\n\n")) {
		data = data[:len(data)-1]
	}
	if int64(len(data)) > m.max {
		msg.tooLarge = true
	}
	if !msg.tooLarge {
		msg.data = data
	}
	return msg
}

func isQuotedFrom(line []byte) bool {
	quoted := bytes.TrimLeft(line, ">")
	return len(quoted) < len(line) && bytes.HasPrefix(quoted, []byte("From "))
}

// postmarkLayouts are the postmark dates seen in archives, longest first so that a zone is not
// left out: ctime (most writers), with a numeric zone before or after the year (Google Takeout
// writes "Fri Jan 06 21:52:09 +0000 2023"), with a zone name, and without seconds.
var postmarkLayouts = []string{
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 2006 -0700",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04 2006",
}

// postmark reports whether line is an mbox postmark line — "From ", a sender, then a date with a
// month name and day, a time of day and a year — and returns the date when it is in a known layout.
func postmark(line []byte) (time.Time, bool) {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return time.Time{}, false
	}
	fields := strings.Fields(string(line[len("From "):]))
	if len(fields) < 4 {
		return time.Time{}, false
	}
	date := fields[1:]
	var monthDay, clock, year bool
	for i, f := range date {
		monthDay = monthDay || isMonth(f) && i+1 < len(date) && len(date[i+1]) <= 2 && allDigits(date[i+1])
		clock = clock || isClock(f)
		year = year || len(f) == 4 && allDigits(f)
	}
	if !monthDay || !clock || !year {
		return time.Time{}, false
	}
	for _, layout := range postmarkLayouts {
		n := strings.Count(layout, " ") + 1
		if len(date) < n {
			continue
		}
		if t, err := time.Parse(layout, strings.Join(date[:n], " ")); err == nil {
			return t, true
		}
	}
	return time.Time{}, true
}

// isMonth reports whether s is a month's abbreviated name; s comes from strings.Fields, so it
// cannot straddle two names.
func isMonth(s string) bool {
	return len(s) == 3 && strings.Contains("jan feb mar apr may jun jul aug sep oct nov dec", strings.ToLower(s))
}

// isClock reports whether s is a time of day: h:mm, hh:mm or hh:mm:ss.
func isClock(s string) bool {
	hour, rest, ok := strings.Cut(s, ":")
	if !ok || len(hour) < 1 || len(hour) > 2 || !allDigits(hour) {
		return false
	}
	minute, second, hasSecond := strings.Cut(rest, ":")
	return len(minute) == 2 && allDigits(minute) && (!hasSecond || len(second) == 2 && allDigits(second))
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
