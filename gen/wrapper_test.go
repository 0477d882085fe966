package gen

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/palyra/palyra-go/internal/manifest"
)

// typedWasm is testdata/typedskill built once per test process.
var typedWasm struct {
	once sync.Once
	file string
	err  error
	dir  string
}

// typedSkillPlugin loads the built typedskill module into extism/go-sdk.
func typedSkillPlugin(t testing.TB) *extism.Plugin {
	t.Helper()
	file := buildTypedSkill(t)
	wasm, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := extism.NewPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

// typedSchemas are typedskill's tools' schemas, by tool name.
func typedSchemas(t *testing.T) map[string]manifest.Tool {
	t.Helper()
	doc, err := os.ReadFile("testdata/typedskill/skill.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]manifest.Tool{}
	for _, tool := range m.Entrypoints.Tools {
		tools[tool.Name] = tool
	}
	return tools
}

// TestWrapperOutputMatchesSchema: a tool that returns nil slices, maps
// and []byte produces output its own output schema admits, [] and {}
// where Go would write null, and null where the schema allows it.
func TestWrapperOutputMatchesSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm skill")
	}
	p := typedSkillPlugin(t)
	schemas := typedSchemas(t)
	for _, tt := range []struct {
		tool, input, want string
	}{
		{"inventory", `{}`, `{"names":[],"counts":{},"blob":"","groups":[{"name":"empty","members":[]}],"by_name":{"nobody":[]},"maybe":null,"anything":null,"raw":null,"note":"null stays a string"}`},
		{"inventory", `{"fill":true}`, `{"names":["a"],"counts":{"a":1},"blob":"aGk=","groups":[{"name":"g","members":["a"]}],"by_name":{"a":["g"]},"maybe":[],"anything":null,"raw":[null],"note":""}`},
		{"tags", `{"prefix":"x"}`, `[]`},
		{"tags", `{"prefix":"p"}`, `["palyra"]`},
		{"shout", `{"text":"null"}`, `"NULL!"`},
	} {
		rc, out, err := p.Call(tt.tool, []byte(tt.input))
		if rc != 0 || err != nil {
			t.Errorf("%s %s: rc %d, err %v", tt.tool, tt.input, rc, err)
			continue
		}
		if string(out) != tt.want {
			t.Errorf("%s %s =\n %s\nwant\n %s", tt.tool, tt.input, out, tt.want)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Errorf("%s %s: output is not JSON: %v", tt.tool, tt.input, err)
			continue
		}
		s := schemas[tt.tool].OutputSchema
		if err := validate(v, s, s, "output"); err != nil {
			t.Errorf("%s %s: output %s violates the output schema: %v", tt.tool, tt.input, out, err)
		}
	}
}

// TestWrapperRequired: the wrapper refuses input that lacks a property
// its input schema requires, naming it, at any depth; input that has
// every required property passes, and null counts as present.
func TestWrapperRequired(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm skill")
	}
	p := typedSkillPlugin(t)
	schemas := typedSchemas(t)
	place := `{"name":"A","lat":1,"lon":2}`
	plan := func(override string) string {
		fields := map[string]string{
			"created_by": `"ada"`, "from": place, "to": place, "modes": `["walk"]`,
			"depart": `"2026-01-02T03:04:05Z"`, "window": `[1,2]`, "count": `"3"`, "Untagged": `false`,
		}
		for kv := range strings.SplitSeq(override, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if v == "" {
					delete(fields, k)
				} else {
					fields[k] = v
				}
			}
		}
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ",") + "}"
	}
	for _, tt := range []struct {
		tool, input, wantErr string
	}{
		{"shout", `{}`, `invalid input: missing required field "text"`},
		{"shout", `{"text":null}`, `nothing to shout`}, // present: the tool sees ""
		{"tags", ` {} `, `invalid input: missing required field "prefix"`},
		{"inventory", `{}`, ""}, // nothing required
		{"plan_trip", plan(""), ""},
		{"plan_trip", plan("created_by="), `invalid input: missing required field "created_by"`},
		{"plan_trip", plan("Untagged="), `invalid input: missing required field "Untagged"`},
		{"plan_trip", plan(`from={"name":"A","lat":1}`), `invalid input: missing required field "from.lon"`},
		{"plan_trip", plan(`stops=[{"place":` + place + `},{"place":` + place + `,"sub":[{}]}]`), `invalid input: missing required field "stops[1].sub[0].place"`},
		{"plan_trip", plan(`stops=[{"place":{"name":"B","lat":1,"lon":2},"sub":[{"place":{"lat":0,"lon":0}}]}]`), `invalid input: missing required field "stops[0].sub[0].place.name"`},
		// The first missing one, in the schema's order at each level.
		{"plan_trip", plan("from=;to=;modes="), `invalid input: missing required field "from"`},
		// Unknown fields are still refused first, by the strict decoder.
		{"plan_trip", plan(`created_by=;bogus=1`), `invalid input: json: unknown field "bogus"`},
	} {
		rc, out, err := p.Call(tt.tool, []byte(tt.input))
		if tt.wantErr == "" {
			if rc != 0 || err != nil {
				t.Errorf("%s %s: rc %d, err %v; want success", tt.tool, tt.input, rc, err)
			}
			continue
		}
		if rc != 1 || err == nil || err.Error() != tt.wantErr {
			t.Errorf("%s %s: rc %d, out %s, err %v; want %q", tt.tool, tt.input, rc, out, err, tt.wantErr)
		}
		// What the wrapper refuses, the schema refuses too.
		var v any
		if json.Unmarshal([]byte(tt.input), &v) == nil && strings.HasPrefix(tt.wantErr, "invalid input: missing") {
			s := schemas[tt.tool].InputSchema
			if validate(v, s, s, "input") == nil {
				t.Errorf("%s %s: the input schema admits what the wrapper refused", tt.tool, tt.input)
			}
		}
	}
}

// validate checks v against the JSON Schema s of document doc, for the
// keywords Generate writes. It is the test's independent reading of the
// schemas: enough to tell whether a value conforms.
func validate(v any, s, doc map[string]any, path string) error {
	if ref, ok := s["$ref"].(string); ok {
		target := doc
		if ref != "#" {
			defs, _ := doc["$defs"].(map[string]any)
			target, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		if target == nil {
			return fmt.Errorf("%s: bad $ref %s", path, ref)
		}
		return validate(v, target, doc, path)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			if validate(v, a.(map[string]any), doc, path) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: %v matches no anyOf branch", path, v)
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch typ := typ.(type) {
		case string:
			types = []string{typ}
		case []any:
			for _, x := range typ {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return jsonType(v, t) }) {
			return fmt.Errorf("%s: %s is not of type %v", path, compact(v), types)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
			return fmt.Errorf("%s: %v not in enum %v", path, v, enum)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range asSlice(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %q", path, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range v {
			if ps, ok := props[k].(map[string]any); ok {
				if err := validate(x, ps, doc, path+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q not allowed", path, k)
				}
			case map[string]any:
				if err := validate(x, ap, doc, path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if n, ok := s["minItems"].(int64); ok && int64(len(v)) < n {
			return fmt.Errorf("%s: %d items, want at least %d", path, len(v), n)
		}
		if n, ok := s["maxItems"].(int64); ok && int64(len(v)) > n {
			return fmt.Errorf("%s: %d items, want at most %d", path, len(v), n)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v {
				if err := validate(x, items, doc, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func jsonType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && v == math.Trunc(v)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
