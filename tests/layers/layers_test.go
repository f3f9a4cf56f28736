// Package layers checks the import rules of docs/architecture.md on the whole module: every
// package sits in one layer and imports only from the layers that layer builds on. `make lint`
// runs it, so a violation fails before any other test.
package layers

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/spamgeo/spamgeo/"

// layer is the layer of a package path inside the module: its top-level folder, but for the
// test hub, whose helpers start migrated ClickHouse databases and so sit above storage.
func layer(path string) string {
	if path == "internal/testenv" || strings.HasPrefix(path, "internal/testenv/") {
		return "testenv"
	}
	top, _, _ := strings.Cut(path, "/")
	return top
}

// mayImport lists, for each layer, the layers its packages may import (its own always). The
// ingest and contract layers (internal, schemas, mail) and the ClickHouse home (storage) are
// below everything; the stages and the read side build on them and never on each other; only
// cmd wires them together, and only benchmarks and integration suites may reach everything.
var mayImport = map[string][]string{
	"internal":  {},
	"schemas":   {"internal"},
	"mail":      {"internal", "schemas"},
	"storage":   {"internal", "schemas"},
	"testenv":   {"internal", "schemas", "storage"},
	"producers": {"internal", "schemas", "mail", "storage", "testenv"},
	"consumers": {"internal", "schemas", "mail", "storage", "testenv"},
	"console":   {"internal", "schemas", "mail", "storage", "testenv"},
	"cmd":       {"internal", "schemas", "mail", "storage", "testenv", "producers", "consumers", "console"},
	"bench":     {"internal", "schemas", "mail", "storage", "testenv", "producers", "consumers", "console"},
	"tests":     {"internal", "schemas", "mail", "storage", "testenv", "producers", "consumers", "console"},
	"deploy":    {"internal", "schemas", "mail", "storage", "testenv", "producers", "consumers", "console"},
}

// testMayImport is what a layer's tests may import besides: the test hub, and the stages upstream
// in the data flow, to make their input the way it is made in production (the enricher's
// benchmark draws raw events from the synthetic generator).
var testMayImport = map[string][]string{
	"consumers": {"producers"},
}

// violations checks imports (package -> imported packages, paths inside the module), those of
// the packages' code and those of their tests.
func violations(imports, testImports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		from := layer(pkg)
		allowed, known := mayImport[from]
		if !known {
			out = append(out, fmt.Sprintf("%s: top-level folder %q has no layer in tests/layers", pkg, from))
			continue
		}
		check := func(deps []string, allowed []string, what string) {
			for _, dep := range deps {
				if to := layer(dep); to != from && !slices.Contains(allowed, to) {
					out = append(out, fmt.Sprintf("%s (%s)%s imports %s (%s)", pkg, from, what, dep, to))
				}
			}
		}
		check(deps, allowed, "")
		check(testImports[pkg], append(append([]string{"testenv"}, allowed...), testMayImport[from]...), ", in a test,")
	}
	return out
}

// inModule keeps the imports of pkg that are other packages of the module, without the prefix.
func inModule(imports []string, pkg string) []string {
	var out []string
	for _, dep := range imports {
		if dep, ok := strings.CutPrefix(dep, module); ok && dep != pkg {
			out = append(out, dep)
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports, testImports := map[string][]string{}, map[string][]string{}
	d := json.NewDecoder(strings.NewReader(string(out)))
	for d.More() {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := d.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		imports[pkg] = inModule(p.Imports, pkg)
		testImports[pkg] = inModule(append(p.TestImports, p.XTestImports...), pkg)
	}
	if len(imports) < 40 {
		t.Fatalf("go list found %d packages; the module has more", len(imports))
	}
	for _, v := range violations(imports, testImports) {
		t.Error(v)
	}
}

// The rules catch what they are for: a stage reaching into the read side, the read side into a
// stage, storage into the read side, an unknown top-level folder.
func TestViolationsAreFound(t *testing.T) {
	got := violations(map[string][]string{
		"consumers/sink":     {"console/query", "storage/queries"},
		"console/report":     {"producers/trap"},
		"storage/audit":      {"console/query"},
		"mail/keys":          {"schemas/event"},
		"newfolder/thing":    nil,
		"internal/testenv":   {"storage/migrations"},
		"internal/countries": {"internal/testenv"},
		"consumers/enrich":   nil,
		"console/serve":      nil,
	}, map[string][]string{
		"internal/countries": {"internal/testenv"},
		"consumers/enrich":   {"producers/synth", "internal/testenv"},
		"console/serve":      {"consumers/sink"},
	})
	want := []string{
		"consumers/sink (consumers) imports console/query (console)",
		"console/report (console) imports producers/trap (producers)",
		"storage/audit (storage) imports console/query (console)",
		`newfolder/thing: top-level folder "newfolder" has no layer in tests/layers`,
		"internal/countries (internal) imports internal/testenv (testenv)",
		"console/serve (console), in a test, imports consumers/sink (consumers)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in %q", w, got)
		}
	}
}
