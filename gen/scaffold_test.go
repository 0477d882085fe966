package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/toolschema"
	"github.com/palyra/palyra-go/templates"
)

// offlineEnv is the environment of go commands run in scaffolded skills:
// no module proxy, so a test fails if anything needs the network.
func offlineEnv(extra ...string) []string {
	return append(os.Environ(), append([]string{"GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off"}, extra...)...)
}

func goIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// Each template scaffolds a skill whose unit tests pass natively and
// whose tools compile for wasip1 with their generated wrappers, from the
// module cache alone.
func TestScaffoldTemplates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy, go test and go vet in each scaffolded skill")
	}
	wantTools := map[string][]string{"basic": {"greet"}, "http": {"fetch"}, "files": {"read_note", "save_note"}}
	for _, tmpl := range templates.List() {
		t.Run(tmpl.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "hello")
			res, err := Scaffold(context.Background(), "hello", ScaffoldOptions{
				Dir: dir, Publisher: "acme", Template: tmpl.Name, Env: offlineEnv(),
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{".gitignore", "README.md", "gen.go", "go.mod", "go.sum", "main.go", "main_test.go", GeneratedFile, "skill.toml"}
			if !slices.Equal(res.Files, want) {
				t.Errorf("files %v, want %v", res.Files, want)
			}
			if !slices.Equal(res.Tools, wantTools[tmpl.Name]) {
				t.Errorf("tools %v, want %v", res.Tools, wantTools[tmpl.Name])
			}
			if res.SkillID != "acme.hello" || res.Dir != dir || res.PalyraDir != repoRoot(t) {
				t.Errorf("result %+v", res)
			}
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("dir mode: %v, %v", st, err)
			}

			doc, err := os.ReadFile(filepath.Join(dir, "skill.toml"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Parse(doc)
			if err != nil {
				t.Fatalf("scaffolded skill.toml: %v", err)
			}
			if m.ManifestVersion != 2 || m.Operator == nil || m.Operator.DisplayName != "Hello" {
				t.Errorf("manifest %+v", m)
			}
			// The schemas generate wrote are valid JSON Schemas, as hosts
			// and the audit require.
			if _, err := toolschema.CompileManifest(m); err != nil || len(m.Entrypoints.Tools) == 0 {
				t.Errorf("scaffolded tools %d, schemas: %v", len(m.Entrypoints.Tools), err)
			}
			switch tmpl.Name {
			case "http":
				if !slices.Equal(m.Capabilities.HTTPEgressAllowlist, []string{"api.example.com"}) {
					t.Errorf("allowlist %v", m.Capabilities.HTTPEgressAllowlist)
				}
			case "files":
				fs := m.Capabilities.Filesystem
				if !slices.Equal(fs.ReadRoots, []string{"data/in"}) || !slices.Equal(fs.WriteRoots, []string{"data/out"}) {
					t.Errorf("filesystem %+v", fs)
				}
			}
			gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
			for _, w := range []string{"module hello\n", "tool " + PalyraModule + "/gen/cmd/palyra-gen\n", "replace " + PalyraModule + " => " + repoRoot(t) + "\n"} {
				if !bytes.Contains(gomod, []byte(w)) {
					t.Errorf("go.mod lacks %q:\n%s", w, gomod)
				}
			}
			gitignore, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
			for _, w := range []string{"/modules/", "/.palyra/", "*.palyra-skill", "*.key"} {
				if !bytes.Contains(gitignore, []byte(w)) {
					t.Errorf(".gitignore lacks %s", w)
				}
			}
			// What build --install writes is ignored: its artifact and, should
			// the state dir be inside the repository, its dev key.
			if !strings.HasPrefix(DevArtifact, ".palyra/") || !strings.HasSuffix(DevKeyFile, ".key") {
				t.Errorf("%s or %s escapes .gitignore", DevArtifact, DevKeyFile)
			}

			// The generated file is a table over sdk/tool, not a runtime of
			// its own (issue 12): a few lines per tool and its shapes.
			src, err := os.ReadFile(filepath.Join(dir, GeneratedFile))
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(src, []byte("\n")); n >= 60 {
				t.Errorf("%s has %d lines, want under 60:\n%s", GeneratedFile, n, src)
			}
			if !bytes.Contains(src, []byte(`"github.com/palyra/palyra-go/sdk/tool"`)) {
				t.Errorf("%s does not use sdk/tool:\n%s", GeneratedFile, src)
			}

			env := offlineEnv()
			goIn(t, dir, env, "test", "./...")
			goIn(t, dir, offlineEnv("GOOS=wasip1", "GOARCH=wasm"), "vet", "./...")
			if _, err := Generate(context.Background(), dir, GenerateOptions{Check: true, Env: env}); err != nil {
				t.Errorf("generated files are stale right after scaffolding: %v", err)
			}
			if out := goIn(t, dir, env, "mod", "tidy", "-diff"); out != "" {
				t.Errorf("go.mod/go.sum not tidy:\n%s", out)
			}
			if tmpl.Name == "files" {
				filesInHost(t, dir)
			}
		})
	}
}

// filesInHost builds the files template's skill, installs it with what it
// requests and calls its tools in a real host: the roots are mounted where
// the tools look for them.
func filesInHost(t *testing.T, dir string) {
	ctx := context.Background()
	if _, err := Build(ctx, dir, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if _, err := Install(ctx, dir, state); err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(ctx, state, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	data := filepath.Join(state, "skills", "data", "acme.hello", "data")
	if err := os.MkdirAll(filepath.Join(data, "in"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "in", "hello.txt"), []byte("hi from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tool, in, want string }{
		{"read_note", `{"name":"hello"}`, `{"text":"hi from the host"}`},
		{"save_note", `{"name":"todo","text":"buy milk"}`, `{"path":"data/out/todo.txt","bytes":8}`},
	} {
		out, err := h.Call(ctx, "acme.hello", c.tool, []byte(c.in))
		if err != nil || string(out) != c.want {
			t.Errorf("%s %s = %s, %v; want %s", c.tool, c.in, out, err, c.want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(data, "out", "todo.txt")); err != nil || string(b) != "buy milk" {
		t.Errorf("the host sees %q, %v", b, err)
	}
	_, err = h.Call(ctx, "acme.hello", "read_note", []byte(`{"name":"missing"}`))
	if err == nil || !strings.Contains(err.Error(), "data/in/missing.txt: ") || strings.Contains(err.Error(), state) {
		t.Errorf("read_note of a missing note: %v", err)
	}
}

// Bad arguments are refused before anything is written.
func TestScaffoldValidation(t *testing.T) {
	tests := []struct {
		name string
		opts ScaffoldOptions
		want string
	}{
		{"Hello", ScaffoldOptions{}, `skill name "Hello"`},
		{"a.b", ScaffoldOptions{}, `skill name "a.b"`},
		{"", ScaffoldOptions{}, `skill name ""`},
		{"-x", ScaffoldOptions{}, `skill name "-x"`},
		{"hello", ScaffoldOptions{Publisher: "Acme!"}, `publisher "Acme!"`},
		{"hello", ScaffoldOptions{Template: "nope"}, `unknown template "nope"`},
		{"hello", ScaffoldOptions{Module: "bad path"}, "module path"},
		{"hello", ScaffoldOptions{PalyraDir: "testdata"}, "palyra-go checkout"},
		{"hello", ScaffoldOptions{PalyraDir: "testdata/typedskill"}, "is not a palyra-go checkout"},
	}
	for _, tt := range tests {
		parent := t.TempDir()
		tt.opts.Dir = filepath.Join(parent, "a", "b", "hello")
		_, err := Scaffold(context.Background(), tt.name, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Scaffold(%q, %+v): err = %v, want %q", tt.name, tt.opts, err, tt.want)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("Scaffold(%q, %+v) left %v", tt.name, tt.opts, entries)
		}
	}
}

// A failure late in scaffolding (the go commands) leaves nothing either:
// not the skill, its temporary directory, nor the parents it made.
func TestScaffoldFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	env := append(os.Environ(), "GOPROXY=off", "GOMODCACHE="+t.TempDir(), "GOFLAGS=-mod=mod")
	_, err := Scaffold(context.Background(), "hello", ScaffoldOptions{Dir: filepath.Join(parent, "x", "hello"), Env: env})
	if err == nil {
		t.Fatal("Scaffold succeeded with an empty module cache and no proxy")
	}
	t.Logf("as expected: %v", err)
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("left %v after: %v", entries, err)
	}
}

func TestScaffoldExistingDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"notes.txt": "mine", "main.go": "package old\n"})
	_, err := Scaffold(ctx, "hello", ScaffoldOptions{Dir: dir})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("non-empty dir without --force: err = %v", err)
	}
	if got := snapshotTree(t, dir); len(got) != 2 || got["main.go"] != "package old\n" {
		t.Errorf("refused run changed the dir: %v", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("refused run left %v beside the dir", entries)
	}

	if testing.Short() {
		return
	}
	if _, err := Scaffold(ctx, "hello", ScaffoldOptions{Dir: dir, Force: true}); err != nil {
		t.Fatal(err)
	}
	got := snapshotTree(t, dir)
	if got["notes.txt"] != "mine" || !strings.Contains(got["main.go"], "func Greet(") || got["skill.toml"] == "" {
		t.Errorf("--force: notes.txt kept and main.go replaced? %q, %q", got["notes.txt"], got["main.go"])
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("--force left %v beside the dir", entries)
	}

	// An existing empty dir is fine without --force.
	empty := t.TempDir()
	if _, err := Scaffold(ctx, "hello", ScaffoldOptions{Dir: empty}); err != nil {
		t.Errorf("empty dir: %v", err)
	}
}

func TestCLITemplatesList(t *testing.T) {
	out, err := runCLI(t, "templates", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"basic  one typed tool (greet) and no capabilities (default)", "http ", "files ", "capabilities: http_egress_allowlist"} {
		if !strings.Contains(out, w) {
			t.Errorf("templates list lacks %q:\n%s", w, out)
		}
	}
	out, err = runCLI(t, "templates", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []templates.Template
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 3 || list[0].Name != "basic" {
		t.Errorf("--json: %v, %s", err, out)
	}
}

func TestCLINewErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCLI(t, "new", "skill", "Bad.Name", "--dir", filepath.Join(dir, "x")); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := runCLI(t, "new", "skill"); err == nil {
		t.Error("no name accepted")
	}
	if _, err := runCLI(t, "new"); err == nil || !strings.Contains(err.Error(), "palyra-gen new skill NAME") {
		t.Errorf("bare new: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

// runCLI runs the palyra-gen command tree in-process.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}
