package toolschema

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// BenchmarkValidate1KiB validates the 1 KiB echo input of the host's
// benchmark (a host call validates it twice: input and output).
func BenchmarkValidate1KiB(b *testing.B) {
	s := `{"type":"object","properties":{"text":{"type":"string","maxLength":4096}},"required":["text"],"additionalProperties":false}`
	tool, err := compileTool(b, s, s)
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(`{"text":"` + strings.Repeat("0123456789abcdef", 64)[:1024-len(`{"text":""}`)] + `"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := tool.ValidateInput(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSON1KiB(b *testing.B) {
	in := []byte(`{"text":"` + strings.Repeat("0123456789abcdef", 64)[:1024-len(`{"text":""}`)] + `"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := parseJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLibraryUnmarshalJSON1KiB is the baseline parseJSON replaced:
// the library's UnmarshalJSON (encoding/json's decoder, UseNumber).
func BenchmarkLibraryUnmarshalJSON1KiB(b *testing.B) {
	in := []byte(`{"text":"` + strings.Repeat("0123456789abcdef", 64)[:1024-len(`{"text":""}`)] + `"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := jsonschema.UnmarshalJSON(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
