package validate

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
)

// offlineImages answers BuildKit's questions about base images without a registry: every image
// is a linux/amd64 image of one layer and no settings.
type offlineImages struct{ refs []string }

func (o *offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	o.refs = append(o.refs, ref)
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}},
	})
	return ref, "", config, err
}

// lintDockerfile runs what `docker build --check` runs: BuildKit's Dockerfile frontend converts
// every stage and reports its lint rules' warnings and any error.
func lintDockerfile(t *testing.T, dockerfile []byte) (*lint.LintResults, []string) {
	t.Helper()
	images := &offlineImages{}
	source := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", dockerfile)
	source.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dockerfile, dockerfile2llb.ConvertOpt{MetaResolver: images, SourceMap: source})
	if err != nil {
		t.Fatal(err)
	}
	return res, images.refs
}

func readDockerfile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Dockerfile passes BuildKit's linter, and its builder is the Go release go.mod names.
func TestDockerfileLint(t *testing.T) {
	res, refs := lintDockerfile(t, readDockerfile(t))
	if res.Error != nil {
		t.Fatalf("BuildKit: %s", res.Error.Message)
	}
	for _, w := range res.Warnings {
		t.Errorf("BuildKit lint %s: %s", w.RuleName, w.Detail)
	}
	gomod, err := os.ReadFile(repoPath(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !slices.ContainsFunc(refs, func(r string) bool { return strings.Contains(r, "/golang:"+string(goVersion[1])+"-") }) {
		t.Errorf("base images %v: none is the Go release of go.mod (%s)", refs, goVersion)
	}
}

func stages(t *testing.T, dockerfile []byte) []instructions.Stage {
	t.Helper()
	ast, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The image holds the binary alone, runs it as a user that is not root, and exposes the ports
// the site's settings listen on.
func TestDockerfileImage(t *testing.T) {
	all := stages(t, readDockerfile(t))
	final := all[len(all)-1]
	if final.BaseName != "scratch" {
		t.Errorf("final stage from %s, want scratch", final.BaseName)
	}
	var user string
	var exposed []int
	var entrypoint []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				n, err := strconv.Atoi(p)
				if err != nil {
					t.Fatalf("EXPOSE %s", p)
				}
				exposed = append(exposed, n)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: there is no shell in the image")
			}
			entrypoint = c.CmdLine
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: the image runs as root", user)
	}
	if !slices.Equal(entrypoint, []string{"/usr/local/bin/spamgeo"}) {
		t.Errorf("ENTRYPOINT %v", entrypoint)
	}
	cfg := siteSettings(t)
	want := []int{cfg.port(t, "trap-listen"), cfg.port(t, "serve-listen")}
	for _, key := range longRunning {
		want = append(want, cfg.port(t, key))
	}
	slices.Sort(want)
	slices.Sort(exposed)
	if !slices.Equal(exposed, want) {
		t.Errorf("EXPOSE %v, the settings listen on %v", exposed, want)
	}
}

// buildContext copies the files docker would send as the build context (the work tree less
// what .dockerignore excludes) to a new directory.
func buildContext(t *testing.T, dockerignore []byte) string {
	t.Helper()
	patterns, err := ignorefile.ReadAll(bytes.NewReader(dockerignore))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	root := repoPath(t)
	files, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		excluded, err := pm.MatchesOrParentMatches(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if excluded || os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildCommand is the builder stage's RUN that installs the binary, and the directory its ENV
// GOBIN puts it in.
func buildCommand(t *testing.T, dockerfile []byte) (run, gobin string) {
	t.Helper()
	for _, s := range stages(t, dockerfile) {
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if kv.Key == "GOBIN" {
						gobin = kv.Value
					}
				}
			case *instructions.RunCommand:
				if line := strings.Join(c.CmdLine, " "); strings.Contains(line, "go install") {
					if !c.PrependShell {
						t.Fatalf("RUN %v in exec form", c.CmdLine)
					}
					run = line
				}
			}
		}
	}
	if run == "" || gobin == "" {
		t.Fatalf("no RUN go install (%q) or ENV GOBIN (%q) in the Dockerfile", run, gobin)
	}
	return run, gobin
}

// runBuild runs the Dockerfile's build command as its RUN does (sh -c, in WORKDIR holding the
// context, with its ARG VERSION and ENV GOBIN), here, with this machine's Go and module cache.
func runBuild(t *testing.T, context, run, gobin string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", run)
	cmd.Dir = context
	cmd.Env = append(os.Environ(), "VERSION=validate-1.2.3", "GOBIN="+gobin, "GOFLAGS=", "GOTOOLCHAIN=local")
	return cmd.CombinedOutput()
}

// The exact command the Dockerfile builds with, run on exactly the context .dockerignore lets
// through, makes a static binary (no interpreter, no shared library: it runs in an empty image)
// that reports the version it was given.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	dockerfile := readDockerfile(t)
	run, _ := buildCommand(t, dockerfile)
	if !strings.Contains(run, "CGO_ENABLED=0") || !strings.Contains(run, "-trimpath") || !strings.Contains(run, "-X main.version=${VERSION}") {
		t.Errorf("build command %q: want CGO_ENABLED=0, -trimpath and the version", run)
	}
	dockerignore, err := os.ReadFile(repoPath(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	if out, err := runBuild(t, buildContext(t, dockerignore), run, gobin); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, out)
	}
	bin := filepath.Join(gobin, "spamgeo")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	dynamic := len(libs) > 0 || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	if dynamic {
		t.Errorf("%s is dynamically linked (%v)", bin, libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "validate-1.2.3" {
		t.Errorf("spamgeo --version: %q, %v", out, err)
	}
}

// The checks above can fail: BuildKit refuses an unknown instruction and warns of a rule broken,
// and a .dockerignore that leaves out a package the binary needs fails the build.
func TestDockerfileValidatorsRefuseBrokenCopies(t *testing.T) {
	src := readDockerfile(t)
	res, _ := lintDockerfile(t, bytes.Replace(src, []byte("\nRUN mkdir"), []byte("\nRUNN mkdir"), 1))
	if res.Error == nil {
		t.Error("BuildKit accepted RUNN")
	} else {
		t.Logf("RUNN: %s", res.Error.Message)
	}
	res, _ = lintDockerfile(t, bytes.Replace(src, []byte(" AS build"), []byte(" as build"), 1))
	if res.Error != nil || len(res.Warnings) == 0 {
		t.Errorf("BuildKit's linter let FROM ... as pass: %+v", res)
	} else {
		t.Logf("FROM ... as: %s", res.Warnings[0].RuleName)
	}

	dockerignore, err := os.ReadFile(repoPath(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	run, _ := buildCommand(t, src)
	if out, err := runBuild(t, buildContext(t, append(dockerignore, "schemas\n"...)), run, t.TempDir()); err == nil {
		t.Error("built without schemas/")
	} else {
		t.Logf("without schemas/: %s", bytes.TrimSpace(out))
	}
}
