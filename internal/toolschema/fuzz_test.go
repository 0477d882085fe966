package toolschema

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

// FuzzValidate feeds untrusted documents (a caller's input, a guest's
// output) to the validator: it never panics, and a document it accepts is
// JSON.
func FuzzValidate(f *testing.F) {
	tool, err := compileTool(f, echoIn, `{}`)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"text":"hi"}`, `{"text":42}`, `not json`, ``, `{"text":"x","tags":[1,2,3]}`, `[[[[[`, `{"a/b":true}`, `1e999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := tool.ValidateInput(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("accepted non-JSON %q", data)
		}
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error of type %T: %v", err, err)
		}
	})
}

// FuzzCompile feeds arbitrary schemas (a manifest is untrusted until
// audited) to the compiler: it never panics, and either compiles or says
// why with a *SchemaError.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{echoIn, `{"type":42}`, `{"$ref":"x.json"}`, `{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, `{"pattern":"("}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s map[string]any
		if json.Unmarshal(data, &s) != nil {
			return
		}
		tool, err := Compile(manifest.Tool{ID: "a.b", InputSchema: s, OutputSchema: map[string]any{}})
		var se *SchemaError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if err == nil {
			tool.ValidateInput([]byte(`{"a":[1,"x",null]}`))
		}
	})
}
