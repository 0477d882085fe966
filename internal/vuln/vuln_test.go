package vuln

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadFixture(t *testing.T) *Feed {
	t.Helper()
	f, err := Load(context.Background(), filepath.Join("testdata", "feed"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadFixture(t *testing.T) {
	f := loadFixture(t)
	// Eight records, one withdrawn; the index/ files are not records.
	if got := f.Records(); got != 7 {
		t.Errorf("Records() = %d, want 7", got)
	}
	if fs, _ := f.Match("example.com/withdrawn", "v1.0.0"); len(fs) != 0 {
		t.Errorf("withdrawn record matched: %+v", fs)
	}
	if fs, _ := f.Match("lastaff", "v1.2.0"); len(fs) != 0 {
		t.Errorf("npm entry matched as a Go module: %+v", fs)
	}
}

func TestMatch(t *testing.T) {
	f := loadFixture(t)
	tests := []struct {
		name, module, version string
		want                  []string // finding ids
		fixed                 string
		sev                   Severity
	}{
		{"before fixed", "example.com/lib", "v1.2.2", []string{"GHSA-aaaa-bbbb-cccc"}, "v1.2.3", SeverityModerate},
		{"at fixed", "example.com/lib", "v1.2.3", nil, "", 0},
		{"between ranges", "example.com/lib", "v1.2.9", nil, "", 0},
		{"second range introduced", "example.com/lib", "v1.3.0", []string{"GO-2024-0001"}, "v1.3.2", SeverityUnknown},
		{"second range inside", "example.com/lib", "v1.3.1", []string{"GO-2024-0001"}, "v1.3.2", SeverityUnknown},
		{"after last fix", "example.com/lib", "v1.4.0", nil, "", 0},
		{"prerelease before fix", "example.com/lib", "v1.2.3-rc.1", []string{"GHSA-aaaa-bbbb-cccc"}, "v1.2.3", SeverityModerate},
		{"pseudo-version before fix", "example.com/pseudo", "v0.0.0-20230101000000-123456789abc", []string{"GO-2024-0002"}, "v0.0.0-20230601000000-abcdefabcdef", SeverityUnknown},
		{"pseudo-version after fix", "example.com/pseudo", "v0.0.0-20240101000000-123456789abc", nil, "", 0},
		{"tagged after pseudo fix", "example.com/pseudo", "v0.1.0", nil, "", 0},
		{"incompatible inside", "github.com/old/thing", "v2.1.0+incompatible", []string{"GO-2024-0003"}, "v2.5.0", SeverityUnknown},
		{"incompatible before", "github.com/old/thing", "v1.9.0", nil, "", 0},
		{"incompatible at fix", "github.com/old/thing", "v2.5.0+incompatible", nil, "", 0},
		{"module path case", "github.com/Old/Thing", "v2.1.0+incompatible", []string{"GO-2024-0003"}, "v2.5.0", SeverityUnknown},
		{"last_affected inside", "example.com/lastaff", "v1.4.0", []string{"GO-2024-0004"}, "", SeverityCritical},
		{"last_affected after", "example.com/lastaff", "v1.4.1", nil, "", 0},
		{"last_affected before introduced", "example.com/lastaff", "v0.9.0", nil, "", 0},
		{"versions list", "example.com/versions", "v1.0.1", []string{"GO-2024-0007"}, "", SeverityCritical},
		{"versions list miss", "example.com/versions", "v1.0.2", nil, "", 0},
		{"stdlib go version", "stdlib", "go1.21.4", []string{"GO-2024-0006"}, "v1.21.5", SeverityUnknown},
		{"stdlib fixed", "stdlib", "go1.21.5", nil, "", 0},
		{"stdlib rc inside second range", "stdlib", "go1.22rc1", []string{"GO-2024-0006"}, "v1.22.1", SeverityUnknown},
		{"stdlib language version", "stdlib", "go1.22", []string{"GO-2024-0006"}, "v1.22.1", SeverityUnknown},
		{"stdlib with experiment", "stdlib", "go1.22.1 X:jsonv2", nil, "", 0},
		{"module not in feed", "example.com/other", "v1.0.0", nil, "", 0},
		{"version without v", "example.com/lib", "1.2.2", []string{"GHSA-aaaa-bbbb-cccc"}, "v1.2.3", SeverityModerate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, ok := f.Match(tt.module, tt.version)
			if !ok {
				t.Fatalf("Match(%s, %s): version not comparable", tt.module, tt.version)
			}
			var ids []string
			for _, fd := range fs {
				ids = append(ids, fd.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("Match(%s, %s) ids = %v, want %v", tt.module, tt.version, ids, tt.want)
			}
			if len(fs) == 0 {
				return
			}
			if fs[0].Fixed != tt.fixed {
				t.Errorf("Fixed = %q, want %q", fs[0].Fixed, tt.fixed)
			}
			if fs[0].Severity != tt.sev {
				t.Errorf("Severity = %v, want %v", fs[0].Severity, tt.sev)
			}
			if fs[0].Module != tt.module || fs[0].Version != tt.version {
				t.Errorf("finding names %s@%s, want %s@%s", fs[0].Module, fs[0].Version, tt.module, tt.version)
			}
		})
	}
}

// The Go vulndb record and the GHSA record of the same bug are one finding
// listing both ids and the CVE, graded by the GHSA record.
func TestMatchMergesAliases(t *testing.T) {
	fs, _ := loadFixture(t).Match("example.com/lib", "v1.0.0")
	if len(fs) != 1 {
		t.Fatalf("findings = %+v, want one", fs)
	}
	fd := fs[0]
	if fd.ID != "GHSA-aaaa-bbbb-cccc" || !slices.Equal(fd.Aliases, []string{"CVE-2024-0001", "GO-2024-0001"}) {
		t.Errorf("ID %s aliases %v", fd.ID, fd.Aliases)
	}
	if fd.Severity != SeverityModerate || fd.Fixed != "v1.2.3" {
		t.Errorf("severity %v fixed %s", fd.Severity, fd.Fixed)
	}
}

func TestMatchUncomparableVersion(t *testing.T) {
	f := loadFixture(t)
	for _, v := range []string{"", "devel go1.27-abcdef", "latest"} {
		if fs, ok := f.Match("example.com/lib", v); ok || fs != nil {
			t.Errorf("Match(lib, %q) = %v, %v; want nil, false", v, fs, ok)
		}
	}
	// A module the feed does not name needs no comparable version.
	if _, ok := f.Match("example.com/main", ""); !ok {
		t.Error("unknown module with empty version reported as uncomparable")
	}
}

func TestSeverityAtLeast(t *testing.T) {
	tests := []struct {
		s, threshold Severity
		want         bool
	}{
		{SeverityLow, SeverityLow, true},
		{SeverityLow, SeverityModerate, false},
		{SeverityModerate, SeverityModerate, true},
		{SeverityCritical, SeverityHigh, true},
		{SeverityUnknown, SeverityHigh, true},
		{SeverityUnknown, SeverityCritical, false},
		{SeverityUnknown, SeverityLow, true},
	}
	for _, tt := range tests {
		if got := tt.s.AtLeast(tt.threshold); got != tt.want {
			t.Errorf("%v.AtLeast(%v) = %v, want %v", tt.s, tt.threshold, got, tt.want)
		}
	}
	for in, want := range map[string]Severity{"low": SeverityLow, "MODERATE": SeverityModerate, "medium": SeverityModerate, " High ": SeverityHigh, "critical": SeverityCritical} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "unknown", "severe"} {
		if _, err := ParseSeverity(in); err == nil {
			t.Errorf("ParseSeverity(%q) accepted", in)
		}
	}
}

func writeFeed(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goRecord = `{"id":"GO-2025-0001","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"name":"example.com/x","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"%s"}]}]}]}`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"not JSON", map[string]string{"a.json": "{"}, "a.json"},
		{"empty file", map[string]string{"a.json": ""}, "empty file"},
		{"no id", map[string]string{"a.json": `{"modified":"2025-01-01T00:00:00Z"}`}, "without an id"},
		{"bad version", map[string]string{"a.json": strings.Replace(goRecord, "%s", "1.x", 1)}, `version "1.x" is not semver`},
		{"two fields in an event", map[string]string{"a.json": `{"id":"X-1","affected":[{"package":{"name":"m","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}`}, "must be 1"},
		{"bad versions entry", map[string]string{"a.json": `{"id":"X-1","affected":[{"package":{"name":"m","ecosystem":"Go"},"versions":["one"]}]}`}, `"one" is not semver`},
		{"Go package without name", map[string]string{"a.json": `{"id":"X-1","affected":[{"package":{"ecosystem":"Go"}}]}`}, "without a name"},
		{"wrong type", map[string]string{"a.json": `{"id":1}`}, "not an OSV record"},
		{"array with bad record", map[string]string{"a.json": `[{"id":"X-1"},{"id":""}]`}, "without an id"},
		{"too deep", map[string]string{"a.json": "[" + strings.Repeat("[", 100) + strings.Repeat("]", 101)}, "nested deeper"},
		{"nested database_specific too deep", map[string]string{"a.json": `{"id":"X-1","database_specific":` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100) + "}"}, "not an OSV record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFeed(t, tt.files)
			_, err := Load(context.Background(), dir)
			if err == nil {
				t.Fatal("Load accepted the feed")
			}
			if !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidFeed mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing feed: err = %v, want ErrNotExist", err)
	}
}

func TestLoadBounds(t *testing.T) {
	rec := strings.Replace(goRecord, "%s", "1.0.0", 1)
	dir := writeFeed(t, map[string]string{"a.json": rec, "b.json": strings.Replace(rec, "0001", "0002", 1)})
	ctx := context.Background()
	if _, err := (limits{fileBytes: 100, feedBytes: 1 << 20, records: 10}).load(ctx, dir); !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("file cap: %v", err)
	}
	if _, err := (limits{fileBytes: 1 << 20, feedBytes: int64(len(rec)) + 10, records: 10}).load(ctx, dir); !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "feed larger") {
		t.Errorf("feed cap: %v", err)
	}
	if _, err := (limits{fileBytes: 1 << 20, feedBytes: 1 << 20, records: 1}).load(ctx, dir); !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "more than 1 records") {
		t.Errorf("record cap: %v", err)
	}
	if f, err := (limits{fileBytes: 1 << 20, feedBytes: 1 << 20, records: 2}).load(ctx, dir); err != nil || f.Records() != 2 {
		t.Errorf("within bounds: %v", err)
	}
}

func TestLoadFileAndArray(t *testing.T) {
	rec1 := strings.Replace(goRecord, "%s", "1.0.0", 1)
	// The same id again, modified later, with a later fix: the later wins.
	rec1b := strings.Replace(strings.Replace(rec1, "2025-01-01", "2025-02-01", 1), `"fixed":"1.0.0"`, `"fixed":"2.0.0"`, 1)
	dir := writeFeed(t, map[string]string{
		"all.json":         "[" + rec1 + "," + rec1b + "]",
		"single.json":      strings.Replace(rec1, "0001", "0009", 1),
		".git/config.json": "not json",
		"notes.txt":        "not json",
	})
	f, err := Load(context.Background(), filepath.Join(dir, "all.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Records() != 1 || f.Source() != filepath.Join(dir, "all.json") {
		t.Errorf("records %d source %s", f.Records(), f.Source())
	}
	if fs, _ := f.Match("example.com/x", "v1.5.0"); len(fs) != 1 || fs[0].Fixed != "v2.0.0" {
		t.Errorf("later record not kept: %+v", fs)
	}
	f, err = Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Records() != 2 {
		t.Errorf("directory: records %d, want 2 (hidden dirs and non-JSON skipped)", f.Records())
	}
	empty, err := Load(context.Background(), t.TempDir())
	if err != nil || empty.Records() != 0 {
		t.Errorf("empty dir: %v, %v", empty, err)
	}
}

func TestSBOMComponents(t *testing.T) {
	sbom := `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
	  {"type":"file","name":"modules/a.wasm"},
	  {"type":"library","name":"example.com/lib","version":"v1.2.2","purl":"pkg:golang/example.com/lib@v1.2.2"},
	  {"type":"library","name":"thing","group":"github.com/Old","purl":"pkg:golang/github.com/Old/thing@v2.1.0%2Bincompatible?type=module#sub",
	   "components":[{"type":"library","name":"stdlib","purl":"pkg:golang/stdlib@go1.21.4"}]},
	  {"type":"library","name":"main","purl":"pkg:golang/example.com/main"},
	  {"type":"library","name":"left-pad","purl":"pkg:npm/left-pad@1.0.0"},
	  {"type":"library","name":"example.com/lib","purl":"pkg:golang/example.com/lib@v1.2.2"}
	]}`
	got, err := SBOMComponents([]byte(sbom))
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{
		{"example.com/lib", "v1.2.2"},
		{"github.com/Old/thing", "v2.1.0+incompatible"},
		{"stdlib", "go1.21.4"},
		{"example.com/main", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("components = %v, want %v", got, want)
	}
	findings, unmatched := loadFixture(t).Scan(got)
	var ids []string
	for _, fd := range findings {
		ids = append(ids, fd.Module+":"+fd.ID)
	}
	if w := []string{"example.com/lib:GHSA-aaaa-bbbb-cccc", "github.com/Old/thing:GO-2024-0003", "stdlib:GO-2024-0006"}; !slices.Equal(ids, w) {
		t.Errorf("Scan = %v, want %v", ids, w)
	}
	if len(unmatched) != 0 {
		t.Errorf("unmatched = %v", unmatched)
	}
	for _, bad := range []string{`{"components":{}}`, `[`, strings.Repeat("[", 100)} {
		if _, err := SBOMComponents([]byte(bad)); err == nil {
			t.Errorf("SBOMComponents(%.20q) accepted", bad)
		}
	}
}

func TestFindingJSON(t *testing.T) {
	b, err := json.Marshal(Finding{Module: "m", Version: "v1.0.0", ID: "GO-1", Severity: SeverityModerate})
	if err != nil || !strings.Contains(string(b), `"severity":"moderate"`) {
		t.Errorf("Finding JSON = %s, %v", b, err)
	}
}
