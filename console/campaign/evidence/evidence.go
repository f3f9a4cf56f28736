// Package evidence builds the evidence bundle of one campaign: its raw messages as the trap
// archived them, a manifest with every file's SHA-256 and each message's trap addresses, time,
// source and that source's country and network as placed then, and a summary a lawyer can read.
// The same inputs give the same bytes: nothing in a bundle depends on when or where it was built.
package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
)

// Input is what a bundle is made of.
type Input struct {
	Period   string
	Campaign campaign.Summary
	Keys     []campaign.Key
	Messages []campaign.Message // the campaign's stored messages, oldest first
	// Archives are the trap archives (or the files that were replayed) holding the raw messages.
	Archives []string
	Mailbox  mailbox.Options
	Rules    campaign.Rules // that linked the messages into the campaign
	Version  string         // of the spamgeo that builds the bundle
}

// Names of the files every bundle has.
const (
	ManifestFile = "manifest.json"
	SummaryFile  = "summary.html"
	SumsFile     = "SHA256SUMS" // sha256sum -c SHA256SUMS checks the bundle
	MessagesDir  = "messages"
)

// Manifest describes a bundle. Its JSON keys are snake_case, as in the rest of spamgeo's JSON.
type Manifest struct {
	Campaign string         `json:"campaign"`
	Period   string         `json:"period"`
	Keys     []campaign.Key `json:"keys"`
	// Messages counts the stored messages; Archived those whose raw message was found.
	Messages   int        `json:"messages"`
	Archived   int        `json:"archived"`
	Provenance Provenance `json:"provenance"`
	Entries    []Entry    `json:"entries"`
}

// Provenance says what a bundle was built from and how, so that it can be built again. It has
// no time of its own: the same inputs give the same bundle.
type Provenance struct {
	SpamgeoVersion string `json:"spamgeo_version"`
	// Archives are the archive files that held the bundle's messages, by name.
	Archives []ArchiveFile `json:"archives"`
	// GeoIPBuilds are the GeoIP database builds that placed the messages' sources and the
	// advertised hosts' addresses, sorted.
	GeoIPBuilds []string `json:"geoip_builds"`
	Query       Query    `json:"query"`
}

// ArchiveFile is one archive file: its path under the archive it was given in, starting with
// that archive's own name ("archive/2005-04-02.mbox.gz"; where the archive lies on the machine
// that built the bundle is left out), and the SHA-256 of the file as stored.
type ArchiveFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Query is what selected the bundle's messages: the period and campaign, the rules that linked
// messages into campaigns, and how the archive's mbox files were read.
type Query struct {
	Period          string   `json:"period"`
	Campaign        string   `json:"campaign"`
	MinSubjectWords int      `json:"min_subject_words"`
	MaxBodyDistance int      `json:"max_body_distance"`
	IgnoreDomains   []string `json:"ignore_domains"`
	MboxQuoting     string   `json:"mbox_quoting"`
}

// Entry is one message of the campaign.
type Entry struct {
	campaign.Message
	// File is the raw message's path in the bundle, the bytes the trap received, and SHA256 its
	// hash; both empty when the archives did not hold it.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Envelope is the SMTP transaction as the trap recorded it in its archive (sender, recipients
	// as given, TLS, client), absent for archives without records.
	Envelope *envelope.Envelope `json:"envelope,omitempty"`
}

// Build writes the bundle into dir, which must not exist yet or be an empty directory (or a
// symbolic link to one: the bundle goes where it points). The bundle is built in a new directory
// beside it and moved into place once complete, so a build that fails leaves nothing behind.
func Build(ctx context.Context, in Input, dir string) (*Manifest, error) {
	target, mode, exists, err := bundleTarget(dir)
	if err != nil {
		return nil, err
	}
	partial, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	defer os.RemoveAll(partial) // gone already once moved into place
	m, err := build(ctx, in, partial)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(partial, mode); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	// The empty directory makes way (os.Rename does not replace one); Remove fails if something
	// was put into it meanwhile.
	if exists {
		if err := os.Remove(target); err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
	}
	if err := os.Rename(partial, target); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return m, nil
}

// bundleTarget is where a bundle given dir goes, symbolic links followed, with the mode it gets
// and whether it is an empty directory already; the parents of a new one are made.
func bundleTarget(dir string) (target string, mode fs.FileMode, exists bool, err error) {
	if dir, err = filepath.Abs(dir); err != nil {
		return "", 0, false, err
	}
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(dir); lerr == nil {
			return "", 0, false, fmt.Errorf("%s is a symbolic link to nothing: %w", dir, err)
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
			return "", 0, false, err
		}
		parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
		return filepath.Join(parent, filepath.Base(dir)), 0o750, false, err
	}
	if err != nil {
		return "", 0, false, err
	}
	if !info.IsDir() {
		return "", 0, false, fmt.Errorf("%s is not a directory: a bundle goes into a new or empty directory", dir)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return "", 0, false, errors.Join(err, fmt.Errorf("%s is not empty: a bundle goes into a new directory", dir))
	}
	target, err = filepath.EvalSymlinks(dir)
	return target, info.Mode().Perm(), true, err
}

// build writes the bundle into the empty directory dir.
func build(ctx context.Context, in Input, dir string) (*Manifest, error) {
	if err := os.Mkdir(filepath.Join(dir, MessagesDir), 0o750); err != nil {
		return nil, err
	}
	m := &Manifest{Campaign: in.Campaign.ID, Period: in.Period, Keys: in.Keys, Messages: len(in.Messages)}
	index := map[string]int{}
	for i, msg := range in.Messages {
		index[msg.EventID] = i
		m.Entries = append(m.Entries, Entry{Message: msg})
	}
	limits := mailparse.DefaultLimits()
	held := map[string]bool{} // the archive files that held messages
	err := mailbox.Walk(ctx, in.Archives, in.Mailbox, func(it mailbox.Item) error {
		message, env, err := envelope.Unwrap(it.Data)
		if err != nil {
			return nil // replay skips it too: no stored message comes from it
		}
		i, ok := index[envelope.EventID(message, env, mailparse.Parse(message, limits))]
		if !ok || m.Entries[i].File != "" {
			return nil
		}
		held[it.Path] = true
		sum := sha256.Sum256(message)
		e := &m.Entries[i]
		e.File = fmt.Sprintf("%s/%06d-%s.eml", MessagesDir, i+1, e.EventID)
		e.SHA256 = hex.EncodeToString(sum[:])
		e.Envelope = env
		m.Archived++
		return os.WriteFile(filepath.Join(dir, e.File), message, 0o640)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("read archives: %w", err)
	}
	if m.Provenance, err = provenance(in, m.Entries, held); err != nil {
		return nil, err
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(manifest, '\n'), 0o640); err != nil {
		return nil, err
	}
	var summary bytes.Buffer
	if err := writeSummary(&summary, in, m); err != nil {
		return nil, fmt.Errorf("write summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), summary.Bytes(), 0o640); err != nil {
		return nil, err
	}
	return m, writeSums(dir)
}

func provenance(in Input, entries []Entry, held map[string]bool) (Provenance, error) {
	mboxQuoting := in.Mailbox.MboxQuoting
	if mboxQuoting == "" {
		mboxQuoting = mailbox.DefaultOptions().MboxQuoting
	}
	p := Provenance{SpamgeoVersion: in.Version, Archives: []ArchiveFile{}, GeoIPBuilds: []string{},
		Query: Query{Period: in.Period, Campaign: in.Campaign.ID, MinSubjectWords: in.Rules.MinSubjectWords,
			MaxBodyDistance: in.Rules.MaxSimhashDistance, IgnoreDomains: slices.Clone(in.Rules.IgnoreDomains),
			MboxQuoting: mboxQuoting}}
	if p.Query.IgnoreDomains == nil {
		p.Query.IgnoreDomains = []string{}
	}
	for path := range held {
		sum, err := fileSHA256(path)
		if err != nil {
			return p, fmt.Errorf("hash archive file: %w", err)
		}
		p.Archives = append(p.Archives, ArchiveFile{Name: archiveName(in.Archives, path), SHA256: sum})
	}
	slices.SortFunc(p.Archives, func(a, b ArchiveFile) int { return strings.Compare(a.Name, b.Name) })
	builds := map[string]bool{}
	// A build string names one database build, or several joined by "; " when the country and
	// the network came from different files.
	addBuilds := func(s string) {
		for b := range strings.SplitSeq(s, "; ") {
			if b != "" {
				builds[b] = true
			}
		}
	}
	for _, e := range entries {
		addBuilds(e.GeoIPBuild)
	}
	for _, h := range in.Campaign.Hosts {
		for _, a := range h.Addresses {
			for _, b := range a.GeoIPBuilds {
				addBuilds(b)
			}
		}
	}
	p.GeoIPBuilds = append(p.GeoIPBuilds, slices.Sorted(maps.Keys(builds))...)
	return p, nil
}

// archiveName names an archive file by its path under the archive given that holds it,
// starting with that archive's own name: "archive/2005/04-02.mbox.gz", "2005.mbox.gz".
func archiveName(archives []string, path string) string {
	for _, a := range archives {
		rel, err := filepath.Rel(a, path)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(filepath.Join(filepath.Base(filepath.Clean(a)), rel))
		}
	}
	return filepath.Base(path)
}

// writeSums hashes every file of the bundle into SHA256SUMS, in sha256sum's format, sorted.
func writeSums(dir string) error {
	files, err := bundleFiles(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, f := range files {
		sum, err := fileSHA256(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, f)
	}
	return os.WriteFile(filepath.Join(dir, SumsFile), []byte(b.String()), 0o640)
}

// bundleFiles lists the files under dir (a symbolic link to a bundle is followed) but SHA256SUMS,
// slash-separated and sorted.
func bundleFiles(dir string) ([]string, error) {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err == nil && rel != SumsFile {
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	slices.Sort(out)
	return out, err
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// Verify checks a bundle: every file SHA256SUMS lists has its hash, no file is missing from it,
// and every archived message the manifest lists has the hash the manifest gives.
func Verify(dir string) error {
	sums, err := os.Open(filepath.Join(dir, SumsFile))
	if err != nil {
		return err
	}
	defer sums.Close()
	listed := map[string]string{}
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			return fmt.Errorf("%s: malformed line %q", SumsFile, sc.Text())
		}
		listed[name] = sum
	}
	if err := sc.Err(); err != nil {
		return err
	}
	files, err := bundleFiles(dir)
	if err != nil {
		return err
	}
	var problems []error
	for _, f := range files {
		want, ok := listed[f]
		if !ok {
			problems = append(problems, fmt.Errorf("%s is not in %s", f, SumsFile))
			continue
		}
		delete(listed, f)
		if got, err := fileSHA256(filepath.Join(dir, f)); err != nil || got != want {
			problems = append(problems, fmt.Errorf("%s: sha256 %s, %s says %s (%v)", f, got, SumsFile, want, err))
		}
	}
	for f := range listed {
		problems = append(problems, fmt.Errorf("%s is listed in %s but missing", f, SumsFile))
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return errors.Join(append(problems, err)...)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return errors.Join(append(problems, fmt.Errorf("%s: %w", ManifestFile, err))...)
	}
	for _, e := range m.Entries {
		if e.File == "" {
			continue
		}
		if got, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(e.File))); err != nil || got != e.SHA256 {
			problems = append(problems, fmt.Errorf("%s: sha256 %s, manifest says %s (%v)", e.File, got, e.SHA256, err))
		}
	}
	return errors.Join(problems...)
}
