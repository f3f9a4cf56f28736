package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/mail/envelope"
	"github.com/spamgeo/spamgeo/mail/mailbox"
	"github.com/spamgeo/spamgeo/mail/mailparse"
)

func message(i int) string {
	return fmt.Sprintf("Received: from [192.0.2.%d] by trap.example; Sat, 2 Apr 2005 10:0%d:00 +0000\n"+
		"Delivered-To: a@trap.example\nFrom: <seller@pills.example>\nSubject: Cheap pills now %d\n"+
		"Message-ID: <%d@pills.example>\nDate: Sat, 2 Apr 2005 10:0%d:00 +0000\n\nBuy at http://pills.example/%d\n", i, i, i, i, i, i)
}

// writeArchive writes a trap archive under dir/archive: an mbox of three messages and one
// single-message file, and one file with no message of the campaign.
func writeArchive(t *testing.T, dir string) string {
	t.Helper()
	archive := filepath.Join(dir, "archive")
	if err := os.MkdirAll(filepath.Join(archive, "2005"), 0o750); err != nil {
		t.Fatal(err)
	}
	var mbox bytes.Buffer
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&mbox, "From seller@pills.example Sat Apr  2 10:0%d:00 2005\n%s\n", i, message(i))
	}
	for name, content := range map[string]string{"2005/04-02.mbox": mbox.String(), "2005/04-03.eml": message(4),
		"2005/04-04.eml": message(9)} {
		if err := os.WriteFile(filepath.Join(archive, filepath.FromSlash(name)), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return archive
}

// input is a campaign of five stored messages, four of them in the archive, placed by two
// GeoIP builds, with one advertised host resolved by a third.
func input(t *testing.T, archive string) Input {
	t.Helper()
	var ids []string
	err := mailbox.Walk(context.Background(), []string{archive}, mailbox.DefaultOptions(), func(it mailbox.Item) error {
		if !bytes.Contains(it.Data, []byte("Cheap pills now 9")) {
			ids = append(ids, envelope.EventID(it.Data, nil, mailparse.Parse(it.Data, mailparse.DefaultLimits())))
		}
		return nil
	}, nil)
	if err != nil || len(ids) != 4 {
		t.Fatalf("%d messages in the archive: %v", len(ids), err)
	}
	ids = append(ids, "00000000-0000-0000-0000-00000000dead") // stored, not archived
	in := Input{Period: "2005-04", Archives: []string{archive}, Version: "v1.2.3",
		Keys:  []campaign.Key{{Kind: campaign.KindDomain, Value: "pills.example"}},
		Rules: campaign.DefaultRules(),
		Campaign: campaign.Summary{ID: "b82465470e9b", Messages: 5, ASNs: 1, Domains: []string{"pills.example"},
			Hosts: []campaign.Host{{Name: "pills.example", Domain: "pills.example", Addresses: []campaign.Address{{
				IP: netip.MustParseAddr("198.51.100.7"), Country: "CN", ASN: 4134, ASOrg: "Chinanet",
				GeoIPBuilds: []string{"country dbip@2005-06-01"}}}}}}}
	for i, id := range ids {
		build := "country dbip@2005-04-01; asn.csv#76afd7f575bc"
		if i == 3 {
			build = "country dbip@2005-05-01; asn.csv#76afd7f575bc"
		}
		in.Messages = append(in.Messages, campaign.Message{EventID: id, ReceivedAt: time.Date(2005, 4, 2, 10, i, 0, 0, time.UTC),
			TrapID: "t1", Recipients: []string{"a@trap.example"}, SourceIP: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1)),
			Country: "US", ASN: 64500, ASOrg: "Example", GeoIPBuild: build, Subject: fmt.Sprintf("Cheap pills now %d", i+1)})
	}
	return in
}

// files reads every file of a bundle, by its slash-separated path.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := bundleFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range append(names, SumsFile) {
		if out[n], err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(n))); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The same inputs give the same bundle byte for byte, even from a copy of the archive kept
// elsewhere and built a moment later.
func TestBuildTwiceSameBytes(t *testing.T) {
	ctx := context.Background()
	first, second := t.TempDir(), t.TempDir()
	a, b := filepath.Join(first, "bundle"), filepath.Join(second, "bundle")
	if _, err := Build(ctx, input(t, writeArchive(t, first)), a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a time of building would show
	if _, err := Build(ctx, input(t, writeArchive(t, second)), b); err != nil {
		t.Fatal(err)
	}
	fa, fb := files(t, a), files(t, b)
	if want := []string{ManifestFile, SumsFile, SummaryFile}; len(fa) != len(want)+4 {
		t.Errorf("bundle files %v, want %v and 4 messages", slices.Sorted(maps.Keys(fa)), want)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(fa)), slices.Sorted(maps.Keys(fb))) {
		t.Fatalf("two builds have different files: %v and %v", slices.Sorted(maps.Keys(fa)), slices.Sorted(maps.Keys(fb)))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two builds:\n%s\n---\n%s", name, data, fb[name])
		}
	}
	if err := Verify(a); err != nil {
		t.Errorf("the bundle does not verify: %v", err)
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// Every key of manifest.json is snake_case, and the provenance block names the version, the
// archive files that held messages with their hashes, the GeoIP builds and the query.
func TestManifestKeys(t *testing.T) {
	dir := t.TempDir()
	archive := writeArchive(t, dir)
	m, err := Build(context.Background(), input(t, archive), filepath.Join(dir, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bundle", ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if !snakeCase.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, child)
			}
		case []any:
			for _, child := range v {
				walk(path+"[]", child)
			}
		}
	}
	walk("manifest", doc)
	keys := func(v any) []string { return slices.Sorted(maps.Keys(v.(map[string]any))) }
	provenance := doc["provenance"].(map[string]any)
	entry := doc["entries"].([]any)[0]
	for name, c := range map[string]struct {
		got, want []string
	}{
		"manifest":   {keys(doc), []string{"archived", "campaign", "entries", "keys", "messages", "period", "provenance"}},
		"provenance": {keys(provenance), []string{"archives", "geoip_builds", "query", "spamgeo_version"}},
		"query": {keys(provenance["query"]), []string{"campaign", "ignore_domains", "max_body_distance", "mbox_quoting",
			"min_subject_words", "period"}},
		"archive":  {keys(provenance["archives"].([]any)[0]), []string{"name", "sha256"}},
		"key":      {keys(doc["keys"].([]any)[0]), []string{"kind", "value"}},
		"an entry": {keys(entry), []string{"as_org", "asn", "body_sha256", "collector", "country", "event_id", "file", "geoip_build", "message_id", "received_at", "sha256", "source_ip", "subject", "trap_addresses", "trap_id", "url_hosts"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s keys %v, want %v", name, c.got, c.want)
		}
	}

	p := m.Provenance
	sum := func(name string) string {
		data, err := os.ReadFile(filepath.Join(archive, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(data)
		return hex.EncodeToString(s[:])
	}
	// 2005/04-04.eml holds no message of the campaign.
	wantArchives := []ArchiveFile{{"archive/2005/04-02.mbox", sum("2005/04-02.mbox")}, {"archive/2005/04-03.eml", sum("2005/04-03.eml")}}
	if !slices.Equal(p.Archives, wantArchives) {
		t.Errorf("archives %v, want %v", p.Archives, wantArchives)
	}
	if want := []string{"asn.csv#76afd7f575bc", "country dbip@2005-04-01", "country dbip@2005-05-01", "country dbip@2005-06-01"}; !slices.Equal(p.GeoIPBuilds, want) {
		t.Errorf("GeoIP builds %q, want %q", p.GeoIPBuilds, want)
	}
	if want := (Query{Period: "2005-04", Campaign: "b82465470e9b", MinSubjectWords: 3, MaxBodyDistance: 6,
		IgnoreDomains: []string{"w3.org"}, MboxQuoting: "mboxrd"}); p.SpamgeoVersion != "v1.2.3" || !equalQuery(p.Query, want) {
		t.Errorf("version %q, query %+v; want v1.2.3 and %+v", p.SpamgeoVersion, p.Query, want)
	}
	if m.Messages != 5 || m.Archived != 4 {
		t.Errorf("%d messages, %d archived; want 5 and 4", m.Messages, m.Archived)
	}
}

func equalQuery(a, b Query) bool {
	return a.Period == b.Period && a.Campaign == b.Campaign && a.MinSubjectWords == b.MinSubjectWords &&
		a.MaxBodyDistance == b.MaxBodyDistance && slices.Equal(a.IgnoreDomains, b.IgnoreDomains) && a.MboxQuoting == b.MboxQuoting
}

// Issue 18, finding 13: --out may be a symbolic link to an empty directory; the bundle goes into
// the directory it points to, and verifies through the link.
func TestBuildIntoSymlinkToEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	in := input(t, writeArchive(t, dir))
	real, link := filepath.Join(dir, "case"), filepath.Join(dir, "link")
	if err := os.Mkdir(real, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("case", link); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), in, link); err != nil {
		t.Fatalf("Build into a link to an empty directory: %v", err)
	}
	if err := Verify(link); err != nil {
		t.Errorf("the bundle does not verify through the link: %v", err)
	}
	if err := Verify(real); err != nil {
		t.Errorf("the bundle does not verify: %v", err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v, %v", info, err)
	}
	if got := len(files(t, real)); got != 3+4 {
		t.Errorf("%d files in the bundle, want 7", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 { // archive, case, link: no leftover of the build
		t.Errorf("beside the bundle: %v", entries)
	}
}

// Issue 18, finding 13: a build that fails leaves no partial bundle, nor anything beside it; the
// empty directory it was to go into stays empty, and a new one is not made.
func TestFailedBuildLeavesNoPartialBundle(t *testing.T) {
	dir := t.TempDir()
	in := input(t, writeArchive(t, dir))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, out := range []string{empty, filepath.Join(dir, "new")} {
		if _, err := Build(canceled, in, out); err == nil {
			t.Fatalf("Build with a canceled context into %s succeeded", out)
		}
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the empty directory holds %v (%v) after a failed build", entries, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 { // archive and empty
		t.Errorf("after failed builds: %v", entries)
	}
	// Nor does it touch a directory that is not empty, or a file.
	if err := os.WriteFile(filepath.Join(empty, "x"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{empty, filepath.Join(empty, "x")} {
		if _, err := Build(context.Background(), in, out); err == nil {
			t.Errorf("Build into %s succeeded", out)
		}
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 1 {
		t.Errorf("the directory that was not empty holds %v", entries)
	}
}

// Issue 18, finding 7: a message of the trap's archive goes into the bundle as the trap received
// it, without the envelope record above it, which the manifest carries instead.
func TestBundleHoldsTheMessageAsReceived(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	message := []byte("Received: from [192.0.2.1] by trap.example; Sat, 2 Apr 2005 10:01:00 +0000\r\n" +
		"Subject: Cheap pills now\r\n\r\nFrom the desk of\r\nhttp://pills.example/\r\n")
	env := envelope.Envelope{Version: envelope.Version, EventID: "5b7d2f4e-1c3a-4e8b-9f60-2d1e7c9a8b01", TrapID: "t1",
		ReceivedAt: time.Date(2005, 4, 2, 10, 1, 0, 123, time.UTC), SourceIP: netip.MustParseAddr("81.2.69.160"),
		SourceRule: "smtp-client", HELO: "bot", MailFrom: "Seller@pills.example", Recipients: []envelope.Text{"A@trap.example", "用户@trap.example"},
		TLS: true, Size: int64(len(message))}
	entry, err := envelope.Append([]byte("From Seller@pills.example Sat Apr  2 10:01:00 2005\n"), env, "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	entry = append(append(entry, bytes.ReplaceAll(message, []byte("\nFrom the"), []byte("\n>From the"))...), '\n')
	if err := os.MkdirAll(archive, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(archive, "t1-2005-04-02.mbox"), entry, 0o640); err != nil {
		t.Fatal(err)
	}
	in := input(t, writeArchive(t, t.TempDir()))
	in.Archives, in.Messages = []string{archive}, in.Messages[:1]
	in.Messages[0].EventID = env.EventID
	out := filepath.Join(dir, "bundle")
	m, err := Build(context.Background(), in, out)
	if err != nil {
		t.Fatal(err)
	}
	e := m.Entries[0]
	got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(e.File)))
	if err != nil || !bytes.Equal(got, message) {
		t.Errorf("bundled message %q (%v), want the bytes received %q", got, err, message)
	}
	if sum := sha256.Sum256(message); e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("entry sha256 %s, want that of the message", e.SHA256)
	}
	if e.Envelope == nil || e.Envelope.MailFrom != "Seller@pills.example" || !e.Envelope.TLS ||
		!slices.Equal(e.Envelope.RecipientStrings(), []string{"A@trap.example", "用户@trap.example"}) {
		t.Errorf("entry envelope %+v", e.Envelope)
	}
	if err := Verify(out); err != nil {
		t.Error(err)
	}
}
