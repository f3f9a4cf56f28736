package migrations

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	steps, err := split(`-- a file comment
CREATE TABLE a (x UInt8) -- trailing comment
ENGINE = Memory;

-- apply-if: SELECT 1
ALTER TABLE a ADD COLUMN y UInt8;  -- note after the semicolon
SELECT 2`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{SQL: "CREATE TABLE a (x UInt8)\nENGINE = Memory"},
		{Check: "SELECT 1", SQL: "ALTER TABLE a ADD COLUMN y UInt8"},
		{SQL: "SELECT 2"},
	}
	if !slices.Equal(steps, want) {
		t.Errorf("split =\n%q\nwant\n%q", steps, want)
	}
	for _, bad := range []string{"SELECT 1;\n-- apply-if: SELECT 1\n", "SELECT\n-- apply-if: SELECT 1\n1;"} {
		if _, err := split(bad); err == nil {
			t.Errorf("split(%q) accepted a misplaced check", bad)
		}
	}
}
