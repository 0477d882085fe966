package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"
)

func testInput() Input {
	at := time.Unix(1700000000, 0).UTC()
	return Input{
		BuilderVersion: map[string]string{"go": "go1.26.0", "palyra-gen": "v1.4.0"},
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
				Digest: map[string]string{"dirHash": strings.Repeat("03", 32), "sha256": strings.Repeat("05", 32)}},
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
	if !uuidRE.MatchString(md.GetInvocationId()) || md.GetInvocationId()[23] != '8' {
		t.Errorf("invocationId = %q, want a derived (version 8) urn:uuid", md.GetInvocationId())
	}
	b := doc.Provenance.GetRunDetails().GetBuilder()
	if b.GetId() != DefaultBuilderID || b.GetVersion()["palyra-gen"] != "v1.4.0" {
		t.Errorf("runDetails.builder = %v", b)
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

var uuidRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRunDetails covers runDetails.metadata: the times as given, and the
// invocation id — the caller's, or derived from the inputs so that equal
// inputs give equal ids and different inputs different ones.
func TestRunDetails(t *testing.T) {
	start := time.Date(2026, 12, 5, 8, 0, 0, 123e6, time.UTC)
	derived := func(edit func(*Input)) string {
		t.Helper()
		in := testInput()
		if edit != nil {
			edit(&in)
		}
		data, err := Generate(in)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return doc.Provenance.GetRunDetails().GetMetadata().GetInvocationId()
	}
	base := derived(nil)
	for _, tc := range []struct {
		name           string
		edit           func(*Input)
		wantStart      time.Time
		wantFinish     time.Time
		wantID         string // "" = any derived id other than base's; "base" = base's
		wantRandomUUID bool
	}{
		{name: "reproducible: one time, derived id", wantStart: time.Unix(1700000000, 0), wantFinish: time.Unix(1700000000, 0), wantID: "base"},
		{name: "real start and finish",
			edit:      func(in *Input) { in.StartedOn, in.FinishedOn = start, start.Add(1500*time.Millisecond) },
			wantStart: start, wantFinish: start.Add(1500 * time.Millisecond)},
		{name: "other subjects, other id",
			edit:      func(in *Input) { in.Subjects[0].SHA256 = strings.Repeat("cc", 32) },
			wantStart: time.Unix(1700000000, 0), wantFinish: time.Unix(1700000000, 0)},
		{name: "caller's id",
			edit:      func(in *Input) { in.InvocationID = "build-42" },
			wantStart: time.Unix(1700000000, 0), wantFinish: time.Unix(1700000000, 0), wantID: "build-42"},
		{name: "random id",
			edit:      func(in *Input) { in.InvocationID = NewInvocationID() },
			wantStart: time.Unix(1700000000, 0), wantFinish: time.Unix(1700000000, 0), wantRandomUUID: true},
		{name: "no times",
			edit: func(in *Input) { in.StartedOn, in.FinishedOn = time.Time{}, time.Time{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			data, err := Generate(in)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			md := doc.Provenance.GetRunDetails().GetMetadata()
			if got := md.GetStartedOn(); (got == nil) != tc.wantStart.IsZero() || got != nil && !got.AsTime().Equal(tc.wantStart) {
				t.Errorf("startedOn = %v, want %v", got, tc.wantStart)
			}
			if got := md.GetFinishedOn(); (got == nil) != tc.wantFinish.IsZero() || got != nil && !got.AsTime().Equal(tc.wantFinish) {
				t.Errorf("finishedOn = %v, want %v", got, tc.wantFinish)
			}
			id := md.GetInvocationId()
			switch {
			case tc.wantRandomUUID:
				if !uuidRE.MatchString(id) || id[23] != '4' {
					t.Errorf("invocationId = %q, want a random (version 4) urn:uuid", id)
				}
			case tc.wantID == "base":
				if id != base {
					t.Errorf("invocationId = %q, want %q (same inputs)", id, base)
				}
			case tc.wantID != "":
				if id != tc.wantID {
					t.Errorf("invocationId = %q, want %q", id, tc.wantID)
				}
			default:
				if !uuidRE.MatchString(id) || id == base {
					t.Errorf("invocationId = %q: want a derived urn:uuid other than %q", id, base)
				}
			}
		})
	}
	if a, b := NewInvocationID(), NewInvocationID(); a == b {
		t.Errorf("NewInvocationID returned %s twice", a)
	}
}

// TestGoModuleDigest checks the digest names of a Go module: its dirhash
// only as in-toto "dirHash" (hex), "sha256" only for the module zip.
func TestGoModuleDigest(t *testing.T) {
	const (
		globSum = "h1:A4xDbljILXROh+kObIiy5kIaPYD8e96x1tgBhUI5J+Y="
		globHex = "038c436e58c82d744e87e90e6c88b2e6421a3d80fc7bdeb1d6d80185423927e6"
		globZip = "0cfe486cd63d45ed4cb5863ff1cbd14b15e4b9380dcbf80ff26991b4049f4fdf"
	)
	for _, tc := range []struct {
		name, dirhash, zip string
		want               map[string]string // nil = ErrInvalid
	}{
		{"dirhash and zip", globSum, globZip, map[string]string{"dirHash": globHex, "sha256": globZip}},
		{"dirhash only", globSum, "", map[string]string{"dirHash": globHex}},
		{"zip only", "", globZip, map[string]string{"sha256": globZip}},
		{"neither", "", "", nil},
		{"dirhash in hex", globHex, "", nil},
		{"dirhash without h1", strings.TrimPrefix(globSum, "h1:"), "", nil},
		{"zip in h1 form", "", globSum, nil},
		{"uppercase zip", "", strings.ToUpper(globZip), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GoModuleDigest(tc.dirhash, tc.zip)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Fatalf("= %v, %v; want %v", got, err, tc.want)
			}
		})
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
		{"finished before started", func(in *Input) { in.FinishedOn = in.StartedOn.Add(-time.Second) }},
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

// FuzzParse feeds Parse arbitrary bytes: it must not panic, and whatever it
// accepts has Palyra's builder id and at least one subject.
func FuzzParse(f *testing.F) {
	good, err := Generate(testInput())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"builder":{"id":"x"},"subject":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if doc.BuilderID == "" || len(doc.Statement.GetSubject()) == 0 {
			t.Fatalf("accepted %q without a builder id or subjects", data)
		}
	})
}
