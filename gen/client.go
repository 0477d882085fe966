package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
)

// ClientFile is the file GenerateClient writes into ClientOptions.Out.
const ClientFile = "palyra_client.gen.go"

// ClientOptions say where GenerateClient reads a skill's manifest and
// where it writes the client. Exactly one of Manifest and Artifact is set.
type ClientOptions struct {
	// Manifest is a skill.toml file.
	Manifest string
	// Artifact is a .palyra-skill file. Its integrity is verified (every
	// entry against the signed payload digest) but not whether its
	// publisher is trusted: generating code runs nothing from it.
	Artifact string
	// Package is the Go package name of the client.
	Package string
	// Out is the directory to write ClientFile into (created if needed).
	Out string
}

// ClientResult describes a generated client.
type ClientResult struct {
	File    string   `json:"file"`
	Package string   `json:"package"`
	SkillID string   `json:"skill_id"`
	Version string   `json:"version"`
	Methods []string `json:"methods"` // one per tool, in tool name order
}

// GenerateClient writes a typed Go client for a skill's tools: see
// ClientSource.
func GenerateClient(ctx context.Context, opts ClientOptions) (*ClientResult, error) {
	if (opts.Manifest == "") == (opts.Artifact == "") {
		return nil, fmt.Errorf("client: give a manifest or an artifact, not both or neither")
	}
	if opts.Out == "" {
		return nil, fmt.Errorf("client: no output directory")
	}
	var doc []byte
	if opts.Manifest != "" {
		data, err := os.ReadFile(opts.Manifest)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		doc = data
	} else {
		f, err := os.Open(opts.Artifact)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		a, err := artifact.Open(ctx, f, st.Size(), nil)
		if err != nil {
			return nil, fmt.Errorf("client: %s: %w", opts.Artifact, err)
		}
		doc = a.ManifestTOML
	}
	src, m, err := clientSource(doc, opts.Package)
	var merr *manifest.Error
	if err != nil && opts.Manifest != "" && errors.As(err, &merr) {
		return nil, fmt.Errorf("client: %w", manifest.InFile(merr, opts.Manifest))
	}
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	path := filepath.Join(opts.Out, ClientFile)
	if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, src) {
		if err := writeAll([]pendingFile{{path: path, data: src, perm: 0o644}}); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	res := &ClientResult{File: path, Package: opts.Package, SkillID: m.SkillID, Version: m.Version}
	for _, t := range sortedTools(m) {
		res.Methods = append(res.Methods, goName(t.Name))
	}
	return res, nil
}

// ClientSource returns the Go source of a typed client for the tools of
// the skill whose skill.toml is doc, in package pkg.
//
// The client has one method per tool,
//
//	func (c *Client) Greet(ctx context.Context, in GreetInput) (GreetOutput, error)
//
// over a Caller, the interface a host satisfies to call a tool of an
// installed skill with JSON bytes. Go types come from the tools' JSON
// Schemas: objects become structs with json tags (a property that is not
// required becomes a pointer, or a slice or map, with omitempty), $defs
// become named types, enums typed constants, "date-time" strings
// time.Time, base64 strings []byte, other arrays slices, objects with
// additionalProperties maps; anything the mapping does not cover is any.
func ClientSource(doc []byte, pkg string) ([]byte, error) {
	src, _, err := clientSource(doc, pkg)
	return src, err
}

func clientSource(doc []byte, pkg string) ([]byte, *manifest.Manifest, error) {
	if !token.IsIdentifier(pkg) || pkg == "_" || token.IsKeyword(pkg) {
		return nil, nil, fmt.Errorf("client: package name %q is not a Go identifier", pkg)
	}
	m, err := manifest.Parse(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	g := &clientGen{
		decls:    map[string]string{},
		declared: map[string]string{},
		reserved: map[string]bool{"Client": true, "Caller": true, "New": true, "SkillID": true, "Version": true},
	}
	type method struct {
		Name, Tool, Doc, In, Out string
	}
	var methods []method
	tools := sortedTools(m)
	methodOf := map[string]string{}
	for _, t := range tools {
		name := goName(t.Name)
		if other, dup := methodOf[name]; dup || name == "" {
			return nil, nil, fmt.Errorf("client: tools %q and %q would both be method %s", other, t.Name, name)
		}
		methodOf[name] = t.Name
		g.reserved["Tool"+name] = true
	}
	for _, t := range tools {
		name := goName(t.Name)
		in, err := g.document(t.InputSchema, name+"Input")
		if err != nil {
			return nil, nil, fmt.Errorf("client: tool %s: input_schema: %w", t.Name, err)
		}
		out, err := g.document(t.OutputSchema, name+"Output")
		if err != nil {
			return nil, nil, fmt.Errorf("client: tool %s: output_schema: %w", t.Name, err)
		}
		methods = append(methods, method{Name: name, Tool: t.Name, Doc: t.Description, In: in, Out: out})
	}

	var b bytes.Buffer
	b.WriteString(GeneratedHeader + "\n\n")
	fmt.Fprintf(&b, "// Package %s calls the tools of the Palyra skill %s %s (publisher %s)\n", pkg, m.SkillID, m.Version, m.Publisher)
	b.WriteString("// through typed methods. It was generated from the skill's skill.toml by\n// palyra-gen client.\n")
	fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"context\"\n\t\"encoding/json\"\n\t\"fmt\"\n", pkg)
	if g.usesTime {
		b.WriteString("\t\"time\"\n")
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "// SkillID is the skill whose tools Client calls.\nconst SkillID = %s\n\n", strconv.Quote(m.SkillID))
	fmt.Fprintf(&b, "// Version is the version of the skill the client was generated from.\nconst Version = %s\n\n", strconv.Quote(m.Version))
	b.WriteString("// The tools' names, as Caller.Call takes them.\nconst (\n")
	for _, mt := range methods {
		fmt.Fprintf(&b, "\tTool%s = %s\n", mt.Name, strconv.Quote(mt.Tool))
	}
	b.WriteString(")\n\n")
	b.WriteString(clientPreamble)
	for _, mt := range methods {
		doc := mt.Doc
		if !strings.HasPrefix(doc, mt.Name+" ") {
			doc = fmt.Sprintf("%s calls the tool %s: %s", mt.Name, mt.Tool, doc)
		}
		writeDoc(&b, "", doc)
		fmt.Fprintf(&b, "func (c *Client) %s(ctx context.Context, in %s) (%s, error) {\n", mt.Name, mt.In, mt.Out)
		fmt.Fprintf(&b, "\tvar out %s\n\terr := c.call(ctx, Tool%s, in, &out)\n\treturn out, err\n}\n\n", mt.Out, mt.Name)
	}
	names := make([]string, 0, len(g.decls))
	for name := range g.decls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.WriteString(g.decls[name])
		b.WriteString("\n")
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("client: generated code does not parse: %w\n%s", err, b.Bytes())
	}
	return src, m, nil
}

const clientPreamble = `// Caller calls one tool of an installed skill: it passes input, the
// tool's JSON input, and returns the tool's JSON output, or the error the
// tool set. A Palyra host satisfies it.
type Caller interface {
	Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error)
}

// Client calls the tools of skill SkillID through a Caller.
type Client struct {
	caller Caller
}

// New returns a Client that calls tools through c.
func New(c Caller) *Client {
	return &Client{caller: c}
}

// call encodes in, calls the tool and decodes its output into out.
func (c *Client) call(ctx context.Context, tool string, in, out any) error {
	input, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: encode input: %w", SkillID, tool, err)
	}
	output, err := c.caller.Call(ctx, SkillID, tool, input)
	if err != nil {
		return fmt.Errorf("%s %s: %w", SkillID, tool, err)
	}
	if err := json.Unmarshal(output, out); err != nil {
		return fmt.Errorf("%s %s: decode output: %w", SkillID, tool, err)
	}
	return nil
}

`

func sortedTools(m *manifest.Manifest) []manifest.Tool {
	tools := append([]manifest.Tool(nil), m.Entrypoints.Tools...)
	sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
	return tools
}

// clientGen turns JSON Schemas into Go type declarations. Types are
// shared between tools when their schemas are equal, so a $defs type used
// by two tools is declared once.
type clientGen struct {
	decls    map[string]string // type name → declaration source
	declared map[string]string // type name → canonical schema it was made from
	reserved map[string]bool   // names the client itself declares
	usesTime bool
}

// schemaDoc is one schema document being converted: its $defs and the
// Go names given to them and to its root.
type schemaDoc struct {
	defs     map[string]any
	defNames map[string]string
	root     string
}

// document converts a tool's input or output schema and returns the Go
// type of its root, named name when it needs a declaration.
func (g *clientGen) document(s map[string]any, name string) (string, error) {
	d := &schemaDoc{defNames: map[string]string{}, root: name}
	if defs, ok := s["$defs"].(map[string]any); ok {
		d.defs = defs
	}
	root := map[string]any{}
	for k, v := range s {
		if k != "$defs" && k != "$schema" {
			root[k] = v
		}
	}
	return g.goType(d, root, name, true)
}

// goType returns the Go type for s; name is the name to declare it under
// if it needs one (an object, an enum). top marks a document root, which
// "$ref": "#" refers to.
func (g *clientGen) goType(d *schemaDoc, s map[string]any, name string, top bool) (string, error) {
	if ref, ok := s["$ref"].(string); ok {
		return g.refType(d, ref)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		if len(alts) == 2 {
			for i, alt := range alts {
				if isNullSchema(alt) {
					other, _ := alts[1-i].(map[string]any)
					if other == nil {
						break
					}
					t, err := g.goType(d, other, name, top)
					if err != nil {
						return "", err
					}
					return pointerTo(t), nil
				}
			}
		}
		return "any", nil
	}
	typ, nullable := schemaType(s)
	var t string
	var err error
	switch {
	case s["enum"] != nil:
		t, err = g.enumType(d, s, name, typ, top)
	case typ == "string":
		switch {
		case s["format"] == "date-time":
			g.usesTime = true
			t = "time.Time"
		case s["contentEncoding"] == "base64":
			t = "[]byte"
		default:
			t = "string"
		}
	case typ == "integer":
		t = "int64"
	case typ == "number":
		t = "float64"
	case typ == "boolean":
		t = "bool"
	case typ == "array":
		items, _ := s["items"].(map[string]any)
		if items == nil {
			t = "[]any"
			break
		}
		var elem string
		elem, err = g.goType(d, items, name+"Item", false)
		t = "[]" + elem
	case typ == "object":
		t, err = g.objectType(d, s, name, top)
	default:
		t = "any"
	}
	if err != nil {
		return "", err
	}
	if nullable {
		t = pointerTo(t)
	}
	return t, nil
}

// schemaType returns s's one non-null type and whether null is allowed
// too; "" when s has no type or several.
func schemaType(s map[string]any) (string, bool) {
	switch t := s["type"].(type) {
	case string:
		return t, false
	case []any:
		var types []string
		null := false
		for _, e := range t {
			if e == "null" {
				null = true
			} else if str, ok := e.(string); ok {
				types = append(types, str)
			}
		}
		if len(types) == 1 {
			return types[0], null
		}
	}
	return "", false
}

func isNullSchema(v any) bool {
	s, ok := v.(map[string]any)
	return ok && len(s) == 1 && s["type"] == "null"
}

// pointerTo makes t optional: types that can already be nil stay as
// they are.
func pointerTo(t string) string {
	if strings.HasPrefix(t, "*") || strings.HasPrefix(t, "[]") || strings.HasPrefix(t, "map[") || t == "any" {
		return t
	}
	return "*" + t
}

func (g *clientGen) refType(d *schemaDoc, ref string) (string, error) {
	if ref == "#" {
		return d.root, nil
	}
	key, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return "", fmt.Errorf("$ref %q: only #/$defs/NAME and # are supported", ref)
	}
	if name, ok := d.defNames[key]; ok {
		return name, nil
	}
	def, ok := d.defs[key].(map[string]any)
	if !ok {
		return "", fmt.Errorf("$ref %q: no such $defs entry", ref)
	}
	name := g.freeName(exportedName(identifierChars(key)), def)
	d.defNames[key] = name
	return g.goType(d, def, name, false)
}

// freeName returns base, or base with a number, that is not yet declared
// from a different schema: equal schemas share one declaration.
func (g *clientGen) freeName(base string, s map[string]any) string {
	if base == "" || !unicode.IsLetter([]rune(base)[0]) {
		base = "T" + base
	}
	canon := canonical(s)
	name := base
	for n := 2; ; n++ {
		if prev, ok := g.declared[name]; (!ok || prev == canon) && !g.reserved[name] {
			return name
		}
		name = base + strconv.Itoa(n)
	}
}

func canonical(s map[string]any) string {
	b, _ := json.Marshal(s) // sorted keys
	return string(b)
}

// claim reserves name for s before its declaration is built, so that a
// recursive reference finds it. It returns false when name is declared
// already, from an equal schema; a different schema is an error.
func (g *clientGen) claim(name string, s map[string]any) (bool, error) {
	canon := canonical(s)
	if prev, ok := g.declared[name]; ok {
		if prev != canon {
			return false, fmt.Errorf("two different types are both named %s", name)
		}
		return false, nil
	}
	g.declared[name] = canon
	g.decls[name] = ""
	return true, nil
}

func (g *clientGen) objectType(d *schemaDoc, s map[string]any, name string, top bool) (string, error) {
	props, _ := s["properties"].(map[string]any)
	if len(props) == 0 {
		switch ap := s["additionalProperties"].(type) {
		case map[string]any:
			v, err := g.goType(d, ap, name+"Value", false)
			if err != nil {
				return "", err
			}
			return "map[string]" + v, nil
		case bool:
			if !ap {
				break // no properties at all: an empty struct, below
			}
			return "map[string]any", nil
		default:
			return "map[string]any", nil
		}
	}
	if !top {
		name = g.freeName(name, s)
	} else if g.reserved[name] {
		return "", fmt.Errorf("type name %s is taken by the client itself", name)
	}
	if fresh, err := g.claim(name, s); err != nil || !fresh {
		return name, err
	}
	required := map[string]bool{}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if str, ok := r.(string); ok {
				required[str] = true
			}
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := strings.ToLower(keys[i]), strings.ToLower(keys[j])
		if a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	writeDoc(&b, "", descriptionOf(s, name))
	fmt.Fprintf(&b, "type %s struct {\n", name)
	used := map[string]bool{}
	for _, k := range keys {
		ps, _ := props[k].(map[string]any)
		if ps == nil {
			ps = map[string]any{}
		}
		field := goName(k)
		if field == "" || !unicode.IsLetter([]rune(field)[0]) {
			field = "F" + field
		}
		base := field
		for n := 2; used[field]; n++ {
			field = base + strconv.Itoa(n)
		}
		used[field] = true
		t, err := g.goType(d, ps, name+field, false)
		if err != nil {
			return "", fmt.Errorf("property %s: %w", k, err)
		}
		tag := k
		if !required[k] {
			t = pointerTo(t)
			tag += ",omitempty"
		}
		if desc, ok := ps["description"].(string); ok {
			writeDoc(&b, "\t", desc)
		}
		fmt.Fprintf(&b, "\t%s %s `json:%s`\n", field, t, strconv.Quote(tag))
	}
	b.WriteString("}\n")
	g.decls[name] = b.String()
	return name, nil
}

func (g *clientGen) enumType(d *schemaDoc, s map[string]any, name, typ string, top bool) (string, error) {
	vals, _ := s["enum"].([]any)
	var base string
	switch typ {
	case "string":
		base = "string"
	case "integer":
		base = "int64"
	default:
		return "any", nil // an enum of mixed or other values: not typed
	}
	if !top {
		name = g.freeName(name, s)
	}
	if fresh, err := g.claim(name, s); err != nil || !fresh {
		return name, err
	}
	var b strings.Builder
	writeDoc(&b, "", descriptionOf(s, name))
	fmt.Fprintf(&b, "type %s %s\n\n", name, base)
	fmt.Fprintf(&b, "// The values of %s.\nconst (\n", name)
	used := map[string]bool{}
	for i, v := range vals {
		var lit, suffix string
		switch v := v.(type) {
		case string:
			lit, suffix = strconv.Quote(v), goName(v)
		case int64:
			lit = strconv.FormatInt(v, 10)
			suffix = strings.Replace(lit, "-", "Minus", 1)
		default:
			return "", fmt.Errorf("enum value %v of type %T in a %s enum", v, v, typ)
		}
		cname := name + suffix
		if suffix == "" || used[cname] || g.reserved[cname] {
			cname = name + "Value" + strconv.Itoa(i)
		}
		used[cname] = true
		fmt.Fprintf(&b, "\t%s %s = %s\n", cname, name, lit)
	}
	b.WriteString(")\n")
	g.decls[name] = b.String()
	return name, nil
}

func descriptionOf(s map[string]any, name string) string {
	if d, ok := s["description"].(string); ok && d != "" {
		return d
	}
	return name + " is generated from a JSON Schema."
}

// writeDoc writes text as a Go comment, one // line per line.
func writeDoc(b interface{ WriteString(string) (int, error) }, indent, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimRight(line, " \t"); line == "" {
			b.WriteString(indent + "//\n")
		} else {
			b.WriteString(indent + "// " + line + "\n")
		}
	}
}

// commonInitialisms are written in upper case in Go names, as golint did.
var commonInitialisms = map[string]bool{
	"API": true, "ASCII": true, "CPU": true, "CSS": true, "DNS": true, "EOF": true, "HTML": true,
	"HTTP": true, "HTTPS": true, "ID": true, "IP": true, "JSON": true, "OS": true, "SQL": true,
	"SSH": true, "TCP": true, "TLS": true, "TTL": true, "UDP": true, "UI": true, "URI": true,
	"URL": true, "UTF8": true, "UUID": true, "XML": true,
}

// goName turns a JSON or tool name into an exported Go name: "save_note"
// → "SaveNote", "user_id" → "UserID", "createdAt" → "CreatedAt".
func goName(s string) string {
	var b strings.Builder
	word := func(w string) {
		if w == "" {
			return
		}
		if up := strings.ToUpper(w); commonInitialisms[up] {
			b.WriteString(up)
			return
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	start := 0
	rs := []rune(s)
	for i := 0; i <= len(rs); i++ {
		if i == len(rs) || !unicode.IsLetter(rs[i]) && !unicode.IsDigit(rs[i]) {
			word(string(rs[start:i]))
			start = i + 1
			continue
		}
		// A lower-to-upper change starts a new word: "createdAt".
		if i > start && unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i-1]) {
			word(string(rs[start:i]))
			start = i
		}
	}
	return b.String()
}
