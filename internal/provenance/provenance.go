package provenance

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Well-known URIs of the documents this package writes.
const (
	// PredicateType is SLSA Provenance v1.
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType names palyra-go's build of a Wasm skill: Go sources compiled
	// with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared, then packaged.
	BuildType = "https://github.com/palyra/palyra-go/buildtypes/wasm-skill/v1"
	// DefaultBuilderID identifies palyra-gen as the builder.
	DefaultBuilderID = "https://github.com/palyra/palyra-go/gen/cmd/palyra-gen"
)

// ErrInvalid reports a provenance document that is not a valid in-toto
// Statement v1 with an SLSA Provenance v1 predicate and Palyra's top-level
// builder object.
var ErrInvalid = errors.New("invalid provenance")

// Subject is one artifact the provenance speaks for: a module file and its
// SHA-256 (lowercase hex).
type Subject struct {
	Name   string
	SHA256 string
}

// Dependency is one resolved dependency of the build (a Go module, the
// standard library). Digest maps in-toto digest algorithm names (sha256,
// dirHash, …) to lowercase hex.
type Dependency struct {
	Name        string
	URI         string
	Digest      map[string]string
	Annotations map[string]any
}

// Input is everything Generate records.
type Input struct {
	// BuilderID defaults to DefaultBuilderID; BuildType to BuildType.
	BuilderID string
	BuildType string
	// BuilderVersion is runDetails.builder.version (e.g. {"go": "go1.26.1"}).
	BuilderVersion map[string]string
	Subjects       []Subject
	// ExternalParameters and InternalParameters are any values that
	// encoding/json turns into a JSON object. ExternalParameters must not
	// be empty (SLSA requires it).
	ExternalParameters any
	InternalParameters any
	Dependencies       []Dependency
	// StartedOn and FinishedOn are written when not zero (use
	// SOURCE_DATE_EPOCH for reproducible output).
	StartedOn, FinishedOn time.Time
}

// Document is a parsed and validated provenance.json.
type Document struct {
	Statement  *intoto.Statement
	Provenance *slsa.Provenance
	// BuilderID is the top-level builder.id Palyra checks.
	BuilderID string
}

// Generate builds the statement, validates it with the in-toto and SLSA
// validators, and returns it as deterministic JSON (sorted keys, two-space
// indent, trailing newline).
func Generate(in Input) ([]byte, error) {
	if len(in.Subjects) == 0 {
		return nil, fmt.Errorf("provenance: %w: no subjects", ErrInvalid)
	}
	builderID := cmp.Or(in.BuilderID, DefaultBuilderID)
	ext, err := toStruct(in.ExternalParameters)
	if err != nil {
		return nil, fmt.Errorf("provenance: externalParameters: %w", err)
	}
	var internal *structpb.Struct
	if in.InternalParameters != nil {
		if internal, err = toStruct(in.InternalParameters); err != nil {
			return nil, fmt.Errorf("provenance: internalParameters: %w", err)
		}
	}
	deps := make([]*intoto.ResourceDescriptor, 0, len(in.Dependencies))
	for _, d := range in.Dependencies {
		rd := &intoto.ResourceDescriptor{Name: d.Name, Uri: d.URI, Digest: d.Digest}
		if len(d.Annotations) > 0 {
			if rd.Annotations, err = toStruct(d.Annotations); err != nil {
				return nil, fmt.Errorf("provenance: dependency %s annotations: %w", d.Name, err)
			}
		}
		deps = append(deps, rd)
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            cmp.Or(in.BuildType, BuildType),
			ExternalParameters:   ext,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: builderID, Version: in.BuilderVersion},
		},
	}
	if !in.StartedOn.IsZero() || !in.FinishedOn.IsZero() {
		md := &slsa.BuildMetadata{}
		if !in.StartedOn.IsZero() {
			md.StartedOn = timestamppb.New(in.StartedOn)
		}
		if !in.FinishedOn.IsZero() {
			md.FinishedOn = timestamppb.New(in.FinishedOn)
		}
		pred.RunDetails.Metadata = md
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w: %w", ErrInvalid, err)
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode predicate: %w", err)
	}
	predStruct := &structpb.Struct{}
	if err := protojson.Unmarshal(predJSON, predStruct); err != nil {
		return nil, fmt.Errorf("provenance: predicate as struct: %w", err)
	}
	subjects := append([]Subject(nil), in.Subjects...)
	sort.Slice(subjects, func(i, j int) bool { return subjects[i].Name < subjects[j].Name })
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		PredicateType: PredicateType,
		Predicate:     predStruct,
	}
	for _, s := range subjects {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{
			Name:   s.Name,
			Digest: map[string]string{"sha256": s.SHA256},
		})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w: %w", ErrInvalid, err)
	}
	stJSON, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode statement: %w", err)
	}
	// Normalise protojson's unstable whitespace and add Palyra's builder
	// object: decode to a map and let encoding/json write it with sorted
	// keys. UseNumber keeps any number exactly as protojson wrote it.
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(stJSON))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("provenance: normalise: %w", err)
	}
	doc["builder"] = map[string]any{"id": builderID}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("provenance: normalise: %w", err)
	}
	return out.Bytes(), nil
}

// Parse decodes provenance.json and validates it: the in-toto Statement, its
// SLSA Provenance v1 predicate, and Palyra's top-level builder object with a
// non-empty id. Unknown top-level fields are ignored, as Palyra's builder
// object must be.
func Parse(data []byte) (*Document, error) {
	var top struct {
		Builder *struct {
			ID string `json:"id"`
		} `json:"builder"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("provenance: %w: %w", ErrInvalid, err)
	}
	if top.Builder == nil || top.Builder.ID == "" {
		return nil, fmt.Errorf("provenance: %w: no top-level builder.id", ErrInvalid)
	}
	st := &intoto.Statement{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("provenance: %w: statement: %w", ErrInvalid, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w: statement: %w", ErrInvalid, err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("provenance: %w: predicateType %q, want %q", ErrInvalid, st.GetPredicateType(), PredicateType)
	}
	predJSON, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("provenance: %w: predicate: %w", ErrInvalid, err)
	}
	pred := &slsa.Provenance{}
	if err := protojson.Unmarshal(predJSON, pred); err != nil {
		return nil, fmt.Errorf("provenance: %w: predicate: %w", ErrInvalid, err)
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w: predicate: %w", ErrInvalid, err)
	}
	return &Document{Statement: st, Provenance: pred, BuilderID: top.Builder.ID}, nil
}

// toStruct converts v to a protobuf Struct through its JSON form, so callers
// can pass typed Go structs with json tags.
func toStruct(v any) (*structpb.Struct, error) {
	if v == nil {
		return &structpb.Struct{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		return nil, fmt.Errorf("want a JSON object, got %.40s", b)
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}
