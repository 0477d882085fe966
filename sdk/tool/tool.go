package tool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"

	"github.com/palyra/palyra-go/sdk"
)

// A Shape is what Run enforces of one JSON Schema (or subschema) of a
// tool: the properties an input object must have, and what a null in the
// output becomes. Child shapes are named by their index in the Shapes
// table, so that recursive types need no pointers; 0, the zero Shape, asks
// nothing and is where every leaf ends.
type Shape struct {
	// Null is what a null becomes in the output: "[]" for an array, "{}"
	// for a map, `""` for base64 bytes; "" leaves null alone. encoding/json
	// writes null for a nil slice, map or []byte, which a schema that is
	// not nullable does not admit.
	Null string
	// Required are the properties an input object must have (null counts
	// as present, as in JSON Schema).
	Required []string
	// Props maps a property to its shape; properties not listed have
	// shape Rest.
	Props map[string]int
	// Rest is the shape of a map's values (additionalProperties).
	Rest int
	// Items is the shape of an array's elements.
	Items int
}

// Shapes is a table of shapes, shared by the tools of a skill. Shapes[0]
// must be the zero Shape; a nil table is all zero shapes: nothing
// required, nothing filled. palyra-gen writes the table from the schemas
// it writes into skill.toml, so the two cannot disagree; an index out of
// the table's range panics.
type Shapes []Shape

// Run runs one call of a tool, the body of its //go:wasmexport function.
// It decodes the call's input into In strictly — one JSON object, unknown
// fields refused, nothing after it, and every property shape in requires
// present, at any depth — calls fn with context.Background(), and sets
// fn's result, encoded by encoding/json.Marshal with the nulls shape out
// fills written as [], {} or "", as the call's output. It returns 0.
//
// A failure returns 1 with the call's error set (sdk.SetErrorString):
// "invalid input: …" naming what is wrong (`missing required field
// "from.lat"`), fn's error message ("tool failed" for an empty one, which
// Extism would read as success), or "encode output: …".
//
// in and out are indexes in shapes; pass nil, 0, 0 for no shapes.
func Run[In, Out any](fn func(context.Context, In) (Out, error), shapes Shapes, in, out int) int32 {
	var input In
	if err := decode(sdk.Input(), &input, shapes, in); err != nil {
		sdk.SetErrorString("invalid input: " + err.Error())
		return 1
	}
	output, err := fn(context.Background(), input)
	return finish(output, err, shapes, out)
}

// NoContext adapts a tool function that takes no context to Run.
func NoContext[In, Out any](fn func(In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(_ context.Context, in In) (Out, error) { return fn(in) }
}

// Return ends a call with a tool's result, as Run does after calling it,
// for a tool that reads its input itself: err becomes the call's error
// and status 1, else out, encoded as JSON, the output and status 0.
//
//	func list() int32 { return tool.Return(listFiles()) }
func Return[Out any](out Out, err error) int32 {
	return finish(out, err, nil, 0)
}

func finish[Out any](output Out, err error, shapes Shapes, shape int) int32 {
	if err != nil {
		msg := err.Error()
		if msg == "" {
			msg = "tool failed" // an empty error would read as success
		}
		sdk.SetErrorString(msg)
		return 1
	}
	data, err := json.Marshal(output)
	if err != nil {
		sdk.SetErrorString("encode output: " + err.Error())
		return 1
	}
	sdk.Output(fill(data, shapes, shape))
	return 0
}

// decode decodes one JSON object into v and nothing else: unknown fields
// and data after the object are errors, and so is a missing property that
// shape requires.
func decode(data []byte, v any, shapes Shapes, shape int) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	if shape == 0 {
		return nil
	}
	// encoding/json leaves a missing field at its zero value; look at the
	// JSON itself for the properties that are there.
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if path := missing(shapes, raw, shape, ""); path != "" {
		return errors.New("missing required field " + strconv.Quote(path))
	}
	return nil
}

// missing returns the path ("from.lat", "stops[2].place") of the first
// required property v lacks, or "". Properties are visited in order, so
// that the answer is always the same.
func missing(shapes Shapes, v any, shape int, path string) string {
	s := &shapes[shape]
	switch v := v.(type) {
	case map[string]any:
		for _, name := range s.Required {
			if _, ok := v[name]; !ok {
				return join(path, name)
			}
		}
		if s.Props == nil && s.Rest == 0 {
			return ""
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n, ok := s.Props[k]
			if !ok {
				n = s.Rest
			}
			if n == 0 {
				continue
			}
			if p := missing(shapes, v[k], n, join(path, k)); p != "" {
				return p
			}
		}
	case []any:
		if s.Items == 0 {
			return ""
		}
		for i, e := range v {
			if p := missing(shapes, e, s.Items, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fill returns data, a value as encoding/json writes it (compact and
// valid), with the nulls shape fills written as [], {} or "".
func fill(data []byte, shapes Shapes, shape int) []byte {
	if shape == 0 || !bytes.Contains(data, []byte("null")) {
		return data
	}
	out, _ := fillValue(shapes, make([]byte, 0, len(data)+16), data, shape)
	return out
}

// fillValue appends the value at the start of data to out, filled, and
// returns what follows it.
func fillValue(shapes Shapes, out, data []byte, shape int) ([]byte, []byte) {
	s := &shapes[shape]
	switch data[0] {
	case 'n':
		if s.Null != "" {
			return append(out, s.Null...), data[4:]
		}
		return append(out, "null"...), data[4:]
	case '{':
		out, data = append(out, '{'), data[1:]
		for data[0] != '}' {
			if data[0] == ',' {
				out, data = append(out, ','), data[1:]
			}
			end := stringEnd(data)
			n, ok := s.Props[key(data[:end])]
			if !ok {
				n = s.Rest
			}
			out, data = append(append(out, data[:end]...), ':'), data[end+1:]
			out, data = fillValue(shapes, out, data, n)
		}
		return append(out, '}'), data[1:]
	case '[':
		out, data = append(out, '['), data[1:]
		for data[0] != ']' {
			if data[0] == ',' {
				out, data = append(out, ','), data[1:]
			}
			out, data = fillValue(shapes, out, data, s.Items)
		}
		return append(out, ']'), data[1:]
	case '"':
		end := stringEnd(data)
		return append(out, data[:end]...), data[end:]
	}
	end := bytes.IndexAny(data, ",]}") // a number, true or false
	if end < 0 {
		end = len(data)
	}
	return append(out, data[:end]...), data[end:]
}

// stringEnd returns the length of the JSON string at the start of data,
// quotes included.
func stringEnd(data []byte) int {
	for i := 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// key unquotes an object key.
func key(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var k string
	json.Unmarshal(quoted, &k)
	return k
}
