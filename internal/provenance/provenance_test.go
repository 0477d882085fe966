package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testInput() Input {
	at := time.Unix(1700000000, 0).UTC()
	return Input{
		BuilderVersion: map[string]string{"go": "go1.26.0"},
		Subjects: []Subject{
			{Name: "modules/b.wasm", SHA256: strings.Repeat("bb", 32)},
			{Name: "modules/a.wasm", SHA256: strings.Repeat("aa", 32)},
		},
		ExternalParameters: map[string]any{"skill": map[string]string{"skill_id": "acme.echo", "version": "1.0.0"}},
		InternalParameters: struct {
			GOOS  string   `json:"goos"`
			Flags []string `json:"flags"`
		}{"wasip1", []string{"-trimpath", "<&>"}},
		Dependencies: []Dependency{
			{Name: "github.com/gobwas/glob", URI: "pkg:golang/github.com/gobwas/glob@v0.2.3",
				Digest: map[string]string{"dirHash": strings.Repeat("03", 32)}},
			{Name: "stdlib", URI: "pkg:golang/stdlib@go1.26.0",
				Digest:      map[string]string{"sha256": strings.Repeat("04", 32)},
				Annotations: map[string]any{"hash": "compiled-files"}},
		},
		StartedOn:  at,
		FinishedOn: at,
	}
}

func TestGenerateParse(t *testing.T) {
	data, err := Generate(testInput())
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(testInput())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("Generate is not deterministic")
	}
	if bytes.Contains(data, []byte(`\u003c`)) || !bytes.Contains(data, []byte(`"<&>"`)) {
		t.Errorf("HTML-escaped output: %s", data)
	}
	doc, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	if doc.BuilderID != DefaultBuilderID {
		t.Errorf("builder.id = %q", doc.BuilderID)
	}
	subj := doc.Statement.GetSubject()
	if len(subj) != 2 || subj[0].GetName() != "modules/a.wasm" || subj[1].GetDigest()["sha256"] != strings.Repeat("bb", 32) {
		t.Errorf("subjects = %v", subj)
	}
	bd := doc.Provenance.GetBuildDefinition()
	if bd.GetBuildType() != BuildType || len(bd.GetResolvedDependencies()) != 2 {
		t.Errorf("buildDefinition = %v", bd)
	}
	if got := bd.GetInternalParameters().GetFields()["goos"].GetStringValue(); got != "wasip1" {
		t.Errorf("internalParameters.goos = %q", got)
	}
	md := doc.Provenance.GetRunDetails().GetMetadata()
	if md.GetStartedOn().AsTime().Unix() != 1700000000 || md.GetFinishedOn().AsTime().Unix() != 1700000000 {
		t.Errorf("metadata = %v", md)
	}
	// Palyra's minimal check: top-level builder object, non-empty subject array.
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["builder"].(map[string]any); !ok {
		t.Error("no top-level builder object")
	}
	if s, _ := top["subject"].([]any); len(s) == 0 {
		t.Error("no top-level subject array")
	}
	if top["_type"] != "https://in-toto.io/Statement/v1" || top["predicateType"] != PredicateType {
		t.Errorf("_type/predicateType = %v/%v", top["_type"], top["predicateType"])
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Input)
	}{
		{"no subjects", func(in *Input) { in.Subjects = nil }},
		{"bad subject digest", func(in *Input) { in.Subjects[0].SHA256 = "abc" }},
		{"empty external parameters", func(in *Input) { in.ExternalParameters = map[string]any{} }},
		{"bad dependency digest", func(in *Input) { in.Dependencies[0].Digest["dirHash"] = "zz" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			tc.edit(&in)
			if _, err := Generate(in); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	in := testInput()
	in.ExternalParameters = []string{"not", "an", "object"}
	if _, err := Generate(in); err == nil {
		t.Fatal("array externalParameters accepted")
	}
}

func TestParseRejects(t *testing.T) {
	good, err := Generate(testInput())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"no builder", func(d map[string]any) { delete(d, "builder") }},
		{"empty builder id", func(d map[string]any) { d["builder"] = map[string]any{"id": ""} }},
		{"no subject", func(d map[string]any) { delete(d, "subject") }},
		{"wrong type", func(d map[string]any) { d["_type"] = "https://example.com/x" }},
		{"wrong predicate type", func(d map[string]any) { d["predicateType"] = "https://slsa.dev/provenance/v0.2" }},
		{"no runDetails", func(d map[string]any) { delete(d["predicate"].(map[string]any), "runDetails") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			_ = json.Unmarshal(good, &d)
			tc.edit(d)
			b, _ := json.Marshal(d)
			if _, err := Parse(b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	// Palyra's own example (builder + subject, no in-toto fields) is not a
	// Statement: Parse must say so rather than accept it.
	palyraExample := `{"builder":{"id":"local-dev"},"subject":[{"name":"module.wasm","digest":{"sha256":"` + strings.Repeat("00", 32) + `"}}]}`
	if _, err := Parse([]byte(palyraExample)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("minimal Palyra document: err = %v, want ErrInvalid", err)
	}
}
