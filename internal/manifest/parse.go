package manifest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
)

// Parse decodes and validates skill.toml.
//
// Decoding is strict: every key must be one of the schema's, spelled with
// the schema's exact case; every value must have the schema's type; required
// keys must be present. Absent optional keys take Palyra's defaults. The
// decoded manifest is then checked with Validate. Any failure is an *Error
// naming the key and, where known, its line.
func Parse(data []byte) (*Manifest, error) {
	if !utf8.Valid(data) {
		return nil, &Error{Message: "not valid UTF-8", Err: ErrSyntax}
	}
	// go-toml does the TOML semantics (duplicate keys, table redefinition,
	// inline-table immutability); its generic form is then checked against
	// the schema here, because its struct decoder matches keys without
	// regard to case and reports unknown keys without their dotted path.
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(err)
	}
	d := decoder{lines: keyLines(data)}
	m := &Manifest{ManifestVersion: 2, Capabilities: Capabilities{Quotas: DefaultQuotas()}}
	if err := d.decodeStruct("", doc, reflect.ValueOf(m).Elem()); err != nil {
		return nil, err
	}
	normalize(m)
	if err := Validate(m); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Line == 0 {
			e.Line = lineFor(d.lines, e.Key)
		}
		return nil, err
	}
	return m, nil
}

func syntaxError(err error) error {
	e := &Error{Message: err.Error(), Err: ErrSyntax}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		e.Line, _ = de.Position()
		e.Message = strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			e.Key = ""
			for _, part := range k {
				e.Key = keyPath(e.Key, part)
			}
		}
	}
	return e
}

// normalize puts a decoded manifest into the one form that Encode and Parse
// agree on: tables that carry nothing become nil, as Palyra treats an empty
// [operator] or [operator.plugin] as absent.
func normalize(m *Manifest) {
	if op := m.Operator; op != nil {
		if op.Plugin != nil && op.Plugin.isEmpty() {
			op.Plugin = nil
		}
		if op.isEmpty() {
			m.Operator = nil
		}
	}
}

func (p *Plugin) isEmpty() bool {
	return p == nil || p.DefaultToolID == "" && p.DefaultModulePath == "" &&
		p.DefaultEntrypoint == "" && len(p.Contracts) == 0
}

func (o *Operator) isEmpty() bool {
	return o == nil || o.DisplayName == "" && o.Summary == "" && o.Description == "" &&
		len(o.Categories) == 0 && len(o.Tags) == 0 && o.DocsURL == "" &&
		o.Plugin.isEmpty() && o.Config == nil
}

type decoder struct {
	lines map[string]int
}

func (d *decoder) errorf(sentinel error, path, format string, args ...any) *Error {
	return &Error{Key: path, Line: lineFor(d.lines, path), Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// field is one struct field as the schema sees it.
type field struct {
	index    int
	name     string
	alias    string
	required bool
	nonempty bool
}

func schemaFields(t reflect.Type) []field {
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := field{index: i, name: name}
		for opt := range strings.SplitSeq(sf.Tag.Get("manifest"), ",") {
			switch {
			case opt == "required":
				f.required = true
			case opt == "nonempty":
				f.nonempty = true
			case strings.HasPrefix(opt, "alias="):
				f.alias = strings.TrimPrefix(opt, "alias=")
			}
		}
		fields = append(fields, f)
	}
	return fields
}

// sortedKeys orders a table's keys by the line they are written on, then by
// name, so that the first error reported is the first one in the file.
func (d *decoder) sortedKeys(path string, src map[string]any) []string {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		la, lb := d.lines[keyPath(path, a)], d.lines[keyPath(path, b)]
		if la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return keys
}

func (d *decoder) decodeStruct(path string, src map[string]any, dst reflect.Value) error {
	fields := schemaFields(dst.Type())
	seen := make(map[int]string, len(src))
	for _, k := range d.sortedKeys(path, src) {
		kp := keyPath(path, k)
		f, ok := lookupField(fields, k)
		if !ok {
			if hint, ok := foldField(fields, k); ok {
				return d.errorf(ErrUnknownKey, kp, "unknown key %q (keys are case-sensitive; did you mean %q?)", k, hint)
			}
			return d.errorf(ErrUnknownKey, kp, "unknown key %q", k)
		}
		if other, dup := seen[f.index]; dup {
			return d.errorf(ErrDuplicateKey, kp, "%q and %q are the same key; give only %q", other, k, f.name)
		}
		seen[f.index] = k
		v := src[k]
		if f.nonempty {
			if s, ok := v.(string); ok && s == "" {
				return d.errorf(ErrInvalid, kp, "must not be empty; omit the key instead")
			}
		}
		if err := d.decodeValue(kp, v, dst.Field(f.index)); err != nil {
			return err
		}
	}
	for _, f := range fields {
		if _, ok := seen[f.index]; f.required && !ok {
			return d.errorf(ErrMissingKey, keyPath(path, f.name), "required key is missing")
		}
	}
	return nil
}

func lookupField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.name == key || f.alias != "" && f.alias == key {
			return f, true
		}
	}
	return field{}, false
}

func foldField(fields []field, key string) (string, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f.name, true
		}
		if f.alias != "" && strings.EqualFold(f.alias, key) {
			return f.alias, true
		}
	}
	return "", false
}

// newValue returns a fresh value of t with Palyra's serde defaults applied.
func newValue(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch p := v.Addr().Interface().(type) {
	case *ConfigContract:
		p.SchemaVersion = 1
	case *PluginContract:
		p.Version = 1
	case *Quotas:
		*p = DefaultQuotas()
	}
	return v
}

var anyType = reflect.TypeFor[any]()

func (d *decoder) decodeValue(path string, v any, dst reflect.Value) error {
	switch dst.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return d.typeError(path, "a string", v)
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return d.typeError(path, "a boolean", v)
		}
		dst.SetBool(b)
	case reflect.Int:
		// Every integer of Palyra's schema that is an int here is a u32.
		n, ok := v.(int64)
		if !ok {
			return d.typeError(path, "an integer", v)
		}
		if n < 0 || n > math.MaxUint32 {
			return d.errorf(ErrType, path, "integer %d is out of range [0, %d]", n, uint32(math.MaxUint32))
		}
		dst.SetInt(n)
	case reflect.Uint64:
		n, ok := v.(int64)
		if !ok {
			return d.typeError(path, "an integer", v)
		}
		if n < 0 {
			return d.errorf(ErrType, path, "integer %d must not be negative", n)
		}
		dst.SetUint(uint64(n))
	case reflect.Struct:
		tbl, ok := v.(map[string]any)
		if !ok {
			return d.typeError(path, "a table", v)
		}
		return d.decodeStruct(path, tbl, dst)
	case reflect.Pointer:
		tbl, ok := v.(map[string]any)
		if !ok {
			return d.typeError(path, "a table", v)
		}
		nv := newValue(dst.Type().Elem())
		if err := d.decodeStruct(path, tbl, nv); err != nil {
			return err
		}
		dst.Set(nv.Addr())
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return d.typeError(path, "an array", v)
		}
		if len(arr) == 0 {
			// Leave nil: one canonical form for "no entries".
			return nil
		}
		s := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, el := range arr {
			ev := newValue(dst.Type().Elem())
			if err := d.decodeValue(indexPath(path, i), el, ev); err != nil {
				return err
			}
			s.Index(i).Set(ev)
		}
		dst.Set(s)
	case reflect.Map:
		tbl, ok := v.(map[string]any)
		if !ok {
			if dst.Type().Elem() == anyType {
				return d.errorf(ErrType, path, "must be a JSON object (a TOML table), found %s", tomlType(v))
			}
			return d.typeError(path, "a table", v)
		}
		if dst.Type().Elem() == anyType {
			// A JSON value (a tool schema): copied as is once checked.
			if err := d.checkJSON(path, tbl); err != nil {
				return err
			}
			dst.Set(reflect.ValueOf(tbl))
			return nil
		}
		if len(tbl) == 0 {
			return nil
		}
		mv := reflect.MakeMapWithSize(dst.Type(), len(tbl))
		for _, k := range d.sortedKeys(path, tbl) {
			ev := newValue(dst.Type().Elem())
			if err := d.decodeValue(keyPath(path, k), tbl[k], ev); err != nil {
				return err
			}
			mv.SetMapIndex(reflect.ValueOf(k), ev)
		}
		dst.Set(mv)
	case reflect.Interface:
		if err := d.checkJSON(path, v); err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(v))
	default:
		// Unreachable with this package's types; a guard for future fields.
		return d.errorf(ErrType, path, "unsupported schema type %s", dst.Type())
	}
	return nil
}

func (d *decoder) typeError(path, want string, v any) *Error {
	return d.errorf(ErrType, path, "must be %s, found %s", want, tomlType(v))
}

// checkJSON rejects the TOML values that JSON cannot carry: date-times and
// non-finite floats. Palyra holds these values as serde_json::Value.
func (d *decoder) checkJSON(path string, v any) error {
	switch x := v.(type) {
	case string, int64, bool:
		return nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return d.errorf(ErrType, path, "%v is not representable in JSON", x)
		}
		return nil
	case []any:
		for i, el := range x {
			if err := d.checkJSON(indexPath(path, i), el); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, k := range d.sortedKeys(path, x) {
			if err := d.checkJSON(keyPath(path, k), x[k]); err != nil {
				return err
			}
		}
		return nil
	default:
		return d.errorf(ErrType, path, "a TOML %s has no JSON equivalent", tomlType(v))
	}
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time, toml.LocalDateTime:
		return "date-time"
	case toml.LocalDate:
		return "date"
	case toml.LocalTime:
		return "time"
	default:
		return fmt.Sprintf("%T", v)
	}
}
