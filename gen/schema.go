package gen

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// SchemaDialect is the JSON Schema dialect of the schemas Generate writes
// (the "$schema" of every tool's input and output schema).
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// A schema is a JSON Schema held as the JSON-compatible values skill.toml
// takes (manifest.Tool.InputSchema): string, int64, bool, []any and
// map[string]any. Never float64 or nil, which TOML could not hold.
type schema = map[string]any

// docIndex holds the doc comments of the skill package, which become
// schema descriptions, and the typed constants that become enums. Types
// from other packages have neither: only the skill package is parsed.
type docIndex struct {
	pkg    *types.Package
	fields map[*types.Var]string
	types  map[*types.TypeName]string
	enums  map[*types.TypeName][]any
}

func newDocIndex(pkg *types.Package, files []*ast.File, info *types.Info) *docIndex {
	d := &docIndex{
		pkg:    pkg,
		fields: map[*types.Var]string{},
		types:  map[*types.TypeName]string{},
		enums:  map[*types.TypeName][]any{},
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.TYPE {
					return true
				}
				for _, spec := range n.Specs {
					ts := spec.(*ast.TypeSpec)
					doc := ts.Doc
					if doc == nil && len(n.Specs) == 1 {
						doc = n.Doc
					}
					if obj, ok := info.Defs[ts.Name].(*types.TypeName); ok && doc != nil {
						d.types[obj] = docText(doc)
					}
				}
			case *ast.StructType:
				for _, field := range n.Fields.List {
					doc := field.Doc
					if doc == nil {
						doc = field.Comment
					}
					if doc == nil {
						continue
					}
					idents := field.Names
					if len(idents) == 0 {
						if id := embeddedIdent(field.Type); id != nil {
							idents = []*ast.Ident{id}
						}
					}
					for _, id := range idents {
						if v, ok := info.Defs[id].(*types.Var); ok {
							d.fields[v] = docText(doc)
						}
					}
				}
			}
			return true
		})
	}

	// Enums: the constants of each named type of this package, in
	// declaration order, each value once.
	type enumConst struct {
		pos token.Pos
		val any
	}
	consts := map[*types.TypeName][]enumConst{}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok {
			continue
		}
		named, ok := types.Unalias(c.Type()).(*types.Named)
		if !ok || named.Obj().Pkg() != pkg {
			continue
		}
		var val any
		switch v := c.Val(); v.Kind() {
		case constant.String:
			val = constant.StringVal(v)
		case constant.Int:
			i, exact := constant.Int64Val(v)
			if !exact {
				continue // beyond int64: TOML cannot hold it
			}
			val = i
		default:
			continue
		}
		consts[named.Obj()] = append(consts[named.Obj()], enumConst{c.Pos(), val})
	}
	for obj, cs := range consts {
		sort.Slice(cs, func(i, j int) bool { return cs[i].pos < cs[j].pos })
		var vals []any
		for _, c := range cs {
			if !slices.Contains(vals, c.val) {
				vals = append(vals, c.val)
			}
		}
		d.enums[obj] = vals
	}
	return d
}

// embeddedIdent returns the identifier naming an embedded field's type
// (T, *T, pkg.T, T[X]), which go/types maps to the field.
func embeddedIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.StarExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// docText turns a doc comment into a description: directives dropped,
// lines of a paragraph joined, paragraphs kept apart by a blank line.
func docText(g *ast.CommentGroup) string {
	paras := strings.Split(strings.TrimSpace(g.Text()), "\n\n")
	for i, p := range paras {
		paras[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.TrimSpace(strings.Join(paras, "\n\n"))
}

// schemaGen derives one JSON Schema document (a tool's input or output)
// from Go types, following encoding/json's rules for what is encoded and
// how. Named struct and enum types go to $defs, so recursive types work and
// a client generator can name its types after them.
type schemaGen struct {
	docs *docIndex
	errs *errorList
	tool string
	root *types.TypeName // the document's root type, referred to as "#"

	defs     schema
	defNames map[*types.TypeName]string // assigned $defs names
	defTypes map[string]*types.TypeName // the reverse, to avoid collisions
}

func newSchemaGen(docs *docIndex, errs *errorList, tool string) *schemaGen {
	return &schemaGen{
		docs:     docs,
		errs:     errs,
		tool:     tool,
		defs:     schema{},
		defNames: map[*types.TypeName]string{},
		defTypes: map[string]*types.TypeName{},
	}
}

// document returns the schema of t as a standalone document: a named
// struct inline at the root, "$schema" and any "$defs".
func (g *schemaGen) document(t types.Type, pos token.Pos, where string) schema {
	var s schema
	if named, st := namedStruct(t); named != nil && g.special(named) == nil {
		g.root = named.Obj()
		s = g.structSchema(st, pos, named.Obj().Name())
		if d := g.docs.types[named.Obj()]; d != "" {
			s["description"] = d
		}
	} else {
		s = g.schemaOf(t, pos, where)
	}
	if len(g.defs) > 0 {
		s["$defs"] = g.defs
	}
	s["$schema"] = SchemaDialect
	return s
}

// namedStruct returns t as a named struct type, or nil.
func namedStruct(t types.Type) (*types.Named, *types.Struct) {
	named, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return nil, nil
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return nil, nil
	}
	return named, st
}

func (g *schemaGen) unsupported(pos token.Pos, where, format string, args ...any) schema {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg += " in " + where
	}
	g.errs.fail(pos, g.tool, ErrUnsupportedType, "%s", msg)
	return schema{}
}

// special returns the schema of a type encoding/json encodes by a method
// rather than by its structure, or nil.
func (g *schemaGen) special(named *types.Named) schema {
	obj := named.Obj()
	if obj.Pkg() != nil {
		switch obj.Pkg().Path() + "." + obj.Name() {
		case "time.Time":
			return schema{"type": "string", "format": "date-time"}
		case "encoding/json.RawMessage":
			return schema{}
		case "encoding/json.Number":
			return schema{"type": "number"}
		}
	}
	if hasMethod(named, "MarshalJSON") {
		// Its JSON is whatever the method writes: say nothing about it.
		return schema{}
	}
	if hasMethod(named, "MarshalText") {
		return schema{"type": "string"}
	}
	return nil
}

func hasMethod(t types.Type, name string) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}

// schemaOf returns the schema of a value of type t; pos and where say
// where t is used, for errors.
func (g *schemaGen) schemaOf(t types.Type, pos token.Pos, where string) schema {
	t = types.Unalias(t)
	if named, ok := t.(*types.Named); ok {
		if s := g.special(named); s != nil {
			return s
		}
		obj := named.Obj()
		if vals := g.docs.enums[obj]; len(vals) > 0 {
			return g.ref(obj, func() schema {
				s := g.schemaOf(named.Underlying(), pos, where)
				s["enum"] = slices.Clone(vals)
				return s
			})
		}
		if st, ok := named.Underlying().(*types.Struct); ok {
			if obj == g.root {
				return schema{"$ref": "#"}
			}
			return g.ref(obj, func() schema { return g.structSchema(st, pos, obj.Name()) })
		}
		s := g.schemaOf(named.Underlying(), pos, where)
		if d := g.docs.types[obj]; d != "" {
			s["description"] = d
		}
		return s
	}

	switch t := t.(type) {
	case *types.Basic:
		return g.basic(t, pos, where)
	case *types.Pointer:
		return nullable(g.schemaOf(t.Elem(), pos, where))
	case *types.Slice:
		if isByte(t.Elem()) {
			return schema{"type": "string", "contentEncoding": "base64"}
		}
		return schema{"type": "array", "items": g.schemaOf(t.Elem(), pos, where)}
	case *types.Array:
		return schema{
			"type":     "array",
			"items":    g.schemaOf(t.Elem(), pos, where),
			"minItems": t.Len(),
			"maxItems": t.Len(),
		}
	case *types.Map:
		if !mapKeyOK(t.Key()) {
			return g.unsupported(pos, where, "unsupported map key type %s", typeString(t.Key()))
		}
		return schema{"type": "object", "additionalProperties": g.schemaOf(t.Elem(), pos, where)}
	case *types.Struct:
		return g.structSchema(t, pos, where)
	case *types.Interface:
		if t.Empty() {
			return schema{}
		}
	}
	return g.unsupported(pos, where, "unsupported type %s", typeString(t))
}

// ref puts a named type's schema into $defs, made once by mk, and
// returns a reference to it.
func (g *schemaGen) ref(obj *types.TypeName, mk func() schema) schema {
	name, ok := g.defNames[obj]
	if !ok {
		name = g.defName(obj)
		g.defNames[obj] = name
		g.defTypes[name] = obj
		g.defs[name] = schema{} // placeholder: a recursive use finds the name
		s := mk()
		if d := g.docs.types[obj]; d != "" {
			s["description"] = d
		}
		g.defs[name] = s
	}
	return schema{"$ref": "#/$defs/" + name}
}

// defName names a type in $defs: its Go name for the skill package's own
// types, prefixed by the package name for others, made unique.
func (g *schemaGen) defName(obj *types.TypeName) string {
	name := obj.Name()
	if obj.Pkg() != nil && obj.Pkg() != g.docs.pkg {
		name = exportedName(obj.Pkg().Name()) + exportedName(name)
	}
	if named, ok := obj.Type().(*types.Named); ok && named.TypeArgs().Len() > 0 {
		for i := range named.TypeArgs().Len() {
			name += exportedName(identifierChars(typeString(named.TypeArgs().At(i))))
		}
	}
	base := name
	for n := 2; g.defTypes[name] != nil; n++ {
		name = base + strconv.Itoa(n)
	}
	return name
}

// identifierChars keeps the letters and digits of s, upper-casing the
// letter after each dropped run ("map[string]int" → "mapStringInt").
func identifierChars(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (g *schemaGen) basic(t *types.Basic, pos token.Pos, where string) schema {
	switch t.Kind() {
	case types.Bool:
		return schema{"type": "boolean"}
	case types.String:
		return schema{"type": "string"}
	case types.Float32, types.Float64:
		return schema{"type": "number"}
	case types.Int, types.Int64:
		return schema{"type": "integer"}
	case types.Int8:
		return intRange(math.MinInt8, math.MaxInt8)
	case types.Int16:
		return intRange(math.MinInt16, math.MaxInt16)
	case types.Int32:
		return intRange(math.MinInt32, math.MaxInt32)
	case types.Uint8:
		return intRange(0, math.MaxUint8)
	case types.Uint16:
		return intRange(0, math.MaxUint16)
	case types.Uint32:
		return intRange(0, math.MaxUint32)
	case types.Uint, types.Uint64, types.Uintptr:
		return schema{"type": "integer", "minimum": int64(0)}
	}
	return g.unsupported(pos, where, "unsupported type %s", typeString(t))
}

func intRange(lo, hi int64) schema {
	return schema{"type": "integer", "minimum": lo, "maximum": hi}
}

// nullable allows null besides s: by a type list when s names one type,
// else by anyOf (TOML has no null, so an enum cannot list it).
func nullable(s schema) schema {
	if typ, ok := s["type"].(string); ok && s["enum"] == nil {
		s["type"] = []any{typ, "null"}
		return s
	}
	if len(s) == 0 {
		return s // already anything, null included
	}
	return schema{"anyOf": []any{s, schema{"type": "null"}}}
}

func isByte(t types.Type) bool {
	b, ok := types.Unalias(t).(*types.Basic)
	// encoding/json encodes []T as base64 only when T does not marshal
	// itself; a named byte type may, so only the basic byte qualifies.
	return ok && b.Kind() == types.Uint8
}

// mapKeyOK reports whether encoding/json accepts t as a map key.
func mapKeyOK(t types.Type) bool {
	if b, ok := t.Underlying().(*types.Basic); ok {
		switch {
		case b.Info()&types.IsString != 0, b.Info()&types.IsInteger != 0:
			return true
		}
	}
	return hasMethod(t, "MarshalText")
}

// structSchema is the object schema of a struct: its JSON fields as
// encoding/json finds them, required unless omitempty, omitzero or a
// pointer. Unknown properties are refused, as the generated wrapper does.
func (g *schemaGen) structSchema(st *types.Struct, pos token.Pos, where string) schema {
	props := schema{}
	var required []any
	for _, f := range jsonFields(st) {
		fwhere := f.v.Name()
		if where != "" {
			fwhere = where + "." + fwhere
		}
		fpos := f.v.Pos()
		if !fpos.IsValid() {
			fpos = pos
		}
		var s schema
		if f.quoted {
			s = schema{"type": "string"}
			if _, ptr := types.Unalias(f.v.Type()).(*types.Pointer); ptr {
				s = nullable(s)
			}
		} else {
			s = g.schemaOf(f.v.Type(), fpos, fwhere)
		}
		if d := g.docs.fields[f.v]; d != "" {
			s = withDescription(s, d)
		}
		props[f.name] = s
		_, ptr := types.Unalias(f.v.Type()).(*types.Pointer)
		if !f.omit && !ptr {
			required = append(required, f.name)
		}
	}
	s := schema{"type": "object", "additionalProperties": false}
	if len(props) > 0 {
		s["properties"] = props
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// withDescription sets a description on s, copying s first when it is a
// $defs reference shared with other uses.
func withDescription(s schema, d string) schema {
	if _, isRef := s["$ref"]; isRef {
		c := schema{}
		for k, v := range s {
			c[k] = v
		}
		s = c
	}
	s["description"] = d
	return s
}

// jsonField is one field encoding/json encodes.
type jsonField struct {
	name   string
	tagged bool  // the name comes from a json tag
	index  []int // path through embedded structs
	v      *types.Var
	omit   bool // omitempty or omitzero: may be absent
	quoted bool // ",string": a number or bool written as a string
}

// jsonFields returns a struct's fields as encoding/json encodes them:
// typeFields from encoding/json/encode.go over go/types, so that embedded
// structs are flattened, shallower fields hide deeper ones, tagged fields
// win ties and ambiguous ones disappear. In declaration order.
func jsonFields(t *types.Struct) []jsonField {
	type walk struct {
		st    *types.Struct
		key   string
		index []int
	}
	var fields []jsonField
	next := []walk{{st: t, key: types.TypeString(t, nil)}}
	var count, nextCount map[string]int
	visited := map[string]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count, nextCount = nextCount, map[string]int{}
		for _, w := range current {
			if visited[w.key] {
				continue
			}
			visited[w.key] = true
			for i := range w.st.NumFields() {
				sf := w.st.Field(i)
				if sf.Embedded() {
					ft := types.Unalias(sf.Type())
					if p, ok := ft.(*types.Pointer); ok {
						ft = types.Unalias(p.Elem())
					}
					if _, isStruct := ft.Underlying().(*types.Struct); !sf.Exported() && !isStruct {
						continue
					}
				} else if !sf.Exported() {
					continue
				}
				tag := reflect.StructTag(w.st.Tag(i)).Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(slices.Clone(w.index), i)

				// An unnamed pointer is followed; a named pointer type is not.
				ft := types.Unalias(sf.Type())
				if p, ok := ft.(*types.Pointer); ok {
					ft = types.Unalias(p.Elem())
				}
				optSet := map[string]bool{}
				for o := range strings.SplitSeq(opts, ",") {
					optSet[o] = true
				}
				quoted := false
				if optSet["string"] {
					if b, ok := ft.Underlying().(*types.Basic); ok && b.Info()&(types.IsBoolean|types.IsInteger|types.IsFloat|types.IsString) != 0 {
						quoted = true
					}
				}
				st, isStruct := ft.Underlying().(*types.Struct)
				if name != "" || !sf.Embedded() || !isStruct {
					tagged := name != ""
					if name == "" {
						name = sf.Name()
					}
					f := jsonField{name: name, tagged: tagged, index: index, v: sf,
						omit: optSet["omitempty"] || optSet["omitzero"], quoted: quoted}
					fields = append(fields, f)
					if count[w.key] > 1 {
						// Two copies, so the dominance check sees a tie.
						fields = append(fields, f)
					}
					continue
				}
				key := types.TypeString(ft, nil)
				nextCount[key]++
				if nextCount[key] == 1 {
					next = append(next, walk{st: st, key: key, index: index})
				}
			}
		}
	}

	sort.SliceStable(fields, func(i, j int) bool {
		x, y := fields[i], fields[j]
		if x.name != y.name {
			return x.name < y.name
		}
		if len(x.index) != len(y.index) {
			return len(x.index) < len(y.index)
		}
		if x.tagged != y.tagged {
			return x.tagged
		}
		return slices.Compare(x.index, y.index) < 0
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		// The first is dominant unless the second is as shallow and as
		// tagged: then the name is ambiguous and dropped.
		if len(fields[i].index) != len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			out = append(out, fi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return slices.Compare(out[i].index, out[j].index) < 0 })
	return out
}

// validTagName is encoding/json's isValidTag.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// typeString writes t with package names, not paths.
func typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

// exportedName upper-cases the first letter of s.
func exportedName(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
