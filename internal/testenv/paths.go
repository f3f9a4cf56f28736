package testenv

import (
	"cmp"
	"os"
	"path/filepath"
	"testing"
)

// Path is a file of the repository given from its root (the folder of go.mod), so that a test
// names deploy/kafka.sh or docs/sql.md the same way wherever its package sits.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(append([]string{dir}, parts...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Local is a file under the local servers' state ($SPAMGEO_LOCAL, by default .local at the
// repository's root): GeoIP data, Kafka's jars, kept artifacts.
func Local(t testing.TB, parts ...string) string {
	t.Helper()
	root := cmp.Or(os.Getenv("SPAMGEO_LOCAL"), Path(t, ".local"))
	return filepath.Join(append([]string{root}, parts...)...)
}
