package gen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"

	"github.com/palyra/palyra-go/internal/manifest"
)

func TestBuildRecord(t *testing.T) {
	dir, res := builtSkill(t)
	rec := res.Record
	if rec.Path != "modules/echoskill.wasm" || res.File != filepath.Join(dir, "modules", "echoskill.wasm") {
		t.Errorf("module path %q, file %q", rec.Path, res.File)
	}
	wasm, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SHA256 != sha256Hex(wasm) || rec.Size != int64(len(wasm)) {
		t.Errorf("record sha256/size %s/%d, file %s/%d", rec.SHA256, rec.Size, sha256Hex(wasm), len(wasm))
	}
	if rec.MainPackage != "example.com/echoskill" || rec.GOOS != "wasip1" || rec.GOARCH != "wasm" {
		t.Errorf("record = %+v", rec)
	}
	if !strings.HasPrefix(rec.GoVersion, "go1.") {
		t.Errorf("go_version = %q", rec.GoVersion)
	}
	if strings.Join(rec.Flags, " ") != "-trimpath -buildvcs=false -buildmode=c-shared -ldflags=-buildid=" {
		t.Errorf("flags = %v", rec.Flags)
	}
	mods := map[string]GoModule{}
	for _, g := range rec.GoModules {
		mods[g.Path] = g
	}
	if len(mods) != 4 {
		t.Fatalf("go modules = %+v, want main, greet, glob, stdlib", rec.GoModules)
	}
	// glob came from the module proxy: its go.sum dirhash, and the SHA-256
	// of the very zip file in the module cache, which are different hashes.
	glob := mods["github.com/gobwas/glob"]
	if glob.Version != "v0.2.3" || glob.Sum != "h1:A4xDbljILXROh+kObIiy5kIaPYD8e96x1tgBhUI5J+Y=" ||
		glob.Dirhash != glob.Sum || glob.DirhashSource != DirhashGoSum {
		t.Errorf("glob = %+v", glob)
	}
	if want := fileSHA256(t, globZip(t)); glob.ZipSHA256 != want {
		t.Errorf("glob zip_sha256 = %q, want the module zip's SHA-256 %s", glob.ZipSHA256, want)
	}
	greet := mods["example.com/greet"]
	if greet.Replace == nil || greet.Replace.Path != "./greet" || greet.DirhashSource != DirhashCompiledFiles || greet.ZipSHA256 != "" {
		t.Errorf("greet = %+v", greet)
	}
	if want := summaryHash(t, filepath.Join(dir, "greet"), "greet.go"); greet.Dirhash != want {
		t.Errorf("greet dirhash = %s, want dirhash of greet.go %s", greet.Dirhash, want)
	}
	main := mods["example.com/echoskill"]
	if !main.Main || main.Version != "" || main.Dirhash != summaryHash(t, dir, "main.go") || main.ZipSHA256 != "" {
		t.Errorf("main module = %+v", main)
	}
	std := mods["stdlib"]
	if std.Version != rec.GoVersion || std.DirhashSource != DirhashCompiledFiles || !strings.HasPrefix(std.Dirhash, "h1:") || std.ZipSHA256 != "" {
		t.Errorf("stdlib = %+v", std)
	}
	if res.StartedOn.IsZero() || res.FinishedOn.Before(res.StartedOn) {
		t.Errorf("build times %v .. %v", res.StartedOn, res.FinishedOn)
	}
	if bt := readBuildTimes(dir)[rec.Path]; bt.SHA256 != rec.SHA256 || !bt.StartedOn.Equal(res.StartedOn) || !bt.FinishedOn.Equal(res.FinishedOn) {
		t.Errorf("%s entry = %+v, want the result's sha256 and times", BuildTimesPath, bt)
	}
	// The record on disk is what Build returned, with no machine paths.
	data, err := os.ReadFile(res.RecordFile)
	if err != nil {
		t.Fatal(err)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(dir)) || bytes.Contains(data, bytes.TrimSpace(goroot)) {
		t.Errorf("build record holds a machine path:\n%s", data)
	}
	br, err := ReadBuildRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := br.Module(rec.Path, rec.SHA256); !ok || got.SHA256 != rec.SHA256 || len(got.GoModules) != 4 {
		t.Errorf("ReadBuildRecord: %+v, %v", got, ok)
	}
}

// TestBuildRuns loads the built module into Extism's reference host and
// calls its tool: the build made a working Extism plugin.
func TestBuildRuns(t *testing.T) {
	_, res := builtSkill(t)
	wasm, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := extism.NewPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		// The interpreter: compiling 3 MB of Wasm to machine code costs more
		// than running two calls.
		extism.PluginConfig{EnableWasi: true, RuntimeConfig: wazero.NewRuntimeConfigInterpreter()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	for in, want := range map[string]string{"hi": "echo: hi", "palyra rocks": "match"} {
		_, out, err := p.Call("echo", []byte(in))
		if err != nil {
			t.Fatalf("echo(%q): %v", in, err)
		}
		if string(out) != want {
			t.Errorf("echo(%q) = %q, want %q", in, out, want)
		}
	}
}

// TestBuildReproducible builds the same sources again in place and in
// another directory (through the CLI): the Wasm is byte-identical and so is
// the record.
func TestBuildReproducible(t *testing.T) {
	dir, first := builtSkill(t)
	want, err := os.ReadFile(first.File)
	if err != nil {
		t.Fatal(err)
	}
	wantRecord, err := os.ReadFile(first.RecordFile)
	if err != nil {
		t.Fatal(err)
	}

	other := copySkill(t, "testdata/echoskill")
	var out bytes.Buffer
	cmd := Command()
	cmd.SetArgs([]string{"build", other, "--json"})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var res BuildResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("build --json output: %v\n%s", err, out.Bytes())
	}
	got, err := os.ReadFile(filepath.Join(other, "modules", "echoskill.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("wasm differs between builds in %s and %s", dir, other)
	}
	if res.Record.SHA256 != first.Record.SHA256 {
		t.Errorf("--json sha256 %s, want %s", res.Record.SHA256, first.Record.SHA256)
	}
	gotRecord, err := os.ReadFile(filepath.Join(other, filepath.FromSlash(BuildRecordPath)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotRecord, wantRecord) {
		t.Errorf("build records differ:\n%s\n---\n%s", wantRecord, gotRecord)
	}

	// Again in place, under GOFLAGS and GOWASM that change the output
	// when they leak through (checked by hand: -N and satconv both do), and
	// with a second module name: the record keeps both.
	t.Setenv("GOFLAGS", "-gcflags=all=-N")
	t.Setenv("GOWASM", "satconv")
	again, err := Build(context.Background(), other, BuildOptions{Name: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Record.SHA256 != first.Record.SHA256 {
		t.Errorf("rebuild under GOFLAGS/GOWASM: sha256 %s, want %s", again.Record.SHA256, first.Record.SHA256)
	}
	br, err := ReadBuildRecord(other)
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Modules) != 2 || br.Modules[0].Path != "modules/echoskill.wasm" || br.Modules[1].Path != "modules/second.wasm" {
		t.Errorf("record modules = %+v", br.Modules)
	}
	if left := tmpFiles(t, other); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestBuildErrors(t *testing.T) {
	goMod := "module example.com/bad\n\ngo 1.26\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		opts    BuildOptions
		wantErr error
		wantMsg string
	}{
		{"no skill.toml", map[string]string{"go.mod": goMod, "main.go": "package main\nfunc main() {}\n"},
			BuildOptions{}, ErrNoManifest, "skill.toml"},
		{"not main", map[string]string{"skill.toml": minimalSkillTOML, "go.mod": goMod, "lib.go": "package lib\n"},
			BuildOptions{}, ErrNotMain, "example.com/bad"},
		{"compile error", map[string]string{"skill.toml": minimalSkillTOML, "go.mod": goMod,
			"main.go": "package main\nfunc main() { undefinedThing() }\n"},
			BuildOptions{}, ErrGoBuild, "undefinedThing"},
		{"bad name", map[string]string{"skill.toml": minimalSkillTOML, "go.mod": goMod, "main.go": "package main\nfunc main() {}\n"},
			BuildOptions{Name: "../escape"}, ErrBadPath, "../escape"},
		{"bad skill.toml", map[string]string{"skill.toml": "skill_id = 3\n", "go.mod": goMod},
			BuildOptions{}, nil, "skill.toml"},
		// The path was printed twice: "…/skill.toml: skill.toml:2: author: …".
		{"unknown key", map[string]string{"skill.toml": strings.Replace(minimalSkillTOML, "\n", "\nauthor = \"x\"\n", 1), "go.mod": goMod},
			BuildOptions{}, manifest.ErrUnknownKey, "skill.toml:2: author: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			_, err := Build(context.Background(), dir, tc.opts)
			if err == nil {
				t.Fatal("Build succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			if n := strings.Count(strings.ReplaceAll(err.Error(), dir, "DIR"), "skill.toml:"); n > 1 {
				t.Errorf("err = %v names skill.toml %d times", err, n)
			}
			entries, _ := os.ReadDir(filepath.Join(dir, "modules"))
			if len(entries) > 0 {
				t.Errorf("modules/ holds %d files after a failed build", len(entries))
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(BuildRecordPath))); err == nil {
				t.Error("build record written by a failed build")
			}
		})
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
