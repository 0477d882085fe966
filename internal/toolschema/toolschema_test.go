package toolschema

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

// schemaOf turns JSON into the values a manifest holds.
func schemaOf(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func compileTool(t testing.TB, in, out string) (*Tool, error) {
	t.Helper()
	return Compile(manifest.Tool{ID: "acme.echo", Name: "echo", InputSchema: schemaOf(t, in), OutputSchema: schemaOf(t, out)})
}

const echoIn = `{"type":"object","required":["text"],"additionalProperties":false,
	"properties":{"text":{"type":"string","maxLength":8},"tags":{"type":"array","items":{"type":"integer","minimum":3}},
	"a/b":{"type":"boolean"},"mode":{"enum":["x","y"]},"n":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`

func TestValidate(t *testing.T) {
	tool, err := compileTool(t, echoIn, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, doc, path, rule, msg string
	}{
		{"valid", `{"text":"hi","tags":[3,4]}`, "", "", ""},
		{"wrong type", `{"text":42}`, "/text", "type", "got number, want string"},
		{"missing", `{}`, "", "required", "missing property 'text'"},
		{"item", `{"text":"x","tags":[5,1]}`, "/tags/1", "minimum", "got 1, want 3"},
		{"too long", `{"text":"123456789"}`, "/text", "maxLength", ""},
		{"extra property", `{"text":"x","nope":1}`, "", "additionalProperties", "nope"},
		{"escaped pointer", `{"text":"x","a/b":"no"}`, "/a~1b", "type", ""},
		{"enum", `{"text":"x","mode":"z"}`, "/mode", "enum", ""},
		{"anyOf reported as itself", `{"text":"x","n":true}`, "/n", "anyOf", ""},
		{"not json", `not json`, "", "json", "not JSON"},
		{"empty", ``, "", "json", "not JSON: empty"},
		{"trailing data", `{"text":"x"} {}`, "", "json", "after the top-level value"},
		{"not an object", `"text"`, "", "type", "want object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tool.ValidateInput([]byte(c.doc))
			if c.rule == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrSchemaViolation) {
				t.Fatalf("want *ValidationError, got %T %v", err, err)
			}
			if ve.Path != c.path || ve.Rule != c.rule || ve.Direction != Input || ve.Tool != "acme.echo" {
				t.Errorf("got path %q rule %q dir %s tool %s, want %q %q (%v)", ve.Path, ve.Rule, ve.Direction, ve.Tool, c.path, c.rule, err)
			}
			if !strings.Contains(ve.Message, c.msg) {
				t.Errorf("message %q lacks %q", ve.Message, c.msg)
			}
			if !strings.Contains(err.Error(), "("+c.rule+")") || !strings.Contains(err.Error(), "acme.echo: input ") {
				t.Errorf("error %q names neither rule nor tool", err)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tool, err := compileTool(t, echoIn, `{"type":"object","required":["text"]}`)
	if err != nil {
		t.Fatal(err)
	}
	err = tool.ValidateInput([]byte(`{"text":42}`))
	if want := "tool acme.echo: input /text: got number, want string (type)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	err = tool.ValidateOutput([]byte(`{}`))
	if want := "tool acme.echo: output (root): missing property 'text' (required)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	err = tool.ValidateInput([]byte(`{"text":1,"tags":["a"]}`))
	if err == nil || !strings.HasSuffix(err.Error(), ", and 1 more") {
		t.Errorf("got %v, want a count of the other violation", err)
	}
}

func TestEmptySchemaTakesAnything(t *testing.T) {
	tool, err := compileTool(t, `{}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "not json", `{"a":1}`} {
		if err := tool.ValidateInput([]byte(d)); err != nil {
			t.Errorf("%q: %v", d, err)
		}
		if err := tool.ValidateOutput([]byte(d)); err != nil {
			t.Errorf("%q: %v", d, err)
		}
	}
}

func TestInvalidSchemas(t *testing.T) {
	for _, c := range []struct {
		name, schema string
		want         []string // in the error
	}{
		{"issue 12: type 42", `{"type":42,"required":"text","properties":7}`,
			[]string{"/type: value must be one of", "/required: got string, want array", "/properties: got number, want object"}},
		{"unknown type name", `{"type":"strng"}`, []string{"/type"}},
		{"bad nested", `{"type":"object","properties":{"a":{"minimum":"3"}}}`, []string{"/properties/a/minimum"}},
		{"bad regexp", `{"type":"string","pattern":"(?=x)"}`, []string{"/pattern", "not valid regex"}},
		{"2020-12 by default", `{"maximum":5,"exclusiveMaximum":true}`, []string{"/exclusiveMaximum: got boolean, want number"}},
		{"external ref, absolute", `{"$ref":"https://example.com/s.json"}`, []string{"https://example.com/s.json", "external reference refused"}},
		{"external ref, relative", `{"$ref":"other.json"}`, []string{"external reference refused"}},
		{"external ref, file", `{"$ref":"file:///etc/passwd"}`, []string{"external reference refused"}},
		{"external ref after $id", `{"$id":"https://evil.example/a.json","properties":{"x":{"$ref":"b.json"}}}`, []string{"evil.example/b.json", "external reference refused"}},
		{"unknown meta-schema", `{"$schema":"https://example.com/meta.json"}`, []string{"example.com/meta.json"}},
		{"missing local ref", `{"$ref":"#/$defs/nope"}`, []string{"nope"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileTool(t, `{}`, c.schema)
			var se *SchemaError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("want *SchemaError, got %T %v", err, err)
			}
			if se.Tool != "acme.echo" || se.Direction != Output || !strings.Contains(err.Error(), "output_schema") {
				t.Errorf("error does not name tool and schema: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidSchemas(t *testing.T) {
	for _, c := range []struct{ name, schema, good, bad string }{
		{"local ref", `{"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"}}}`, `{"a":"x"}`, `{"a":1}`},
		{"self ref by $id", `{"$id":"https://example.com/t.json","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"t.json#/$defs/s"}}}`, `{"a":"x"}`, `{"a":1}`},
		{"2020-12 meta by name", `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"string"}]}`, `["x"]`, `[1]`},
		{"draft-04 when declared", `{"$schema":"http://json-schema.org/draft-04/schema#","maximum":5,"exclusiveMaximum":true}`, `4`, `5`},
		{"draft-07 when declared", `{"$schema":"http://json-schema.org/draft-07/schema#","items":[{"type":"string"}]}`, `["x"]`, `[1]`},
		{"format is an annotation", `{"type":"string","format":"email"}`, `"not an email"`, `1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tool, err := compileTool(t, c.schema, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			if err := tool.ValidateInput([]byte(c.good)); err != nil {
				t.Errorf("good: %v", err)
			}
			if err := tool.ValidateInput([]byte(c.bad)); !errors.Is(err, ErrSchemaViolation) {
				t.Errorf("bad: got %v", err)
			}
		})
	}
}

func TestCompileManifestJoinsErrors(t *testing.T) {
	m := &manifest.Manifest{Entrypoints: manifest.Entrypoints{Tools: []manifest.Tool{
		{ID: "a.one", InputSchema: schemaOf(t, `{"type":42}`), OutputSchema: schemaOf(t, `{}`)},
		{ID: "a.two", InputSchema: schemaOf(t, `{}`), OutputSchema: schemaOf(t, `{"required":"x"}`)},
		{ID: "a.ok", InputSchema: schemaOf(t, `{"type":"object"}`), OutputSchema: schemaOf(t, `{}`)},
	}}}
	_, err := CompileManifest(m)
	for _, w := range []string{"tool a.one: input_schema", "tool a.two: output_schema"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "a.ok") {
		t.Errorf("error names the valid tool: %v", err)
	}
}

// TestManifestSchemasCompile: Palyra's own manifests (testdata/palyra,
// copied from Palyra's crates/palyra-skills at 1e2f4d1f: its example
// echo-http and the sample manifest of its tests) and this repository's
// examples and test skills have valid schemas.
func TestManifestSchemasCompile(t *testing.T) {
	files, _ := filepath.Glob("testdata/palyra/*.toml")
	more, _ := filepath.Glob("../../examples/*/skill.toml")
	files = append(files, more...)
	more, _ = filepath.Glob("../../host/testdata/*/skill.toml")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tools, err := CompileManifest(m)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(tools) != len(m.Entrypoints.Tools) || len(tools) == 0 {
			t.Errorf("%s: compiled %d of %d tools", f, len(tools), len(m.Entrypoints.Tools))
		}
	}
}

func TestPalyraEchoContract(t *testing.T) {
	data, err := os.ReadFile("testdata/palyra/echo-http.skill.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := CompileManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	echo := tools["acme.echo"]
	if err := echo.ValidateInput([]byte(`{"text":"hi"}`)); err != nil {
		t.Error(err)
	}
	if err := echo.ValidateOutput([]byte(`{"echo":"hi"}`)); err != nil {
		t.Error(err)
	}
	if err := echo.ValidateOutput([]byte(`{}`)); !errors.Is(err, ErrSchemaViolation) {
		t.Errorf("output {} passed: %v", err)
	}
}
