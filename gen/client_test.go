package gen

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

// buildTypedSkill builds a copy of testdata/typedskill with Build, as
// palyra-gen build would, once per test process, and returns the module's
// path.
func buildTypedSkill(t testing.TB) string {
	t.Helper()
	typedWasm.once.Do(func() {
		typedWasm.dir, typedWasm.err = os.MkdirTemp("", "palyra-gen-typed-")
		if typedWasm.err != nil {
			return
		}
		dst := filepath.Join(typedWasm.dir, "typedskill")
		if typedWasm.err = copyTree("testdata/typedskill", dst); typedWasm.err != nil {
			return
		}
		if typedWasm.err = pointAtCheckout(dst, repoRoot(t)); typedWasm.err != nil {
			return
		}
		var res *BuildResult
		if res, typedWasm.err = Build(context.Background(), dst, BuildOptions{}); typedWasm.err == nil {
			typedWasm.file = res.File
		}
	})
	if typedWasm.err != nil {
		t.Fatalf("building testdata/typedskill: %v", typedWasm.err)
	}
	return typedWasm.file
}

func TestClientGolden(t *testing.T) {
	doc, err := os.ReadFile("testdata/typedskill/skill.toml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ClientSource(doc, "typedclient")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/golden/typedclient.go.golden", src)
	again, err := ClientSource(doc, "typedclient")
	if err != nil || !bytes.Equal(again, src) {
		t.Errorf("ClientSource is not deterministic (err %v)", err)
	}
	for _, want := range []string{
		GeneratedHeader + "\n",
		"func (c *Client) PlanTrip(ctx context.Context, in PlanTripInput) (PlanTripOutput, error) {",
		"func (c *Client) Shout(ctx context.Context, in ShoutInput) (string, error) {",
		"Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error)",
		"\tModeTrain Mode = \"train\"\n",
		"\tDepart time.Time `json:\"depart\"`\n",
		"\tBudget *int64 `json:\"budget,omitempty\"`\n",
		"\tAttachment []byte `json:\"attachment,omitempty\"`\n",
		"\tSub []Stop `json:\"sub,omitempty\"`\n",
		"\tTags map[string]string `json:\"tags,omitempty\"`\n",
	} {
		if !containsCode(src, want) {
			t.Errorf("client lacks %q", want)
		}
	}
	// One declaration of PlanTripInput, shared by the input and the
	// output's echo, which has the same schema.
	if n := bytes.Count(src, []byte("type PlanTripInput struct")); n != 1 {
		t.Errorf("PlanTripInput declared %d times", n)
	}
}

// TestClientRoundTrip compiles a client generated from typedskill's
// manifest in a temporary module (go vet) and runs a test there that
// calls the skill's real Wasm module through it, with extism/go-sdk as the
// host: every field survives the trip to the skill and back.
func TestClientRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the skill and a test binary with extism/go-sdk")
	}
	wasm := buildTypedSkill(t)
	mod := t.TempDir()
	res, err := GenerateClient(context.Background(), ClientOptions{
		Manifest: "testdata/typedskill/skill.toml", Package: "typedclient", Out: filepath.Join(mod, "typedclient"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Methods, ",") != "Inventory,PlanTrip,Shout,Tags" || res.SkillID != "acme.typed" || res.Version != "1.2.3" {
		t.Errorf("result %+v", res)
	}
	test, err := os.ReadFile("testdata/clientcheck/roundtrip_test.go")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// The module requires what palyra-go requires, so that every module
	// resolves to a version in the module cache: no network.
	rootMod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var gomod strings.Builder
	for line := range strings.Lines(string(rootMod)) {
		switch {
		case strings.HasPrefix(line, "module "):
			line = "module clientcheck\n"
		case strings.HasPrefix(line, "tool "):
			continue
		}
		gomod.WriteString(line)
	}
	writeFiles(t, mod, map[string]string{
		"go.mod":            gomod.String(),
		"go.sum":            string(sum),
		"roundtrip_test.go": string(test),
	})
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off", "PALYRA_TEST_WASM="+wasm)
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = mod, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "test" && !bytes.Contains(out, []byte("ok  \tclientcheck")) {
			t.Fatalf("go test ran no test:\n%s", out)
		}
	}
}

func TestClientSchemas(t *testing.T) {
	base := func(tools string) []byte {
		return []byte(`publisher = "acme"
skill_id = "acme.s"
name = "S"
version = "0.1.0"
[compat]
required_protocol_major = 1
min_palyra_version = "0.1.0"
` + tools)
	}
	tool := func(name, in, out string) string {
		return "[[entrypoints.tools]]\nid = \"acme." + name + "\"\nname = \"" + name + "\"\ndescription = \"d\"\ninput_schema = " + in + "\noutput_schema = " + out + "\n"
	}
	tests := []struct {
		name  string
		tools string
		want  []string
		err   string
	}{
		{
			name:  "nullable by anyOf, maps, free objects, arrays of any",
			tools: tool("t", `{ type = "object", properties = { a = { anyOf = [{ type = "integer" }, { type = "null" }] }, m = { type = "object", additionalProperties = { type = "boolean" } }, f = { type = "object" }, l = { type = "array" }, u = { oneOf = [] } }, required = ["a", "m", "f", "l", "u"] }`, `{ type = "integer" }`),
			want:  []string{"A *int64 `json:\"a\"`", "M map[string]bool `json:\"m\"`", "F map[string]any `json:\"f\"`", "L []any `json:\"l\"`", "U any `json:\"u\"`", ") (int64, error)"},
		},
		{
			name:  "recursion through # and names made Go",
			tools: tool("get_user_id", `{ type = "object", properties = { parent = { "$ref" = "#" }, "user-id" = { type = "string" }, "2fa" = { type = "boolean" } } }`, `{ type = "object", additionalProperties = false }`),
			want:  []string{"func (c *Client) GetUserID(ctx context.Context, in GetUserIDInput) (GetUserIDOutput, error)", "Parent *GetUserIDInput `json:\"parent,omitempty\"`", "UserID *string `json:\"user-id,omitempty\"`", "F2fa *bool `json:\"2fa,omitempty\"`", "type GetUserIDOutput struct {\n}"},
		},
		{
			name: "equal $defs are shared, different ones renamed",
			tools: tool("a", `{ type = "object", properties = { p = { "$ref" = "#/$defs/P" } }, "$defs" = { P = { type = "object", properties = { x = { type = "integer" } } } } }`, `{ type = "string" }`) +
				tool("b", `{ type = "object", properties = { p = { "$ref" = "#/$defs/P" }, q = { "$ref" = "#/$defs/Client" } }, "$defs" = { P = { type = "object", properties = { x = { type = "integer" } } }, Client = { type = "string", enum = ["x", "y z", ""] } } }`, `{ type = "object", properties = { p = { "$ref" = "#/$defs/P" } }, "$defs" = { P = { type = "object", properties = { y = { type = "integer" } } } } }`),
			want: []string{"type P struct", "type P2 struct", "type Client2 string", "Client2X Client2 = \"x\"", "Client2YZ Client2 = \"y z\"", "Client2Value2 Client2 = \"\""},
		},
		{
			name:  "a dangling $ref",
			tools: tool("t", `{ type = "object", properties = { p = { "$ref" = "#/$defs/Nope" } } }`, `{}`),
			err:   `tool t: input_schema: property p: $ref "#/$defs/Nope": no such $defs entry`,
		},
		{
			name:  "a remote $ref",
			tools: tool("t", `{ "$ref" = "https://example.com/s.json" }`, `{}`),
			err:   "only #/$defs/NAME and # are supported",
		},
		{
			name:  "two tools, one method name",
			tools: tool("a_id", `{ type = "object" }`, `{}`) + tool("a_i_d", `{ type = "object" }`, `{}`),
			err:   "would both be method AID",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := ClientSource(base(tt.tools), "p")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !containsCode(src, w) {
					t.Errorf("source lacks %q:\n%s", w, src)
				}
			}
		})
	}
}

// containsCode reports whether src contains want, ignoring how gofmt
// aligned them: runs of blanks compare equal to one space.
func containsCode(src []byte, want string) bool {
	squeeze := func(s string) string {
		var b strings.Builder
		blank := false
		for _, r := range s {
			if r == ' ' || r == '\t' {
				if !blank {
					b.WriteByte(' ')
				}
				blank = true
				continue
			}
			blank = false
			b.WriteRune(r)
		}
		return b.String()
	}
	return strings.Contains(squeeze(string(src)), squeeze(want))
}

func TestClientErrors(t *testing.T) {
	doc, _ := os.ReadFile("testdata/typedskill/skill.toml")
	for _, pkg := range []string{"", "func", "_", "a-b", "9x"} {
		if _, err := ClientSource(doc, pkg); err == nil {
			t.Errorf("package name %q accepted", pkg)
		}
	}
	var merr *manifest.Error
	if _, err := ClientSource([]byte("skill_id = 1\n"), "p"); !errors.As(err, &merr) {
		t.Errorf("bad manifest: err = %v, want a *manifest.Error", err)
	}
	ctx := context.Background()
	out := t.TempDir()
	for _, opts := range []ClientOptions{
		{Package: "p", Out: out},
		{Manifest: "testdata/typedskill/skill.toml", Artifact: "x", Package: "p", Out: out},
		{Manifest: "testdata/typedskill/skill.toml", Package: "p"},
		{Manifest: "testdata/nope.toml", Package: "p", Out: out},
		{Artifact: "testdata/typedskill/skill.toml", Package: "p", Out: out}, // not a ZIP
	} {
		if _, err := GenerateClient(ctx, opts); err == nil {
			t.Errorf("GenerateClient(%+v) succeeded", opts)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("failed runs wrote %d files", len(entries))
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"greet": "Greet", "save_note": "SaveNote", "user_id": "UserID", "createdAt": "CreatedAt",
		"http-url": "HTTPURL", "a.b c": "ABC", "": "", "Already": "Already", "x2": "X2",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzClientSource: a manifest from an artifact is untrusted input;
// whatever it holds, ClientSource returns an error or gofmt-clean Go,
// never panics.
func FuzzClientSource(f *testing.F) {
	doc, err := os.ReadFile("testdata/typedskill/skill.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add([]byte(strings.Replace(string(doc), `"$ref" = "#/$defs/Stop"`, `"$ref" = "#"`, 1)))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if _, err := ClientSource(doc, "p"); err != nil {
			return
		}
	})
}
