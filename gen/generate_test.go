package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the generator's golden files from its output")

// repoRoot is the palyra-go checkout the tests run in.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// skillModule copies a test skill module from testdata into a temp dir,
// pointing its replace of palyra-go (../../.. in testdata) at the
// checkout, and gives it palyra-go's go.sum, so go commands run there
// offline.
func skillModule(t testing.TB, src string) string {
	t.Helper()
	dst := copySkill(t, src)
	if err := pointAtCheckout(dst, repoRoot(t)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// pointAtCheckout points the replace of palyra-go in dir/go.mod at root
// and gives the module palyra-go's go.sum.
func pointAtCheckout(dir, root string) error {
	gomod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	data = bytes.ReplaceAll(data, []byte("=> ../../.."), []byte("=> "+root))
	if err := os.WriteFile(gomod, data, 0o644); err != nil {
		return err
	}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	}
	return nil
}

// TestGenerateGolden: the wrappers and skill.toml of testdata/typedskill
// are what Generate writes for it (run with -update to accept a change),
// and its schemas are pinned in testdata/golden/typedskill-schemas.json.
func TestGenerateGolden(t *testing.T) {
	dir := "testdata/typedskill"
	res, err := Generate(context.Background(), dir, GenerateOptions{Check: !*update})
	if err != nil {
		t.Fatalf("Generate --check on %s: %v (run go test ./gen -run TestGenerateGolden -update to accept)", dir, err)
	}
	schemas := map[string]any{}
	for _, tool := range res.Tools {
		schemas[tool.Name] = map[string]any{"input": tool.Input, "output": tool.Output, "description": tool.Description}
	}
	got, err := json.MarshalIndent(schemas, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden(t, "testdata/golden/typedskill-schemas.json", got)

	// What the golden files promise.
	src, err := os.ReadFile(filepath.Join(dir, GeneratedFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		GeneratedHeader + "\n\n//go:build wasip1\n",
		"import palyratool \"github.com/palyra/palyra-go/sdk/tool\"\n",
		"//go:wasmexport plan_trip\nfunc palyraExportPlanTrip() int32 {\n\treturn palyratool.Run(PlanTrip, palyraShapes, ",
		"//go:wasmexport shout\nfunc palyraExportShout() int32 {\n\treturn palyratool.Run(palyratool.NoContext(Shout), palyraShapes, ",
		"var palyraShapes = palyratool.Shapes{\n",
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("%s lacks %q", GeneratedFile, want)
		}
	}
	doc, err := os.ReadFile(filepath.Join(dir, "skill.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entrypoints.Tools) != 4 {
		t.Fatalf("%d tools", len(m.Entrypoints.Tools))
	}
	plan := m.Entrypoints.Tools[1]
	if plan.ID != "acme.plan_trip" || !plan.Risk.RequiresApproval || !plan.Risk.DefaultSensitive {
		t.Errorf("plan_trip lost its id or the author's risk flags: %+v", plan)
	}
	for _, keep := range []string{"# The test skill of gen's generator tests.", "# The first tool's risk flags are set by hand", "# Capabilities: none beyond small quotas."} {
		if !bytes.Contains(doc, []byte(keep)) {
			t.Errorf("skill.toml lost the author's comment %q", keep)
		}
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept):\n%s", path, got)
	}
}

// The schema rules, spelled out on the golden skill: one assertion per
// rule so that a failure names the rule.
func TestGenerateSchemaRules(t *testing.T) {
	res, err := Generate(context.Background(), "testdata/typedskill", GenerateOptions{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]GeneratedTool{}
	for _, tool := range res.Tools {
		tools[tool.Name] = tool
	}
	in := tools["plan_trip"].Input
	props := in["properties"].(map[string]any)
	defs := in["$defs"].(map[string]any)
	prop := func(name string) map[string]any {
		t.Helper()
		p, ok := props[name].(map[string]any)
		if !ok {
			t.Fatalf("no property %q in %v", name, props)
		}
		return p
	}
	required := fmt.Sprint(in["required"])
	tests := []struct {
		rule string
		ok   bool
	}{
		{"$schema is draft 2020-12", in["$schema"] == SchemaDialect},
		{"struct → closed object", in["type"] == "object" && in["additionalProperties"] == false},
		{"type doc → description", in["description"] == "PlanTripInput is the input of plan_trip."},
		{"field doc → description", prop("from")["description"] == "From is where the trip starts."},
		{"line comment → description", defs["Place"].(map[string]any)["properties"].(map[string]any)["lon"].(map[string]any)["description"] == "Lon is the longitude in degrees."},
		{"json:\"-\" skipped", props["Internal"] == nil && props["-"] == nil},
		{"unexported skipped", props["secret"] == nil},
		{"untagged field keeps its Go name", props["Untagged"] != nil},
		{"embedded struct flattened", props["created_by"] != nil && props["Audit"] == nil},
		{"shallower field hides the embedded one", prop("note")["description"] == "Note is a free-form note."},
		{"omitempty → optional", !strings.Contains(required, "note") && !strings.Contains(required, "stops")},
		{"pointer → optional and nullable", !strings.Contains(required, "budget") && fmt.Sprint(prop("budget")["type"]) == "[integer null]"},
		{"plain field → required", strings.Contains(required, "from") && strings.Contains(required, "depart")},
		{"time.Time → date-time", prop("depart")["type"] == "string" && prop("depart")["format"] == "date-time"},
		{"[]byte → base64 string", prop("attachment")["contentEncoding"] == "base64"},
		{"array → fixed-size array", prop("window")["minItems"] == int64(2) && prop("window")["maxItems"] == int64(2)},
		{"uint16 → bounded integer", prop("window")["items"].(map[string]any)["maximum"] == int64(65535)},
		{"map → additionalProperties", prop("tags")["additionalProperties"].(map[string]any)["type"] == "string"},
		{",string → string", prop("count")["type"] == "string"},
		{"any → empty schema", len(prop("extra")) == 0},
		{"named struct → $defs", prop("from")["$ref"] == "#/$defs/Place"},
		{"recursive type → $ref to itself", fmt.Sprint(defs["Stop"].(map[string]any)["properties"].(map[string]any)["sub"]) == "map[description:Sub are stops within this stop. items:map[$ref:#/$defs/Stop] type:array]"},
		{"string constants → enum", fmt.Sprint(defs["Mode"].(map[string]any)["enum"]) == "[walk train plane]"},
		{"int constants → enum, each value once", fmt.Sprint(defs["Priority"].(map[string]any)["enum"]) == "[1 2 3]"},
		{"non-object output", tools["shout"].Output["type"] == "string"},
		{"directive description", tools["shout"].Description == `Upper-cases "text".`},
		{"func doc → description", strings.HasPrefix(tools["plan_trip"].Description, "PlanTrip plans a trip from one place to another.\n\nIt echoes")},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("rule %q does not hold", tt.rule)
		}
	}
}

// Errors name the file, line and tool, and all of them are reported at
// once, in source order.
func TestGenerateErrors(t *testing.T) {
	dir := copySkill(t, "testdata/badskill")
	before := snapshotTree(t, dir)
	_, err := Generate(context.Background(), dir, GenerateOptions{})
	if err == nil {
		t.Fatal("Generate succeeded on badskill")
	}
	golden(t, "testdata/badskill/errors.golden", []byte(err.Error()+"\n"))
	for _, sentinel := range []error{ErrUnsupportedType, ErrToolSignature, ErrToolName, ErrDirective} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
	var se *SourceError
	if !errors.As(err, &se) || se.Pos.Filename != "main.go" || se.Pos.Line == 0 {
		t.Errorf("first error %#v: want a *SourceError in main.go", se)
	}
	if after := snapshotTree(t, dir); !equalTrees(before, after) {
		t.Errorf("a failed Generate changed the directory")
	}
}

func TestGenerateMessages(t *testing.T) {
	// The exact form the issue asks for: file:line: tool X: unsupported type chan int.
	dir := copySkill(t, "testdata/badskill")
	_, err := Generate(context.Background(), dir, GenerateOptions{})
	if err == nil || !strings.Contains(err.Error(), "main.go:14:2: tool stream: unsupported type chan int in Events.C") {
		t.Errorf("error lacks the chan field's position:\n%v", err)
	}
}

func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func equalTrees(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// Generating twice changes nothing the second time, and a stale or even
// broken wrapper file does not stop regeneration.
func TestGenerateDeterministic(t *testing.T) {
	dir := skillModule(t, "testdata/typedskill")
	want := snapshotTree(t, dir)
	if err := os.WriteFile(filepath.Join(dir, GeneratedFile), []byte("package main\n\nfunc broken( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Generate(context.Background(), dir, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Changed, ",") != GeneratedFile {
		t.Errorf("first run changed %v, want only %s", res.Changed, GeneratedFile)
	}
	res, err = Generate(context.Background(), dir, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 0 {
		t.Errorf("second run changed %v", res.Changed)
	}
	if got := snapshotTree(t, dir); !equalTrees(got, want) {
		t.Error("regenerated files differ from the golden ones")
	}
	if tmps := tmpFiles(t, dir); len(tmps) > 0 {
		t.Errorf("left temporary files: %v", tmps)
	}
}

// --check fails, naming the stale file, when a struct field changes, and
// writes nothing; after generate it passes again.
func TestGenerateCheck(t *testing.T) {
	dir := skillModule(t, "testdata/typedskill")
	ctx := context.Background()
	if _, err := Generate(ctx, dir, GenerateOptions{Check: true}); err != nil {
		t.Fatalf("fresh copy: %v", err)
	}
	// A field's doc comment is only in the schema.
	edit(t, filepath.Join(dir, "main.go"), "// Summary describes the plan.", "// Summary says what the plan is.")
	before := snapshotTree(t, dir)
	res, err := Generate(ctx, dir, GenerateOptions{Check: true})
	if !errors.Is(err, ErrStale) || err.Error() != "skill.toml: "+ErrStale.Error() {
		t.Fatalf("after changing a field's doc: err = %v, want skill.toml stale", err)
	}
	if strings.Join(res.Changed, ",") != "skill.toml" {
		t.Errorf("Changed = %v", res.Changed)
	}
	if !equalTrees(before, snapshotTree(t, dir)) {
		t.Error("--check wrote files")
	}
	// A required field's name is in the wrapper too, which enforces it.
	edit(t, filepath.Join(dir, "main.go"), "`json:\"summary\"`", "`json:\"title\"`")
	res, err = Generate(ctx, dir, GenerateOptions{Check: true})
	if !errors.Is(err, ErrStale) || strings.Join(res.Changed, ",") != GeneratedFile+",skill.toml" {
		t.Fatalf("after renaming a field: err = %v, changed %v, want both stale", err, res.Changed)
	}

	// A new tool makes both files stale.
	appendFile(t, filepath.Join(dir, "main.go"), "\n// Ping answers.\n//\n//palyra:tool\nfunc Ping(in ShoutInput) (ShoutInput, error) { return in, nil }\n")
	_, err = Generate(ctx, dir, GenerateOptions{Check: true})
	if !errors.Is(err, ErrStale) || !strings.HasPrefix(err.Error(), GeneratedFile+", skill.toml: ") {
		t.Fatalf("after adding a tool: err = %v", err)
	}
	res, err = Generate(ctx, dir, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != 5 || res.Tools[1].Name != "ping" {
		t.Errorf("tools after adding ping: %+v", res.Tools)
	}
	if _, err := Generate(ctx, dir, GenerateOptions{Check: true}); err != nil {
		t.Errorf("--check after generate: %v", err)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, "skill.toml"))
	if !bytes.Contains(doc, []byte(`title = { description = "Summary says what the plan is.", type = "string" }`)) {
		t.Errorf("skill.toml lacks the renamed field:\n%s", doc)
	}
}

// A tool with an unsupported type fails Generate with nothing written.
func TestGenerateNoPartialFiles(t *testing.T) {
	dir := skillModule(t, "testdata/typedskill")
	appendFile(t, filepath.Join(dir, "main.go"), "\n// Bad has a chan.\n//\n//palyra:tool\nfunc Bad(in struct{ C chan int }) (int, error) { return 0, nil }\n")
	before := snapshotTree(t, dir)
	_, err := Generate(context.Background(), dir, GenerateOptions{})
	if !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("err = %v", err)
	}
	if !equalTrees(before, snapshotTree(t, dir)) {
		t.Error("a failed Generate changed files")
	}
}

func TestGenerateNoTools(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":     "module x\n\ngo 1.26\n",
		"main.go":    "package main\n\nfunc main() {}\n",
		"skill.toml": "publisher = \"acme\"\n",
	})
	if _, err := Generate(context.Background(), dir, GenerateOptions{}); !errors.Is(err, ErrNoTools) {
		t.Errorf("err = %v, want ErrNoTools", err)
	}
	os.Remove(filepath.Join(dir, "skill.toml"))
	if _, err := Generate(context.Background(), dir, GenerateOptions{}); !errors.Is(err, ErrNoManifest) {
		t.Errorf("without skill.toml: err = %v, want ErrNoManifest", err)
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Greet": "greet", "SaveNote": "save_note", "GetHTTPStatus": "get_http_status",
		"ID": "id", "V2Name": "v2_name", "greet": "greet", "parseURL": "parse_url",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDirective(t *testing.T) {
	tests := []struct {
		args    string
		want    map[string]string
		wantErr string
	}{
		{"", map[string]string{}, ""},
		{"name=x", map[string]string{"name": "x"}, ""},
		{`name=x description="a \"b\" c"`, map[string]string{"name": "x", "description": `a "b" c`}, ""},
		{"description=`raw text`  name=y", map[string]string{"name": "y", "description": "raw text"}, ""},
		{"nme=x", nil, `unknown key "nme"`},
		{"name", nil, `want key=value`},
		{"name=x name=y", nil, "name given twice"},
		{`description="open`, nil, "unterminated"},
		{`description="a"b`, nil, "want a space"},
	}
	for _, tt := range tests {
		got, err := parseDirective(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDirective(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parseDirective(%q) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

// BenchmarkGenerate20Tools generates a package of 20 tools: go list with
// types from export data, schemas, wrappers and the skill.toml rewrite.
func BenchmarkGenerate20Tools(b *testing.B) {
	dir := skillModule(b, "testdata/typedskill")
	var src strings.Builder
	src.WriteString("package main\n\nimport \"context\"\n")
	for i := range 20 {
		fmt.Fprintf(&src, `
// In%[1]d is the input of tool %[1]d.
type In%[1]d struct {
	// Name is a name.
	Name  string            `+"`json:\"name\"`"+`
	Stops []Stop            `+"`json:\"stops,omitempty\"`"+`
	Tags  map[string]string `+"`json:\"tags,omitempty\"`"+`
}

// Tool%[1]d is tool number %[1]d.
//
//palyra:tool
func Tool%[1]d(ctx context.Context, in In%[1]d) (PlanTripOutput, error) { return PlanTripOutput{}, nil }
`, i)
	}
	writeFiles(b, dir, map[string]string{"tools.go": src.String()})
	ctx := context.Background()
	if _, err := Generate(ctx, dir, GenerateOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Generate(ctx, dir, GenerateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Pointer inputs and outputs: the input is still an object, the output
// may be null; the wrappers compile for wasip1.
func TestGeneratePointers(t *testing.T) {
	dir := t.TempDir()
	sum, _ := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	writeFiles(t, dir, map[string]string{
		"go.mod": "module p\n\ngo 1.26.0\n\nrequire " + PalyraModule + " v0.0.0-00010101000000-000000000000\n\nreplace " + PalyraModule + " => " + repoRoot(t) + "\n",
		"go.sum": string(sum),
		"main.go": `package main

func main() {}

// In is the input.
type In struct{ A int }

// Get gets.
//
//palyra:tool
func Get(in *In) (*In, error) { return in, nil }
`,
		"skill.toml": "publisher = \"acme\"\nskill_id = \"acme.p\"\nname = \"P\"\nversion = \"0.1.0\"\n[compat]\nrequired_protocol_major = 1\nmin_palyra_version = \"0.1.0\"\n",
	})
	res, err := Generate(context.Background(), dir, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, out := res.Tools[0].Input, res.Tools[0].Output
	if in["type"] != "object" || in["description"] != "In is the input." {
		t.Errorf("input schema %v", in)
	}
	if fmt.Sprint(out["anyOf"]) != "[map[$ref:#/$defs/In] map[type:null]]" {
		t.Errorf("output schema %v", out)
	}
	if testing.Short() {
		return
	}
	goIn(t, dir, offlineEnv("GOOS=wasip1", "GOARCH=wasm"), "vet", ".")
}
