package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testartifact"
	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// library returns the documents the operator put in the read root.
func library() map[string][]byte {
	return map[string][]byte{
		"intro.txt":       []byte("Welcome to the library.\n"),
		"guides/setup.md": []byte("# Setup\nRun it.\n"),
		"logo.png":        {0x89, 'P', 'N', 'G', 0xff},
		"big.txt":         bytes.Repeat([]byte("a"), maxReadBytes+1),
	}
}

// writeLibrary writes library() under dir.
func writeLibrary(t *testing.T, dir string) {
	t.Helper()
	for name, data := range library() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkLibrary fails t if the documents under dir are not library()'s.
func checkLibrary(t *testing.T, dir string) {
	t.Helper()
	for name, want := range library() {
		if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name))); err != nil || !bytes.Equal(got, want) {
			t.Errorf("library/%s changed: %.40q, %v", name, got, err)
		}
	}
}

type goTool struct {
	fn      func() int32
	in, out reflect.Type
}

// tools returns the skill's tools by the names skill.toml gives them,
// with the Go types of their input and output.
func tools() map[string]goTool {
	return map[string]goTool{
		"list":        {list, reflect.TypeFor[struct{}](), reflect.TypeFor[listOutput]()},
		"read":        {read, reflect.TypeFor[readInput](), reflect.TypeFor[readOutput]()},
		"append_note": {appendNote, reflect.TypeFor[appendInput](), reflect.TypeFor[appendOutput]()},
	}
}

type fileTest struct {
	name  string
	tool  string
	input string
	want  string // the output; "" when the call fails
	err   string // in the error, ignoring case: WASI capitalizes errno messages
}

// tests run in order against one data directory holding library() and
// an empty notes root; they append "first\nsecond, grüße\n" to
// notes/journal.md.
func tests() []fileTest {
	listed := `{"entries":[{"name":"big.txt","bytes":1048577},{"name":"guides/setup.md","bytes":16},` +
		`{"name":"intro.txt","bytes":24},{"name":"logo.png","bytes":5}],"truncated":false}`
	badName := func(name string) string { return fmt.Sprintf("name %q: want a relative path", name) }
	return []fileTest{
		{"list", "list", `{}`, listed, ""},
		{"list/no input", "list", ``, listed, ""},
		{"list/unknown field", "list", `{"all": true}`, "", `unknown field "all"`},

		{"read", "read", `{"name": "intro.txt"}`, `{"name":"intro.txt","text":"Welcome to the library.\n","bytes":24}`, ""},
		{"read/nested", "read", `{"name": "guides/setup.md"}`, `{"name":"guides/setup.md","text":"# Setup\nRun it.\n","bytes":16}`, ""},
		{"read/missing", "read", `{"name": "nope.txt"}`, "", "library/nope.txt: no such file or directory"},
		{"read/directory", "read", `{"name": "guides"}`, "", "library/guides: is a directory"},
		{"read/not UTF-8", "read", `{"name": "logo.png"}`, "", "library/logo.png: not UTF-8 text"},
		{"read/too large", "read", `{"name": "big.txt"}`, "", "library/big.txt: larger than 1048576 bytes"},
		{"read/parent", "read", `{"name": "../notes/journal.md"}`, "", badName("../notes/journal.md")},
		{"read/escape", "read", `{"name": "../../../etc/passwd"}`, "", badName("../../../etc/passwd")},
		{"read/absolute", "read", `{"name": "/etc/passwd"}`, "", badName("/etc/passwd")},
		{"read/dot-dot inside", "read", `{"name": "guides/../intro.txt"}`, "", badName("guides/../intro.txt")},
		{"read/backslash", "read", `{"name": "guides\\setup.md"}`, "", badName(`guides\setup.md`)},
		{"read/no name", "read", `{}`, "", badName("")},
		{"read/not JSON", "read", `intro.txt`, "", "invalid input: want a JSON object"},

		{"append_note", "append_note", `{"name": "journal.md", "text": "first"}`, `{"name":"journal.md","bytes":6}`, ""},
		{"append_note/again", "append_note", `{"name": "journal.md", "text": "second, grüße"}`, `{"name":"journal.md","bytes":22}`, ""},
		{"append_note/path", "append_note", `{"name": "2024/journal.md", "text": "x"}`, "", `name "2024/journal.md": want a file name, not a path`},
		// There is no way to name a file of the library: its root is
		// read-only on the host, and the tool refuses before trying.
		{"append_note/into the library", "append_note", `{"name": "../library/intro.txt", "text": "x"}`, "", badName("../library/intro.txt")},
		{"append_note/absolute", "append_note", `{"name": "/library/intro.txt", "text": "x"}`, "", badName("/library/intro.txt")},
		{"append_note/two lines", "append_note", `{"name": "journal.md", "text": "one\ntwo"}`, "", "text: want one line"},
		{"append_note/carriage return", "append_note", `{"name": "journal.md", "text": "one\r"}`, "", "text: want one line"},
		{"append_note/too long", "append_note", `{"name": "journal.md", "text": "` + strings.Repeat("x", maxAppendBytes+1) + `"}`,
			"", "text: 65537 bytes, want at most 65536"},
		{"append_note/no name", "append_note", `{"text": "x"}`, "", badName("")},
	}
}

const journal = "first\nsecond, grüße\n"

// check compares one call's result with the test's expectation.
func check(t *testing.T, tt fileTest, out []byte, err error) {
	t.Helper()
	if tt.want == "" {
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.err)) {
			t.Errorf("err = %v, want one saying %q (output %.200s)", err, tt.err, out)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != tt.want {
		t.Errorf("output\n got %.300s\nwant %.300s", out, tt.want)
	}
}

// useDataDir points the tools at dir, laid out as the skill's data
// directory on the host, for the rest of the test, which therefore cannot
// run in parallel with another that calls the tools natively.
func useDataDir(t *testing.T, dir string) {
	old := dataDir
	dataDir = dir
	t.Cleanup(func() { dataDir = old })
}

// TestFilesNative runs the tools' Go functions against sdktest's host,
// with the roots in a temporary directory.
func TestFilesNative(t *testing.T) {
	dir := t.TempDir()
	writeLibrary(t, filepath.Join(dir, readRoot))
	if err := os.Mkdir(filepath.Join(dir, writeRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	useDataDir(t, dir)
	var h sdktest.Host
	for _, tt := range tests() {
		t.Run(tt.name, func(t *testing.T) {
			rc, out, err := h.Call(tools()[tt.tool].fn, []byte(tt.input))
			if (rc != 0) != (tt.want == "") {
				t.Errorf("rc = %d", rc)
			}
			check(t, tt, out, err)
		})
	}
	if b, err := os.ReadFile(filepath.Join(dir, writeRoot, "journal.md")); string(b) != journal {
		t.Errorf("journal.md = %q, %v; want %q", b, err, journal)
	}
	checkLibrary(t, filepath.Join(dir, readRoot))
	want := []sdktest.Log{{Level: sdk.LogInfo, Message: "appended 6 bytes to journal.md"}, {Level: sdk.LogInfo, Message: "appended 16 bytes to journal.md"}}
	if !reflect.DeepEqual(h.Logs, want) {
		t.Errorf("logs %v, want %v", h.Logs, want)
	}

	// Roots the operator did not grant are not there.
	useDataDir(t, t.TempDir())
	for _, tc := range notGranted() {
		_, _, err := h.Call(tools()[tc.tool].fn, []byte(tc.input))
		if want := unavailable(tc.root); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without its root: %v, want %q", tc.tool, err, want)
		}
	}
}

// notGranted are calls that need a root, one per tool.
func notGranted() []struct{ tool, input, root string } {
	return []struct{ tool, input, root string }{
		{"list", `{}`, readRoot},
		{"read", `{"name": "intro.txt"}`, readRoot},
		{"append_note", `{"name": "journal.md", "text": "x"}`, writeRoot},
	}
}

// unavailable is the error of a tool whose root was not granted.
func unavailable(root string) string {
	return fmt.Sprintf("filesystem root %q is not available to the skill (not granted by the operator?)", root)
}

// installed opens a host on a fresh state directory, puts library() in
// the skill's read root on disk, and installs art with grants. It returns
// the host and the skill's data directory. Hosts share cache, so that the
// module is compiled once.
func installed(t *testing.T, art, cache string, grants host.Grants) (*host.Host, string) {
	t.Helper()
	ctx := context.Background()
	state := t.TempDir()
	// The skill asks for 100 M fuel (a 64 KiB note costs some 10 M to
	// decode); the operator's policy must allow it.
	h, err := host.Open(ctx, state, host.Options{CompilationCacheDir: cache, Policy: &host.Policy{FuelBudget: 100_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	data := filepath.Join(state, "skills", "data", "palyra.files")
	writeLibrary(t, filepath.Join(data, readRoot))
	if _, err := h.Install(ctx, art, host.InstallOptions{AllowTOFU: true, Grants: &grants}); err != nil {
		t.Fatal(err)
	}
	return h, data
}

// TestFilesViaHost installs the signed skill in a Palyra host, which
// mounts <state>/skills/data/palyra.files/library read-only at /library
// and .../notes at /notes, and calls it.
func TestFilesViaHost(t *testing.T) {
	ctx := context.Background()
	art := testartifact.FromDir(t, ".", "files")
	cache := t.TempDir()

	h, data := installed(t, art, cache, host.Grants{ReadRoots: []string{readRoot}, WriteRoots: []string{writeRoot}})
	// The host validates inputs against the tools' input schemas before
	// the guest runs: these calls never reach it.
	refused := map[string]string{
		"list/no input":       "tool palyra.files.list: input (root): not JSON: empty (json)",
		"list/unknown field":  "input (root): additional properties 'all' not allowed (additionalProperties)",
		"read/no name":        "tool palyra.files.read: input (root): missing property 'name' (required)",
		"read/not JSON":       "tool palyra.files.read: input (root): not JSON",
		"append_note/no name": "tool palyra.files.append_note: input (root): missing property 'name' (required)",
	}
	for _, tt := range tests() {
		if msg, ok := refused[tt.name]; ok {
			tt.want, tt.err = "", msg
		}
		t.Run(tt.name, func(t *testing.T) {
			out, err := h.Call(ctx, "palyra.files", tt.tool, []byte(tt.input))
			check(t, tt, out, err)
		})
	}
	if b, err := os.ReadFile(filepath.Join(data, writeRoot, "journal.md")); string(b) != journal {
		t.Errorf("journal.md on the host = %q, %v; want %q", b, err, journal)
	}
	checkLibrary(t, filepath.Join(data, readRoot))

	// The operator granted the library only: the notes directory exists on
	// the host, but not for the skill.
	h, data = installed(t, art, cache, host.Grants{ReadRoots: []string{readRoot}})
	if err := os.Mkdir(filepath.Join(data, writeRoot), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "palyra.files", "read", []byte(`{"name": "intro.txt"}`)); err != nil {
		t.Errorf("read with the library granted: %v", err)
	}
	for _, tc := range notGranted() {
		if tc.root != writeRoot {
			continue
		}
		_, err := h.Call(ctx, "palyra.files", tc.tool, []byte(tc.input))
		if want := unavailable(tc.root); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without %s granted: %v, want %q", tc.tool, tc.root, err, want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(data, writeRoot)); len(entries) != 0 {
		t.Errorf("notes written without the grant: %v", entries)
	}

	// And then nothing: the library goes too.
	if _, err := h.SetGrants(ctx, "palyra.files", host.Grants{}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range notGranted() {
		_, err := h.Call(ctx, "palyra.files", tc.tool, []byte(tc.input))
		if want := unavailable(tc.root); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without grants: %v, want %q", tc.tool, err, want)
		}
	}
}

// TestManifest checks that skill.toml describes the tools as they are:
// its schemas match the Go types, and it asks for the roots they use.
func TestManifest(t *testing.T) {
	m := testartifact.Manifest(t, ".")
	if m.SkillID != "palyra.files" || m.Publisher != "palyra" || m.ManifestVersion != 2 {
		t.Errorf("manifest %d %q by %q", m.ManifestVersion, m.SkillID, m.Publisher)
	}
	tools := tools()
	var names []string
	for _, tool := range m.Entrypoints.Tools {
		names = append(names, tool.Name)
		tt, ok := tools[tool.Name]
		if !ok {
			t.Errorf("skill.toml names tool %q, which the skill does not have", tool.Name)
			continue
		}
		if tool.ID != m.SkillID+"."+tool.Name {
			t.Errorf("tool %s has id %s", tool.Name, tool.ID)
		}
		if tool.InputSchema["additionalProperties"] != false {
			t.Errorf("%s input_schema: want additionalProperties = false, as the tool refuses unknown fields", tool.Name)
		}
		checkSchema(t, tool.Name+" input_schema", tool.InputSchema, tt.in)
		checkSchema(t, tool.Name+" output_schema", tool.OutputSchema, tt.out)
	}
	if len(names) != len(tools) {
		t.Errorf("skill.toml has tools %v, want one for each of the %d tools", names, len(tools))
	}
	fsc := m.Capabilities.Filesystem
	if !slices.Equal(fsc.ReadRoots, []string{readRoot}) || !slices.Equal(fsc.WriteRoots, []string{writeRoot}) {
		t.Errorf("filesystem roots read %v write %v, want [%s] and [%s]", fsc.ReadRoots, fsc.WriteRoots, readRoot, writeRoot)
	}
	if len(m.Capabilities.HTTPEgressAllowlist)+len(m.Capabilities.Secrets) != 0 {
		t.Errorf("asks for more than files: %+v", m.Capabilities)
	}
	// A whole document, and its JSON, sit in the skill's memory.
	if m.Capabilities.Quotas.MaxMemoryBytes < 16*maxReadBytes {
		t.Errorf("max_memory_bytes %d is too small for %d-byte documents", m.Capabilities.Quotas.MaxMemoryBytes, maxReadBytes)
	}
}

// checkSchema reports where schema does not describe typ as encoding/json
// writes it: the JSON type, and for an object its properties, every one
// required (the tools write every field, and need every input field).
func checkSchema(t *testing.T, where string, schema map[string]any, typ reflect.Type) {
	t.Helper()
	jsonType := map[reflect.Kind]string{
		reflect.String: "string", reflect.Int: "integer", reflect.Int64: "integer",
		reflect.Bool: "boolean", reflect.Slice: "array", reflect.Struct: "object",
	}[typ.Kind()]
	if schema["type"] != jsonType {
		t.Errorf("%s: type %v, want %q for Go %s", where, schema["type"], jsonType, typ)
		return
	}
	switch typ.Kind() {
	case reflect.Slice:
		items, _ := schema["items"].(map[string]any)
		checkSchema(t, where+".items", items, typ.Elem())
	case reflect.Struct:
		props, _ := schema["properties"].(map[string]any)
		var fields []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields = append(fields, name)
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s: no property %q for %s.%s", where, name, typ, f.Name)
				continue
			}
			checkSchema(t, where+"."+name, p, f.Type)
		}
		for name := range props {
			if !slices.Contains(fields, name) {
				t.Errorf("%s: property %q is no field of %s", where, name, typ)
			}
		}
		var required []string
		if r, ok := schema["required"].([]any); ok {
			for _, v := range r {
				required = append(required, fmt.Sprint(v))
			}
		}
		slices.Sort(fields)
		slices.Sort(required)
		if !slices.Equal(required, fields) {
			t.Errorf("%s: required %v, want %v", where, required, fields)
		}
	}
}

// TestNoHandWrittenWrapper: the tools are typed functions that sdk/tool
// runs; the skill keeps no copy of the decode/encode/set-error logic.
func TestNoHandWrittenWrapper(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sdk.InputJSON", "sdk.OutputJSON", "sdk.SetError", "sdk.Output("} {
		if strings.Contains(string(src), s) {
			t.Errorf("main.go calls %s: use sdk/tool's Run or Return", s)
		}
	}
	if !strings.Contains(string(src), "tool.Run(") {
		t.Error("main.go does not call tool.Run")
	}
}
