package mailbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// twoMessages is the mbox compressed in testdata/two.mbox.bz2 (made with bzip2 -9).
const twoMessages = "From a@example.org Fri Jul  8 12:08:34 2011\nFrom: a@example.org\nSubject: one\n\nhello\n\n" +
	"From b@example.org Sat Jul  9 01:02:03 2011\nFrom: b@example.org\nSubject: two\n\nbye\n"

var twoMessagesData = []string{
	"From: a@example.org\nSubject: one\n\nhello\n",
	"From: b@example.org\nSubject: two\n\nbye\n",
}

const postmark1 = "From a@example.org Fri Jul  8 12:08:34 2011\n"

// found is what Walk yielded or skipped, with paths relative to the test's directory.
type found struct {
	Path   string
	Index  int
	Data   string // the message, or "skip:" and the reason
	Offset int64
	Time   time.Time
}

func write(t testing.TB, root, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// walk runs Walk over paths under root and returns what it found, yields and skips in order.
func walk(t *testing.T, root string, paths []string, opts Options) []found {
	t.Helper()
	var all []found
	rel := func(path string) string {
		r, err := filepath.Rel(root, path)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	err := Walk(context.Background(), paths, opts, func(item Item) error {
		all = append(all, found{rel(item.Path), item.Index, string(item.Data), item.Offset, item.PostmarkTime})
		return nil
	}, func(s Skipped) {
		all = append(all, found{Path: rel(s.Path), Index: s.Index, Data: "skip:" + s.Reason})
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return all
}

// contents returns the Data of each found, the way most tests compare them.
func contents(all []found) []string {
	var data []string
	for _, f := range all {
		data = append(data, f.Data)
	}
	return data
}

func TestMboxSplitting(t *testing.T) {
	cases := []struct {
		name    string
		mbox    string
		quoting string
		want    []string
	}{
		{
			name: "mboxrd unquotes one level",
			mbox: postmark1 + "Subject: one\n\n>From here\n>>From there\n> From not quoted\n>not from\n\n" +
				"From b@example.org Sat Jul  9 01:02:03 2011\nSubject: two\n\nbye\n",
			want: []string{
				"Subject: one\n\nFrom here\n>From there\n> From not quoted\n>not from\n",
				"Subject: two\n\nbye\n",
			},
		},
		{
			name:    "mboxo leaves quoting alone",
			mbox:    postmark1 + "Subject: one\n\n>From here\n>>From there\n",
			quoting: "mboxo",
			want:    []string{"Subject: one\n\n>From here\n>>From there\n"},
		},
		{
			name: "CRLF",
			mbox: "From a@example.org Fri Jul  8 12:08:34 2011\r\nSubject: one\r\n\r\n>From here\r\n\r\n" +
				"From b@example.org Sat Jul  9 01:02:03 2011\r\nSubject: two\r\n\r\nbye\r\n\r\n",
			want: []string{"Subject: one\r\n\r\nFrom here\r\n", "Subject: two\r\n\r\nbye\r\n"},
		},
		{
			name: "last message without trailing newline",
			mbox: postmark1 + "Subject: one\n\nhello\n\nFrom b@example.org Sat Jul  9 01:02:03 2011\nSubject: two\n\nbye",
			want: []string{"Subject: one\n\nhello\n", "Subject: two\n\nbye"},
		},
		{
			name: "unquoted From line that is not a postmark stays in its message",
			mbox: postmark1 + "Subject: one\n\nFrom the desk of the CEO, at 10:30:\nhello\n",
			want: []string{"Subject: one\n\nFrom the desk of the CEO, at 10:30:\nhello\n"},
		},
		{
			name: "quoted postmark in a body stays in its message",
			mbox: postmark1 + "Subject: one\n\nforwarded:\n>From c@example.org Fri Jul  8 12:08:34 2011\nhi\n",
			want: []string{"Subject: one\n\nforwarded:\nFrom c@example.org Fri Jul  8 12:08:34 2011\nhi\n"},
		},
		{
			name: "unquoted postmark in a body splits (mboxo cannot be read otherwise)",
			mbox: postmark1 + "Subject: one\n\nforwarded:\nFrom c@example.org Fri Jul  8 12:08:34 2011\nhi\n",
			want: []string{"Subject: one\n\nforwarded:\n", "hi\n"},
		},
		{
			name: "empty message is skipped, the next is read",
			mbox: postmark1 + "\nFrom b@example.org Sat Jul  9 01:02:03 2011\nSubject: two\n\nbye\n",
			want: []string{"skip:empty", "Subject: two\n\nbye\n"},
		},
		{
			name: "Google Takeout postmark",
			mbox: "From 1673041929512345678@xxx Fri Jan 06 21:52:09 +0000 2023\nSubject: one\n\nhi\n",
			want: []string{"Subject: one\n\nhi\n"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			path := write(t, root, "in.mbox", []byte(c.mbox))
			all := walk(t, root, []string{path}, Options{MboxQuoting: c.quoting})
			if got := contents(all); !slices.Equal(got, c.want) {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
			for i, f := range all {
				if f.Index != i {
					t.Errorf("message %d has index %d", i, f.Index)
				}
			}
		})
	}
}

func TestMboxItemPositions(t *testing.T) {
	root := t.TempDir()
	path := write(t, root, "in.mbox", []byte(twoMessages))
	all := walk(t, root, []string{path}, Options{})
	second := strings.Index(twoMessages, "From: b@")
	want := []found{
		{"in.mbox", 0, twoMessagesData[0], int64(len(postmark1)), time.Date(2011, 7, 8, 12, 8, 34, 0, time.UTC)},
		{"in.mbox", 1, twoMessagesData[1], int64(second), time.Date(2011, 7, 9, 1, 2, 3, 0, time.UTC)},
	}
	if !slices.EqualFunc(all, want, func(a, b found) bool { return a == b }) {
		t.Errorf("got %+v\nwant %+v", all, want)
	}
}

func TestPostmark(t *testing.T) {
	cases := []struct {
		line     string
		postmark bool
		time     time.Time
	}{
		{"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n", true, time.Date(2011, 7, 8, 12, 8, 34, 0, time.UTC)},
		{"From - Sat Jan 01 00:00:00 2000\r\n", true, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"From 1@xxx Fri Jan 06 21:52:09 +0100 2023\n", true, time.Date(2023, 1, 6, 20, 52, 9, 0, time.UTC)},
		{"From a@b Fri Jan  6 21:52:09 2023 -0100\n", true, time.Date(2023, 1, 6, 22, 52, 9, 0, time.UTC)},
		{"From foo!bar Tue Mar  3 10:11 1998 remote from uucp\n", true, time.Date(1998, 3, 3, 10, 11, 0, 0, time.UTC)},
		{"From a@b Jul 8 2011 12:08:34\n", true, time.Time{}}, // a postmark, in no known layout
		{"From a@b Fri 2011 12:08:34 Jul\n", false, time.Time{}},
		{"From: a@example.org\n", false, time.Time{}},
		{"From a@example.org\n", false, time.Time{}},
		{"From the desk of the CEO, 10:30 Jan 2024\n", false, time.Time{}},
		{">From a@b Fri Jul  8 12:08:34 2011\n", false, time.Time{}},
		{"from a@b Fri Jul  8 12:08:34 2011\n", false, time.Time{}},
	}
	for _, c := range cases {
		got, ok := postmark([]byte(c.line))
		if ok != c.postmark || !got.Equal(c.time) {
			t.Errorf("postmark(%q) = %v, %v; want %v, %v", c.line, got, ok, c.time, c.postmark)
		}
	}
}

func TestSingleFiles(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"message whose first header is From", "From: a@example.org\nSubject: hi\n\nbody\n", "From: a@example.org\nSubject: hi\n\nbody\n"},
		{"message starting with Received", "Received: from x\r\n\r\nbody", "Received: from x\r\n\r\nbody"},
		{"From line without a date is not an mbox", "From a@example.org\nSubject: hi\n\nbody\n", "skip:not-mail"},
		{"text", "Just some notes\n", "skip:not-mail"},
		{"binary", "\x00\x00\x00\x01Bud1\x00", "skip:not-mail"},
		{"empty", "", "skip:empty"},
		{"blank", "\n\r\n", "skip:empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			path := write(t, root, "message.eml", []byte(c.content))
			got := walk(t, root, []string{path}, Options{})
			want := []found{{Path: "message.eml", Data: c.want}}
			if !slices.Equal(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestMaildir(t *testing.T) {
	root := t.TempDir()
	message := func(s string) []byte { return []byte("Subject: " + s + "\n\nbody\n") }
	write(t, root, "Maildir/cur/1.host:2,S", message("cur"))
	write(t, root, "Maildir/new/2.host", message("new"))
	write(t, root, "Maildir/tmp/3.host", message("tmp"))
	write(t, root, "Maildir/dovecot.index", []byte("\x07\x02index"))
	write(t, root, "Maildir/dovecot-uidlist", []byte("3 V1 N2\n"))
	write(t, root, "Maildir/subscriptions", []byte("Sent\n"))
	write(t, root, "Maildir/.Sent/maildirfolder", nil)
	write(t, root, "Maildir/.Sent/cur/4.host:2,S", message("sent"))
	write(t, root, "Maildir/.Sent/tmp/5.host", message("sent tmp"))
	if err := os.Mkdir(filepath.Join(root, "Maildir/.Sent/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, root, "Maildir/.Trash/6.host", message("hidden, not a Maildir++ folder"))
	write(t, root, "Maildir/new/.7.host", message("hidden file"))

	got := walk(t, root, []string{filepath.Join(root, "Maildir")}, Options{})
	want := []found{
		{Path: "Maildir/.Sent/cur/4.host:2,S", Data: string(message("sent"))},
		{Path: "Maildir/cur/1.host:2,S", Data: string(message("cur"))},
		{Path: "Maildir/new/2.host", Data: string(message("new"))},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// mixedTree writes a directory of every kind of thing Walk meets and returns what Walk should find
// there, in order.
func mixedTree(t *testing.T, root string) []found {
	eml := "From: a@example.org\nSubject: eml\n\nbody\n"
	write(t, root, "a.eml", []byte(eml))
	write(t, root, "b.mbox", []byte(twoMessages))
	write(t, root, "b.mbox.msf", []byte("// <!-- <mdb:mork:z v=\"1.4\"/> -->"))
	write(t, root, "c/d.eml", []byte(eml))
	write(t, root, "Maildir/cur/x.host", []byte(eml))
	write(t, root, ".DS_Store", []byte("\x00\x00\x00\x01Bud1"))
	write(t, root, ".hidden/e.eml", []byte(eml))
	write(t, root, "dovecot.index.log", []byte("\x01\x02"))
	write(t, root, "notes.txt", []byte("remember the milk\n"))
	write(t, root, "z.mbox.gz", gzipped(t, []byte(twoMessages)))
	if err := os.Symlink("a.eml", filepath.Join(root, "y-link.eml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(root, "loop")); err != nil { // not followed
		t.Fatal(err)
	}
	return []found{
		{Path: "Maildir/cur/x.host", Data: eml},
		{Path: "a.eml", Data: eml},
		{Path: "b.mbox", Index: 0, Data: twoMessagesData[0]},
		{Path: "b.mbox", Index: 1, Data: twoMessagesData[1]},
		{Path: "c/d.eml", Data: eml},
		{Path: "notes.txt", Data: "skip:not-mail"},
		{Path: "y-link.eml", Data: eml},
		{Path: "z.mbox.gz", Index: 0, Data: twoMessagesData[0]},
		{Path: "z.mbox.gz", Index: 1, Data: twoMessagesData[1]},
	}
}

func TestWalkDirectory(t *testing.T) {
	root := t.TempDir()
	want := mixedTree(t, root)
	got := walk(t, root, []string{root}, Options{})
	for i := range got {
		got[i].Offset, got[i].Time = 0, time.Time{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestWalkPathsInGivenOrder(t *testing.T) {
	root := t.TempDir()
	b := write(t, root, "b.eml", []byte("Subject: b\n\n"))
	a := write(t, root, "a.eml", []byte("Subject: a\n\n"))
	missing := filepath.Join(root, "missing")
	got := contents(walk(t, root, []string{b, missing, a}, Options{}))
	want := []string{"Subject: b\n\n", "skip:unreadable", "Subject: a\n\n"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func gzipped(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func TestCompression(t *testing.T) {
	bzipped, err := os.ReadFile("testdata/two.mbox.bz2")
	if err != nil {
		t.Fatal(err)
	}
	eml := "From: a@example.org\nSubject: eml\n\nbody\n"
	cases := []struct {
		name    string
		content []byte
		want    []string
	}{
		{"in.mbox.gz", gzipped(t, []byte(twoMessages)), twoMessagesData},
		{"in.mbox.bz2", bzipped, twoMessagesData},
		{"in.mbox.zst", zstded(t, []byte(twoMessages)), twoMessagesData},
		{"message.eml.gz", gzipped(t, []byte(eml)), []string{eml}},
		{"message.eml.zst", zstded(t, []byte(eml)), []string{eml}},
		{"gzip-without-extension", gzipped(t, []byte(twoMessages)), twoMessagesData},
		{"zstd-without-extension", zstded(t, []byte(eml)), []string{eml}},
		{"bzip2-without-extension", bzipped, twoMessagesData},
		{"empty.gz", gzipped(t, nil), []string{"skip:empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			path := write(t, root, c.name, c.content)
			if got := contents(walk(t, root, []string{path}, Options{})); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCorruptFilesDoNotStopTheWalk(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a.mbox.gz", append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, "not deflate at all"...))

	// A gzip stream cut in half: the messages before the cut are read, the one it interrupts is
	// skipped as incomplete (a cut cannot be told from a file still being written).
	var mbox bytes.Buffer
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	for i := range 200 {
		fmt.Fprintf(&mbox, "%sSubject: %d\n\nbody %d\n\n", postmark1, i, i*i)
		if _, err := zw.Write(mbox.Bytes()); err != nil {
			t.Fatal(err)
		}
		mbox.Reset()
		if err := zw.Flush(); err != nil { // so that the stream decodes up to the cut
			t.Fatal(err)
		}
	}
	write(t, root, "b.mbox.gz", compressed.Bytes()[:compressed.Len()/2])
	write(t, root, "c.mbox.bz2", []byte("BZh9 but no more"))
	write(t, root, "d.mbox.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff})
	write(t, root, "e.eml", []byte("Subject: still read\n\n"))

	all := walk(t, root, []string{root}, Options{})
	var read int
	var skips []found
	for _, f := range all {
		if strings.HasPrefix(f.Data, "skip:") {
			skips = append(skips, f)
		} else if f.Path == "b.mbox.gz" {
			if f.Index != read {
				t.Errorf("message %d of the cut file has index %d", read, f.Index)
			}
			read++
		}
	}
	if read < 50 || read > 150 {
		t.Errorf("read %d messages of the cut gzip file, want about 100", read)
	}
	wantSkips := []found{
		{Path: "a.mbox.gz", Data: "skip:corrupt-gzip"},
		{Path: "b.mbox.gz", Index: read, Data: "skip:incomplete-gzip"},
		{Path: "c.mbox.bz2", Data: "skip:corrupt-bzip2"},
		{Path: "d.mbox.zst", Data: "skip:corrupt-zstd"},
	}
	if !slices.Equal(skips, wantSkips) {
		t.Errorf("skipped %+v\nwant %+v", skips, wantSkips)
	}
	if last := all[len(all)-1]; last.Path != "e.eml" || last.Data != "Subject: still read\n\n" {
		t.Errorf("last found %+v, want e.eml read", last)
	}
}

func TestTooLarge(t *testing.T) {
	root := t.TempDir()
	big := "Subject: big\n\n" + strings.Repeat(strings.Repeat("x", 99)+"\n", 100)
	write(t, root, "a.mbox", []byte(postmark1+"Subject: one\n\n\n"+postmark1+big+"\n"+postmark1+"Subject: three\n\n"))
	write(t, root, "b.eml", []byte(big))
	write(t, root, "c.eml.gz", gzipped(t, []byte(big)))
	// A message of exactly the maximum is kept, with its separating blank line or without.
	exactLF := "Subject: x\n\n" + strings.Repeat("y", 1000-len("Subject: x\n\n\n")) + "\n"
	exactCRLF := "Subject: x\r\n\r\n" + strings.Repeat("y", 1000-len("Subject: x\r\n\r\n\r\n")) + "\r\n"
	write(t, root, "d.mbox", []byte(postmark1+exactLF+"\n"+postmark1+exactCRLF+"\r\n"+postmark1+exactLF+"y"))

	got := contents(walk(t, root, []string{root}, Options{MaxMessageBytes: 1000}))
	want := []string{
		"Subject: one\n\n", "skip:too-large", "Subject: three\n", // the last blank line separates, as in any mbox
		"skip:too-large", "skip:too-large",
		exactLF, exactCRLF, "skip:too-large",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestYieldErrorStopsTheWalk(t *testing.T) {
	root := t.TempDir()
	mixedTree(t, root)
	stop := errors.New("stop")
	var yielded int
	err := Walk(context.Background(), []string{root}, Options{}, func(Item) error {
		yielded++
		if yielded == 3 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || yielded != 3 {
		t.Errorf("Walk returned %v after %d messages, want %v after 3", err, yielded, stop)
	}
}

func TestCanceledContextStopsTheWalk(t *testing.T) {
	root := t.TempDir()
	mixedTree(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	var yielded int
	err := Walk(ctx, []string{root}, Options{}, func(Item) error {
		yielded++
		cancel()
		return nil
	}, nil)
	if !errors.Is(err, context.Canceled) || yielded != 1 {
		t.Errorf("Walk returned %v after %d messages, want context.Canceled after 1", err, yielded)
	}
}

func TestUnknownQuoting(t *testing.T) {
	err := Walk(context.Background(), nil, Options{MboxQuoting: "mboxcl"}, func(Item) error { return nil }, nil)
	if err == nil {
		t.Error("Walk accepted MboxQuoting mboxcl")
	}
}

func TestSizeAndProgress(t *testing.T) {
	root := t.TempDir()
	mixedTree(t, root)
	var want int64
	// Read only up to MaxMessageBytes: the rest still counts as progress.
	write(t, root, "zz-big.eml", bytes.Repeat([]byte("Subject: big\n"), 20000))
	for _, name := range []string{"Maildir/cur/x.host", "a.eml", "b.mbox", "c/d.eml", "notes.txt", "y-link.eml", "z.mbox.gz", "zz-big.eml"} {
		info, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		want += info.Size()
	}
	if size := Size([]string{root}); size != want {
		t.Errorf("Size = %d, want %d", size, want)
	}

	var progress int64
	opts := Options{MaxMessageBytes: 1000, Progress: func(n int64) { progress += n }}
	if err := Walk(context.Background(), []string{root}, opts, func(Item) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if progress != want {
		t.Errorf("progress added up to %d, want %d", progress, want)
	}

	if size := Size([]string{filepath.Join(root, "missing")}); size != 0 {
		t.Errorf("Size of a missing path = %d, want 0", size)
	}
}

// BenchmarkWalkMbox reads an mbox of 2000 messages of about 5 KB.
func BenchmarkWalkMbox(b *testing.B) {
	var mbox bytes.Buffer
	line := strings.Repeat("spam ", 15) + "\n"
	for i := range 2000 {
		fmt.Fprintf(&mbox, "From spammer%d@example.org Fri Jul  8 12:08:34 2011\n", i)
		fmt.Fprintf(&mbox, "Received: from [192.0.2.%d] by trap\nFrom: spammer%d@example.org\nSubject: offer\n\n", i%256, i)
		mbox.WriteString(strings.Repeat(line, 5000/len(line)))
		mbox.WriteString(">From the team\n\n")
	}
	path := write(b, b.TempDir(), "bench.mbox", mbox.Bytes())
	b.SetBytes(int64(mbox.Len()))
	b.ReportAllocs()
	for b.Loop() {
		var n int
		err := Walk(context.Background(), []string{path}, Options{}, func(Item) error { n++; return nil }, func(s Skipped) {
			b.Fatalf("skipped %+v", s)
		})
		if err != nil || n != 2000 {
			b.Fatalf("read %d messages, %v", n, err)
		}
	}
}

// Issue 18, finding 6: a symbolic link whose target is gone, among good files, is skipped and
// reported as "broken-symlink"; Size does not fail on it and the good files are read.
func TestBrokenSymlinkIsSkippedNotFatal(t *testing.T) {
	root := t.TempDir()
	good := write(t, root, "a.eml", []byte("Subject: a\n\n"))
	write(t, root, "c.mbox", []byte(twoMessages))
	if err := os.Symlink(filepath.Join(root, "gone.eml"), filepath.Join(root, "b-dangling.eml")); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(good)
	mbox, _ := os.Stat(filepath.Join(root, "c.mbox"))
	if size := Size([]string{root}); size != info.Size()+mbox.Size() {
		t.Errorf("Size = %d, want %d", size, info.Size()+mbox.Size())
	}
	got := contents(walk(t, root, []string{root}, Options{}))
	want := []string{"Subject: a\n\n", "skip:broken-symlink", twoMessagesData[0], twoMessagesData[1]}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// Issue 18, finding 18: a gzip stream still being written (flushed, no trailer yet) is read up
// to where it ends, and what it ends inside is reported as "incomplete-gzip", not as corrupt.
func TestStillOpenGzipIsIncompleteNotCorrupt(t *testing.T) {
	root := t.TempDir()
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	for i := range 3 {
		fmt.Fprintf(zw, "%sSubject: %d\n\nbody\n\n", postmark1, i)
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	write(t, root, "open.mbox.gz", compressed.Bytes())
	got := contents(walk(t, root, []string{root}, Options{}))
	// The last message's end cannot be told from a cut inside it: it is read once the file is complete.
	want := []string{"Subject: 0\n\nbody\n", "Subject: 1\n\nbody\n", "skip:incomplete-gzip"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
