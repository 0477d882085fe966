package provenance

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// In-toto digest set algorithm names this package writes (in-toto
// attestation spec v1, digest_set.md).
const (
	// DigestSHA256 is the SHA-256 of a file, lowercase hex.
	DigestSHA256 = "sha256"
	// DigestDirHash is a Go dirhash (golang.org/x/mod/sumdb/dirhash
	// Hash1) without its "h1:" prefix, in lowercase hex instead of base64.
	DigestDirHash = "dirHash"
)

// Dependency is one resolved dependency of the build (a Go module, the
// standard library). Digest maps in-toto digest algorithm names
// (DigestSHA256, DigestDirHash, …) to lowercase hex; GoModuleDigest builds
// one for a Go module.
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
	// StartedOn and FinishedOn are written when not zero. For a
	// reproducible build pass the same SOURCE_DATE_EPOCH time for both;
	// otherwise the real start and finish. FinishedOn before StartedOn is
	// refused.
	StartedOn, FinishedOn time.Time
	// InvocationID is runDetails.metadata.invocationId. When empty,
	// Generate derives one from the SHA-256 of everything else in Input (a
	// urn:uuid), so equal inputs give equal documents; a non-reproducible
	// build should pass a random one (NewInvocationID).
	InvocationID string
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
	if !in.StartedOn.IsZero() && !in.FinishedOn.IsZero() && in.FinishedOn.Before(in.StartedOn) {
		return nil, fmt.Errorf("provenance: %w: finishedOn %s is before startedOn %s", ErrInvalid,
			in.FinishedOn.UTC().Format(time.RFC3339Nano), in.StartedOn.UTC().Format(time.RFC3339Nano))
	}
	if in.InvocationID == "" {
		id, err := derivedInvocationID(in)
		if err != nil {
			return nil, fmt.Errorf("provenance: invocation id: %w", err)
		}
		in.InvocationID = id
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
	md := &slsa.BuildMetadata{InvocationId: in.InvocationID}
	if !in.StartedOn.IsZero() {
		md.StartedOn = timestamppb.New(in.StartedOn)
	}
	if !in.FinishedOn.IsZero() {
		md.FinishedOn = timestamppb.New(in.FinishedOn)
	}
	pred.RunDetails.Metadata = md
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

// GoModuleDigest is the in-toto digest set of a Go module: DigestDirHash
// from its dirhash ("h1:" + base64, as go.sum writes it), and DigestSHA256
// only when zipSHA256 — the SHA-256 of the module's zip file — is known.
// Either may be empty, not both.
func GoModuleDigest(dirhash, zipSHA256 string) (map[string]string, error) {
	d := map[string]string{}
	if dirhash != "" {
		b64, ok := strings.CutPrefix(dirhash, "h1:")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("provenance: %w: dirhash %q is not h1: and 32 base64-encoded bytes", ErrInvalid, dirhash)
		}
		d[DigestDirHash] = hex.EncodeToString(raw)
	}
	if zipSHA256 != "" {
		if raw, err := hex.DecodeString(zipSHA256); err != nil || len(raw) != sha256.Size || strings.ToLower(zipSHA256) != zipSHA256 {
			return nil, fmt.Errorf("provenance: %w: zip sha256 %q is not 64 lowercase hex digits", ErrInvalid, zipSHA256)
		}
		d[DigestSHA256] = zipSHA256
	}
	if len(d) == 0 {
		return nil, fmt.Errorf("provenance: %w: a Go module needs a dirhash or a zip sha256", ErrInvalid)
	}
	return d, nil
}

// NewInvocationID returns a random urn:uuid (version 4) for a build that is
// not reproducible.
func NewInvocationID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u[:])
}

// derivedInvocationID is a urn:uuid (version 8) from the SHA-256 of in's
// canonical JSON: encoding/json sorts map keys, so equal inputs give equal
// ids.
func derivedInvocationID(in Input) (string, error) {
	in.InvocationID = ""
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	u := h[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u), nil
}

func formatUUID(u []byte) string {
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
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
