package replay

import (
	"strings"
	"testing"
)

func TestSummaryNamesIncompleteFiles(t *testing.T) {
	s := Summary{Imported: 5, Skipped: map[string]int{"incomplete-gzip": 1, "broken-symlink": 2},
		Incomplete: map[string]int{"/a/t-2026-01-02.mbox.gz": 5}}
	want := "imported 5 messages, skipped 3\n  broken-symlink           2\n  incomplete-gzip          1\n" +
		"/a/t-2026-01-02.mbox.gz: incomplete, still being written or cut short: 5 messages imported, not the one it ends in"
	if got := s.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(Summary{Skipped: map[string]int{}}.String(), "imported 0 messages, skipped 0") {
		t.Error("empty summary")
	}
}
