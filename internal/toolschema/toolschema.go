package toolschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/palyra/palyra-go/internal/manifest"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrInvalidSchema: a tool's schema is not a valid JSON Schema, or
	// needs something from outside itself.
	ErrInvalidSchema = errors.New("invalid tool schema")
	// ErrSchemaViolation: a tool's input or output breaks its schema.
	ErrSchemaViolation = errors.New("tool schema violation")
	// ErrExternalRef: a schema refers to a document other than itself;
	// nothing is loaded, so such a schema is invalid.
	ErrExternalRef = errors.New("external reference refused: tool schemas are compiled without loading anything")
)

// Direction says which of a tool's schemas: its input's or its output's.
type Direction string

// Directions.
const (
	Input  Direction = "input"
	Output Direction = "output"
)

// SchemaError is a tool schema that does not compile.
type SchemaError struct {
	Tool      string
	Direction Direction
	// Problems name what is wrong, each "LOCATION: message" with LOCATION
	// a JSON Pointer into the schema ("(root)" for the schema itself).
	Problems []string
	Err      error // the compiler's error
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("tool %s: %s_schema: %v: %s", e.Tool, e.Direction, ErrInvalidSchema, strings.Join(e.Problems, "; "))
}

// Unwrap returns ErrInvalidSchema and the compiler's error.
func (e *SchemaError) Unwrap() []error { return []error{ErrInvalidSchema, e.Err} }

// ValidationError is a document that breaks a tool's schema: the first
// violation found, and how many more there are.
type ValidationError struct {
	Tool      string
	Direction Direction
	// Path is the JSON Pointer of the offending value in the document
	// ("" for the document itself).
	Path string
	// Rule is the schema keyword the value broke ("type", "required",
	// "additionalProperties"…), or "json" when the document is not JSON.
	Rule string
	// Message says how, like "got number, want string".
	Message string
	// More counts the other violations found.
	More int
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tool %s: %s %s: %s (%s)", e.Tool, e.Direction, displayPath(e.Path), e.Message, e.Rule)
	if e.More > 0 {
		fmt.Fprintf(&b, ", and %d more", e.More)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrSchemaViolation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrSchemaViolation }

func displayPath(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// Tool is a tool's compiled schemas, safe for concurrent use.
type Tool struct {
	ID            string
	input, output *jsonschema.Schema // nil: the schema is empty and constrains nothing
}

// Compile compiles the input and output schemas of t. The error, when
// there is one, joins a *SchemaError per invalid schema.
func Compile(t manifest.Tool) (*Tool, error) {
	in, err1 := compile(t.ID, Input, t.InputSchema)
	out, err2 := compile(t.ID, Output, t.OutputSchema)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &Tool{ID: t.ID, input: in, output: out}, nil
}

// CompileManifest compiles the schemas of every tool of m, keyed by tool
// id. The error joins every invalid schema's *SchemaError.
func CompileManifest(m *manifest.Manifest) (map[string]*Tool, error) {
	out := make(map[string]*Tool, len(m.Entrypoints.Tools))
	var errs []error
	for _, t := range m.Entrypoints.Tools {
		c, err := Compile(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[t.ID] = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ValidateInput checks a tool input against the input schema.
func (t *Tool) ValidateInput(data []byte) error { return t.validate(Input, t.input, data) }

// ValidateOutput checks a tool output against the output schema.
func (t *Tool) ValidateOutput(data []byte) error { return t.validate(Output, t.output, data) }

// schemaURL is where a schema is compiled from: a name nothing resolves,
// so that a relative "$ref" resolves to a URL the loader refuses.
const schemaURL = "https://tool-schema.palyra.invalid/schema.json"

// refusingLoader is the compiler's loader: the standard meta-schemas are
// built into the library and never reach it; anything else is external.
type refusingLoader struct{}

func (refusingLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: %w", url, ErrExternalRef)
}

func compile(tool string, d Direction, s map[string]any) (*jsonschema.Schema, error) {
	if len(s) == 0 {
		return nil, nil
	}
	fail := func(err error, problems ...string) error {
		if len(problems) == 0 {
			problems = []string{err.Error()}
		}
		return &SchemaError{Tool: tool, Direction: d, Problems: problems, Err: err}
	}
	// The manifest holds TOML values (int64 among them); the compiler
	// wants what its own JSON decoder makes.
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fail(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fail(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fail(err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		var ve *jsonschema.SchemaValidationError
		var le *jsonschema.LoadURLError
		switch {
		case errors.As(err, &ve):
			var v *jsonschema.ValidationError
			if errors.As(ve.Err, &v) {
				return nil, fail(err, metaProblems(v)...)
			}
		case errors.As(err, &le):
			return nil, fail(err, fmt.Sprintf("%s: %v", strings.TrimPrefix(le.URL, schemaURL), ErrExternalRef))
		}
		return nil, fail(err, strings.ReplaceAll(err.Error(), schemaURL, ""))
	}
	return sch, nil
}

// metaProblems lists the leaves of a meta-schema validation failure, one
// per location in the schema, sorted.
func metaProblems(v *jsonschema.ValidationError) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := displayPath(pointer(e.InstanceLocation))
			if !seen[loc] {
				seen[loc] = true
				out = append(out, loc+": "+e.ErrorKind.LocalizedString(printer))
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(v)
	slices.Sort(out) // the library's order varies from run to run
	return out
}

func (t *Tool) validate(d Direction, sch *jsonschema.Schema, data []byte) error {
	if sch == nil {
		return nil
	}
	doc, err := parseJSON(data)
	if err != nil {
		msg := "not JSON: " + err.Error()
		if len(bytes.TrimSpace(data)) == 0 {
			msg = "not JSON: empty"
		}
		return &ValidationError{Tool: t.ID, Direction: d, Rule: "json", Message: msg}
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var v *jsonschema.ValidationError
	if !errors.As(err, &v) {
		return &ValidationError{Tool: t.ID, Direction: d, Rule: "schema", Message: err.Error()}
	}
	first := pick(v)
	out := &ValidationError{Tool: t.ID, Direction: d, Path: pointer(first.InstanceLocation),
		Message: first.ErrorKind.LocalizedString(printer), More: leaves(v) - 1}
	if kp := first.ErrorKind.KeywordPath(); len(kp) > 0 {
		out.Rule = kp[len(kp)-1]
	} else {
		out.Rule = "false" // a false schema (additionalProperties = false among others)
	}
	if out.More < 0 {
		out.More = 0
	}
	return out
}

// pick returns the violation to report: it goes down through the errors
// that only group others (the schema, a $ref, allOf) to the first one
// that names a rule. anyOf, oneOf and not are reported as themselves:
// which branch the caller meant is not known.
func pick(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		switch e.ErrorKind.(type) {
		case *kind.Schema, *kind.Reference, *kind.Group, *kind.AllOf:
			e = e.Causes[0]
		default:
			return e
		}
	}
	return e
}

func leaves(e *jsonschema.ValidationError) int {
	if len(e.Causes) == 0 {
		return 1
	}
	n := 0
	for _, c := range e.Causes {
		n += leaves(c)
	}
	return n
}

// printer renders the library's messages (read-only once made).
var printer = message.NewPrinter(language.English)

// pointer is the JSON Pointer (RFC 6901) of an instance location.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
