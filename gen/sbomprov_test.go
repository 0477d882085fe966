package gen

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"
)

func fileSHA256(t testing.TB, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// globZip is github.com/gobwas/glob v0.2.3's zip in the module cache the
// test builds use.
func globZip(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "cache", "download", "github.com", "gobwas", "glob", "@v", "v0.2.3.zip")
}

// TestModuleZipSHA256 looks module zips up in a module cache made for the
// test, holding a real zip whose SHA-256 and dirhash are known: the SHA-256
// is given only for the zip go.sum's dirhash names.
func TestModuleZipSHA256(t *testing.T) {
	cache := t.TempDir()
	// An upper-case path is stored case-encoded (!foo) in the cache.
	zipDir := filepath.Join(cache, "cache", "download", "example.com", "!foo", "@v")
	if err := os.MkdirAll(zipDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"example.com/Foo@v1.0.0/go.mod": "module example.com/Foo\n",
		"example.com/Foo@v1.0.0/foo.go": "package foo\n",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(zipDir, "v1.0.0.zip")
	if err := os.WriteFile(zipFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	wantSHA := fileSHA256(t, zipFile)
	sum, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	if "h1:"+wantSHA == sum {
		t.Fatal("test zip's SHA-256 and dirhash coincide")
	}
	for _, tc := range []struct {
		name, cache, path, version, sum, want string
	}{
		{"zip whose dirhash is go.sum's", cache, "example.com/Foo", "v1.0.0", sum, wantSHA},
		{"zip whose dirhash is not go.sum's", cache, "example.com/Foo", "v1.0.0", "h1:A4xDbljILXROh+kObIiy5kIaPYD8e96x1tgBhUI5J+Y=", ""},
		{"no zip for that version", cache, "example.com/Foo", "v1.0.1", sum, ""},
		{"path not case-encoded in the cache", cache, "example.com/foo", "v1.0.0", sum, ""},
		{"no version (main module, local replace)", cache, "example.com/Foo", "", sum, ""},
		{"no module cache", "", "example.com/Foo", "v1.0.0", sum, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := moduleZipSHA256(tc.cache, tc.path, tc.version, tc.sum)
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}}
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"released", debug.BuildInfo{Main: debug.Module{Path: PalyraModule, Version: "v1.4.0"}, Settings: rev}, "v1.4.0"},
		{"checkout with vcs", debug.BuildInfo{Main: debug.Module{Path: PalyraModule, Version: "(devel)"}, Settings: rev}, "(devel)+0123abc"},
		{"dirty checkout", debug.BuildInfo{Main: debug.Module{Path: PalyraModule, Version: "(devel)"},
			Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "(devel)+0123abc-dirty"},
		{"no vcs (go test, -buildvcs=false)", debug.BuildInfo{Main: debug.Module{Path: PalyraModule}}, "(devel)"},
		{"dependency of a tool module", debug.BuildInfo{Main: debug.Module{Path: "example.com/tools"},
			Deps: []*debug.Module{{Path: PalyraModule, Version: "v1.3.2"}}, Settings: rev}, "v1.3.2"},
		{"replaced dependency", debug.BuildInfo{Main: debug.Module{Path: "example.com/tools"},
			Deps: []*debug.Module{{Path: PalyraModule, Version: "v1.3.2", Replace: &debug.Module{Path: "../palyra-go"}}}, Settings: rev}, "v1.3.2"},
		{"not in the build", debug.BuildInfo{Main: debug.Module{Path: "example.com/tools"}, Settings: rev}, "(devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionFromBuildInfo(&tc.bi); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
		})
	}
	if v := GenVersion(); v == "" || v != GenVersion() {
		t.Errorf("GenVersion() = %q, not stable", v)
	}
}

// TestPackageRunTimes packages without SOURCE_DATE_EPOCH: the provenance
// then records the real run — it started no later than the recorded Go
// build and finished after it, the two times differ, and each package gets
// a fresh random invocation id.
func TestPackageRunTimes(t *testing.T) {
	dir, built := builtSkill(t)
	_, key := newKey(t)
	t.Setenv("SOURCE_DATE_EPOCH", "")
	before := time.Now()
	var ids []string
	for _, name := range []string{"a", "b"} {
		res, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: filepath.Join(t.TempDir(), name+".palyra-skill")})
		if err != nil {
			t.Fatal(err)
		}
		md := parseProvenance(t, openArtifact(t, res.File)).Provenance.GetRunDetails().GetMetadata()
		started, finished := md.GetStartedOn().AsTime(), md.GetFinishedOn().AsTime()
		if !started.Equal(built.StartedOn) {
			t.Errorf("startedOn %v, want the recorded build's start %v", started, built.StartedOn)
		}
		if !finished.After(before) || !finished.After(started) || finished.After(time.Now()) {
			t.Errorf("finishedOn %v: want after this package began (%v) and after startedOn %v", finished, before, started)
		}
		id := md.GetInvocationId()
		if !strings.HasPrefix(id, "urn:uuid:") || len(id) != len("urn:uuid:")+36 || id[23] != '4' {
			t.Errorf("invocationId = %q, want a random urn:uuid", id)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two packages share invocationId %s", ids[0])
	}
}
