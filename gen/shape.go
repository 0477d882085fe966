package gen

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A shape is what the generated wrappers need to know of a tool's JSON
// Schema at run time (sdk/tool's Shape, rendered into the generated
// table), and no more: where it requires properties (checked
// on input) and where it wants an array, an object or a base64 string
// that Go encodes as null (filled on output). The shapes are derived from
// the very schemas written into skill.toml, so the wrapper and the
// manifest cannot disagree.
//
// Shapes are numbered; 0 is the empty shape (nothing required, null left
// alone), which every leaf of a schema collapses to. References are by
// number, so recursive types need no pointers in the generated table.
type shape struct {
	// null is what a null becomes on output: "[]" for an array, "{}" for
	// a map, `""` for base64 bytes; "" leaves it. Only a nil slice, map or
	// []byte can be null where the schema does not admit null.
	null     string
	required []string
	props    map[string]int // property → shape, only non-empty ones
	rest     int            // additionalProperties (map values)
	items    int            // array elements
}

// shapeTable collects the shapes of several schema documents into one
// table, shared by all of a package's tools.
type shapeTable struct {
	shapes []shape         // shapes[0] is the empty shape
	intern map[string]int  // rendered shape → number, for shapes without references in progress
	refs   map[string]int  // "doc#ref" → number, per document
	docs   map[string]bool // documents seen, by key
}

func newShapeTable() *shapeTable {
	return &shapeTable{shapes: []shape{{}}, intern: map[string]int{"": 0}, refs: map[string]int{}, docs: map[string]bool{}}
}

// add returns the number of the shape of the schema document doc; key
// names the document (its $refs are resolved within it).
func (t *shapeTable) add(key string, doc map[string]any) (int, error) {
	if t.docs[key] {
		return 0, fmt.Errorf("shape: document %s added twice", key)
	}
	t.docs[key] = true
	return t.ref(key, doc, "#")
}

// ref returns the shape of the document's definition at ref ("#" or
// "#/$defs/NAME"), numbering it before descending so that a recursive
// reference finds it.
func (t *shapeTable) ref(key string, doc map[string]any, ref string) (int, error) {
	if n, ok := t.refs[key+ref]; ok {
		return n, nil
	}
	var s map[string]any
	switch {
	case ref == "#":
		s = doc
	case strings.HasPrefix(ref, "#/$defs/"):
		defs, _ := doc["$defs"].(map[string]any)
		s, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
	if s == nil {
		return 0, fmt.Errorf("shape: %s: unresolvable $ref %q", key, ref)
	}
	if target, ok := s["$ref"].(string); ok {
		if target == ref {
			return 0, fmt.Errorf("shape: %s: $ref %q refers to itself", key, ref)
		}
		n, err := t.ref(key, doc, target)
		t.refs[key+ref] = n
		return n, err
	}
	if target, ok := alias(s); ok {
		// The root of a pointer's document: nullable($ref).
		n, err := t.of(key, doc, target)
		t.refs[key+ref] = n
		return n, err
	}
	n := len(t.shapes)
	t.refs[key+ref] = n
	t.shapes = append(t.shapes, shape{})
	sh, err := t.build(key, doc, s)
	if err != nil {
		return 0, err
	}
	t.shapes[n] = sh
	return n, nil
}

// of returns the number of the shape of s, an inline schema of doc.
func (t *shapeTable) of(key string, doc, s map[string]any) (int, error) {
	if ref, ok := s["$ref"].(string); ok {
		return t.ref(key, doc, ref)
	}
	if target, ok := alias(s); ok {
		return t.of(key, doc, target)
	}
	sh, err := t.build(key, doc, s)
	if err != nil {
		return 0, err
	}
	r := sh.render()
	if n, ok := t.intern[r]; ok {
		return n, nil
	}
	t.shapes = append(t.shapes, sh)
	t.intern[r] = len(t.shapes) - 1
	return len(t.shapes) - 1, nil
}

// alias returns x when s is nullable(x), anyOf [x, {type: null}]: a
// pointer to a named struct or an enum. Its shape is x's, since neither
// ever fills a null.
func alias(s map[string]any) (map[string]any, bool) {
	alts, ok := s["anyOf"].([]any)
	if !ok {
		return nil, false
	}
	for _, a := range alts {
		if as, _ := a.(map[string]any); as != nil && as["type"] != "null" {
			return as, true
		}
	}
	return map[string]any{}, true
}

// build derives the shape of s from the keys Generate writes: type,
// properties, required, additionalProperties, items and contentEncoding.
func (t *shapeTable) build(key string, doc, s map[string]any) (shape, error) {
	var sh shape
	typ, single := s["type"].(string) // a list of types admits null
	if r, ok := s["required"].([]any); ok {
		for _, name := range r {
			sh.required = append(sh.required, name.(string))
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			n, err := t.of(key, doc, props[name].(map[string]any))
			if err != nil {
				return sh, err
			}
			if n != 0 {
				if sh.props == nil {
					sh.props = map[string]int{}
				}
				sh.props[name] = n
			}
		}
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		n, err := t.of(key, doc, ap)
		if err != nil {
			return sh, err
		}
		sh.rest = n
		if single && typ == "object" {
			sh.null = "{}" // a map; a struct has additionalProperties false
		}
	}
	if it, ok := s["items"].(map[string]any); ok {
		n, err := t.of(key, doc, it)
		if err != nil {
			return sh, err
		}
		sh.items = n
	}
	switch {
	case single && typ == "array":
		sh.null = "[]"
	case single && typ == "string" && s["contentEncoding"] == "base64":
		sh.null = `""`
	}
	return sh, nil
}

// render writes a shape as a Go composite literal of sdk/tool's Shape,
// the type the generated table is of; "" for the empty shape.
func (sh shape) render() string {
	var parts []string
	if sh.null != "" {
		q := strconv.Quote(sh.null)
		if strings.Contains(sh.null, `"`) {
			q = "`" + sh.null + "`"
		}
		parts = append(parts, "Null: "+q)
	}
	if len(sh.required) > 0 {
		q := make([]string, len(sh.required))
		for i, r := range sh.required {
			q[i] = strconv.Quote(r)
		}
		parts = append(parts, "Required: []string{"+strings.Join(q, ", ")+"}")
	}
	if len(sh.props) > 0 {
		names := slices.Sorted(maps.Keys(sh.props))
		q := make([]string, len(names))
		for i, k := range names {
			q[i] = fmt.Sprintf("%q: %d", k, sh.props[k])
		}
		parts = append(parts, "Props: map[string]int{"+strings.Join(q, ", ")+"}")
	}
	if sh.rest != 0 {
		parts = append(parts, "Rest: "+strconv.Itoa(sh.rest))
	}
	if sh.items != 0 {
		parts = append(parts, "Items: "+strconv.Itoa(sh.items))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// finish drops the shapes that turned out empty (a reference to an enum
// or to a struct of scalars without required fields), numbers the others
// from 1 and returns them, with roots renumbered. shapes[0] is the empty
// shape.
func (t *shapeTable) finish(roots []int) ([]shape, []int) {
	// A shape matters if it fills a null, requires a property or has a
	// child that matters: the least fixed point, so that types referring
	// to each other and to nothing else stay empty.
	matters := make([]bool, len(t.shapes))
	for changed := true; changed; {
		changed = false
		for i, sh := range t.shapes {
			if matters[i] {
				continue
			}
			m := sh.null != "" || len(sh.required) > 0 || matters[sh.rest] || matters[sh.items]
			for _, n := range sh.props {
				m = m || matters[n]
			}
			if m {
				matters[i], changed = true, true
			}
		}
	}
	// Shapes that enforce the same thing are merged: the same type used
	// by two documents, or two slices of strings. Partition refinement
	// (as in DFA minimization) finds them, recursive ones included: start
	// from the shapes' own fields, split classes by their children's
	// classes until nothing changes.
	class := make([]int, len(t.shapes))
	sig := func(i int, withChildren bool) string {
		sh := t.shapes[i]
		if !matters[i] {
			return "empty"
		}
		k := fmt.Sprintf("%q %q", sh.null, sh.required)
		if !withChildren {
			return k
		}
		child := func(n int) int {
			if !matters[n] {
				return -1
			}
			return class[n]
		}
		k += fmt.Sprintf(" rest %d items %d", child(sh.rest), child(sh.items))
		for _, name := range slices.Sorted(maps.Keys(sh.props)) {
			if c := child(sh.props[name]); c >= 0 {
				k += fmt.Sprintf(" %q:%d", name, c)
			}
		}
		return k
	}
	classes := func(withChildren bool) int {
		ids := map[string]int{}
		next := make([]int, len(t.shapes))
		for i := range t.shapes {
			k := fmt.Sprintf("%d|%s", class[i], sig(i, withChildren))
			id, ok := ids[k]
			if !ok {
				id = len(ids)
				ids[k] = id
			}
			next[i] = id
		}
		copy(class, next)
		return len(ids)
	}
	for n, prev := classes(false), -1; n != prev; {
		prev, n = n, classes(true)
	}

	// Number the classes that matter in order of first appearance.
	num := make([]int, len(t.shapes))
	byClass := map[int]int{}
	var reps []int
	for i := range t.shapes {
		if !matters[i] {
			continue
		}
		n, ok := byClass[class[i]]
		if !ok {
			n = len(reps) + 1
			byClass[class[i]] = n
			reps = append(reps, i)
		}
		num[i] = n
	}
	out := []shape{{}}
	for _, i := range reps {
		sh := t.shapes[i]
		c := shape{null: sh.null, required: sh.required, rest: num[sh.rest], items: num[sh.items]}
		for k, n := range sh.props {
			if num[n] != 0 {
				if c.props == nil {
					c.props = map[string]int{}
				}
				c.props[k] = num[n]
			}
		}
		out = append(out, c)
	}
	r := make([]int, len(roots))
	for i, n := range roots {
		r[i] = num[n]
	}
	return out, r
}
