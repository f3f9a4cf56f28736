package validate

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoPath is the absolute path of a file of the repository.
func repoPath(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The roles deployed, with the setting that holds each one's metrics address.
var longRunning = map[string]string{
	"trap":   "trap-metrics-listen",
	"enrich": "enrich-metrics-listen",
	"sink":   "sink-metrics-listen",
	"serve":  "serve-metrics-listen",
}

// settings is deploy/config/spamgeo.yaml as spamgeo reads it: nested keys joined by dashes.
type settings map[string]any

func siteSettings(t *testing.T) settings {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "deploy", "config", "spamgeo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	s := settings{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if child, ok := v.(map[string]any); ok {
				walk(prefix+k+"-", child)
			} else {
				s[prefix+k] = v
			}
		}
	}
	walk("", doc)
	return s
}

func (s settings) str(t *testing.T, key string) string {
	t.Helper()
	v, ok := s[key].(string)
	if !ok {
		t.Fatalf("spamgeo.yaml: %s is %v, not a string", key, s[key])
	}
	return v
}

func (s settings) list(t *testing.T, key string) []string {
	t.Helper()
	v, ok := s[key].([]any)
	if !ok {
		t.Fatalf("spamgeo.yaml: %s is %v, not a list", key, s[key])
	}
	out := make([]string, len(v))
	for i, e := range v {
		out[i] = fmt.Sprint(e)
	}
	return out
}

// port is the port of a host:port setting (or of a list of one).
func (s settings) port(t *testing.T, key string) int {
	t.Helper()
	switch v := s[key].(type) {
	case string:
		return portOf(t, v)
	case []any:
		if len(v) == 1 {
			return portOf(t, fmt.Sprint(v[0]))
		}
	}
	t.Fatalf("spamgeo.yaml: %s is %v, not one address", key, s[key])
	return 0
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}
