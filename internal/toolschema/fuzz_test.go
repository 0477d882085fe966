package toolschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

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

// FuzzParseJSON checks parseJSON against encoding/json: what one accepts
// the other does (but parseJSON refuses invalid UTF-8, which encoding/json
// replaces), with the same value.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,false,null,"x"]}`, `"\ud83d\ude00 \ud800 \u00e9\n"`, `{"a":1,"a":2}`,
		`[01]`, `1.`, `-`, `"\x01"`, `{"a" 1}`, `[1,]`, ` 7 `, "\"\xff\"", `"\/\b\f\r\t\\\""`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseJSON(data)
		var want any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		werr := d.Decode(&want)
		if werr == nil {
			if _, e := d.Token(); e != io.EOF {
				werr = errors.New("trailing data")
			}
		}
		switch {
		case err == nil && werr != nil:
			t.Fatalf("parseJSON accepted %q, encoding/json: %v", data, werr)
		case err != nil && werr == nil && utf8.Valid(data):
			t.Fatalf("parseJSON refused %q: %v", data, err)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: parseJSON %#v, encoding/json %#v", data, got, want)
		}
	})
}
