package tool_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/sdk/sdktest"
	"github.com/palyra/palyra-go/sdk/tool"
)

// The test's types and shapes, as palyra-gen would write them for
//
//	func plan(ctx context.Context, in planIn) (planOut, error)
type place struct {
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
}

type stop struct {
	Place place  `json:"place"`
	Sub   []stop `json:"sub,omitempty"`
}

type planIn struct {
	From  place   `json:"from"`
	Stops []stop  `json:"stops,omitempty"`
	Note  *string `json:"note,omitempty"`
}

type group struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

type planOut struct {
	Names  []string            `json:"names"`
	Counts map[string]int      `json:"counts"`
	Blob   []byte              `json:"blob"`
	Groups []group             `json:"groups"`
	ByName map[string][]string `json:"by_name"`
	Maybe  *[]string           `json:"maybe"`
	Any    any                 `json:"any"`
	Note   string              `json:"note"`
}

var shapes = tool.Shapes{
	0:  {},
	1:  {Required: []string{"from"}, Props: map[string]int{"from": 2, "stops": 3}}, // planIn
	2:  {Required: []string{"lat", "name"}},                                        // place
	3:  {Items: 4},                                                                 // []stop
	4:  {Required: []string{"place"}, Props: map[string]int{"place": 2, "sub": 3}}, // stop
	5:  {Props: map[string]int{"names": 6, "counts": 7, "blob": 8, "groups": 9, "by_name": 11}},
	6:  {Null: "[]"},
	7:  {Null: "{}"},
	8:  {Null: `""`},
	9:  {Null: "[]", Items: 10},
	10: {Props: map[string]int{"members": 6}},
	11: {Null: "{}", Rest: 6},
}

const planInShape, planOutShape = 1, 5

// plan returns what the test asks of it through in.Note.
func plan(_ context.Context, in planIn) (planOut, error) {
	switch {
	case in.Note == nil:
		return planOut{}, nil
	case *in.Note == "fail":
		return planOut{}, errors.New("no route")
	case *in.Note == "empty error":
		return planOut{}, errors.New("")
	case *in.Note == "full":
		return planOut{
			Names: []string{"a"}, Counts: map[string]int{"a": 1}, Blob: []byte("hi"),
			Groups: []group{{Name: "g"}, {Name: "h", Members: []string{"x"}}},
			ByName: map[string][]string{"a": nil, "b\"\\": {"y"}}, Maybe: new([]string), // a pointer: its null is admitted
			Any: []any{nil}, Note: "null",
		}, nil
	case *in.Note == "unencodable":
		return planOut{Any: func() {}}, nil
	}
	return planOut{Note: in.From.Name + "→" + strings.Repeat("·", len(in.Stops))}, nil
}

func call(t *testing.T, fn func() int32, input string) (int32, string, error) {
	t.Helper()
	var h sdktest.Host
	rc, out, err := h.Call(fn, []byte(input))
	return rc, string(out), err
}

func TestRun(t *testing.T) {
	run := func() int32 { return tool.Run(plan, shapes, planInShape, planOutShape) }
	const from = `"from":{"name":"A","lat":1}`
	tests := []struct {
		name, input, want, err string
	}{
		{"minimal", `{` + from + `}`, `{"names":[],"counts":{},"blob":"","groups":[],"by_name":{},"maybe":null,"any":null,"note":""}`, ""},
		{"whitespace around", " \r\n\t{" + from + ",\"note\":\"x\"} \n", `{"names":[],"counts":{},"blob":"","groups":[],"by_name":{},"maybe":null,"any":null,"note":"A→"}`, ""},
		{"fills at depth, keys escaped, nulls the schema admits kept",
			`{` + from + `,"note":"full"}`,
			`{"names":["a"],"counts":{"a":1},"blob":"aGk=","groups":[{"name":"g","members":[]},{"name":"h","members":["x"]}],"by_name":{"a":[],"b\"\\":["y"]},"maybe":null,"any":[null],"note":"null"}`, ""},
		{"stops", `{` + from + `,"note":"x","stops":[{"place":{"name":"B","lat":0}},{"place":{"name":"C","lat":0},"sub":[]}]}`, `{"names":[],"counts":{},"blob":"","groups":[],"by_name":{},"maybe":null,"any":null,"note":"A→··"}`, ""},

		{"empty", ``, "", "invalid input: want a JSON object"},
		{"not JSON", `hello`, "", "invalid input: want a JSON object"},
		{"an array", `[{}]`, "", "invalid input: want a JSON object"},
		{"null", `null`, "", "invalid input: want a JSON object"},
		{"unknown field", `{` + from + `,"bogus":1}`, "", `invalid input: json: unknown field "bogus"`},
		{"unknown field before missing", `{"bogus":1}`, "", `invalid input: json: unknown field "bogus"`},
		{"data after", `{` + from + `} {}`, "", "invalid input: data after the JSON object"},
		{"wrong type", `{"from":{"name":1,"lat":1}}`, "", "invalid input: json: cannot unmarshal number into Go struct field place.from.name of type string"},
		{"truncated", `{"from":`, "", "invalid input: unexpected EOF"},
		{"missing", `{}`, "", `invalid input: missing required field "from"`},
		{"missing at depth", `{"from":{"name":"A"}}`, "", `invalid input: missing required field "from.lat"`},
		{"null is present", `{"from":{"name":null,"lat":null}}`, `{"names":[],"counts":{},"blob":"","groups":[],"by_name":{},"maybe":null,"any":null,"note":""}`, ""},
		{"missing in an array", `{` + from + `,"stops":[{"place":{"name":"B","lat":0}},{"place":{"name":"C","lat":0},"sub":[{}]}]}`, "", `invalid input: missing required field "stops[1].sub[0].place"`},
		{"first missing in sorted order", `{"from":{},"stops":[{}]}`, "", `invalid input: missing required field "from.lat"`},

		{"tool error", `{` + from + `,"note":"fail"}`, "", "no route"},
		{"empty tool error", `{` + from + `,"note":"empty error"}`, "", "tool failed"},
		{"unencodable output", `{` + from + `,"note":"unencodable"}`, "", "encode output: json: unsupported type: func()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, out, err := call(t, run, tt.input)
			if tt.err != "" {
				if rc != 1 || err == nil || err.Error() != tt.err || out != "" {
					t.Fatalf("rc %d, out %q, err %v; want 1, no output, %q", rc, out, err, tt.err)
				}
				return
			}
			if rc != 0 || err != nil || out != tt.want {
				t.Fatalf("rc %d, err %v, out\n%s\nwant\n%s", rc, err, out, tt.want)
			}
			if !json.Valid([]byte(out)) {
				t.Fatalf("output is not JSON: %s", out)
			}
		})
	}
}

// TestRunWithoutShapes: a nil table asks nothing and fills nothing, and
// NoContext adapts a function without a context.
func TestRunWithoutShapes(t *testing.T) {
	tags := tool.NoContext(func(in struct {
		Prefix string `json:"prefix"`
	}) ([]string, error) {
		if in.Prefix == "" {
			return nil, nil
		}
		return []string{in.Prefix + "1"}, nil
	})
	run := func() int32 { return tool.Run(tags, nil, 0, 0) }
	for _, tt := range []struct{ input, want, err string }{
		{`{}`, `null`, ""},
		{`{"prefix":"p"}`, `["p1"]`, ""},
		{`{"Prefix":"p"}`, `["p1"]`, ""}, // encoding/json's case-insensitive match
		{`{"x":1}`, ``, `invalid input: json: unknown field "x"`},
	} {
		rc, out, err := call(t, run, tt.input)
		if got := errString(err); rc != map[bool]int32{true: 0, false: 1}[tt.err == ""] || out != tt.want || got != tt.err {
			t.Errorf("%s: rc %d, out %q, err %q; want out %q, err %q", tt.input, rc, out, got, tt.want, tt.err)
		}
	}
}

// TestRunPointerInput: a pointer input still takes an object; null is
// refused.
func TestRunPointerInput(t *testing.T) {
	run := func() int32 {
		return tool.Run(func(_ context.Context, in *place) (string, error) { return in.Name, nil }, shapes, 2, 0)
	}
	if rc, out, err := call(t, run, `{"name":"A","lat":0}`); rc != 0 || out != `"A"` || err != nil {
		t.Errorf("rc %d, out %q, err %v", rc, out, err)
	}
	if rc, _, err := call(t, run, `null`); rc != 1 || errString(err) != "invalid input: want a JSON object" {
		t.Errorf("null: rc %d, err %v", rc, err)
	}
}

func TestReturn(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fn       func() int32
		rc       int32
		out, err string
	}{
		{"value", func() int32 { return tool.Return(map[string]any{"a": []int{1}}, nil) }, 0, `{"a":[1]}`, ""},
		{"nil slice stays null", func() int32 { return tool.Return([]int(nil), nil) }, 0, `null`, ""},
		{"error", func() int32 { return tool.Return(1, errors.New("boom")) }, 1, "", "boom"},
		{"empty error", func() int32 { return tool.Return(1, errors.New("")) }, 1, "", "tool failed"},
		{"unencodable", func() int32 { return tool.Return(make(chan int), nil) }, 1, "", "encode output: json: unsupported type: chan int"},
	} {
		rc, out, err := call(t, tt.fn, "")
		if rc != tt.rc || out != tt.out || errString(err) != tt.err {
			t.Errorf("%s: rc %d, out %q, err %q; want %d, %q, %q", tt.name, rc, out, errString(err), tt.rc, tt.out, tt.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzRun: whatever the input, Run answers with status 0 and a JSON
// output, or status 1 and an error; it accepts only a JSON object.
func FuzzRun(f *testing.F) {
	for _, s := range []string{`{}`, `{"from":{"name":"A","lat":1}}`, `{"from":{},"stops":[{"sub":[{}]}]}`, `[`, `{"from":null}`, ` {"note":"full","from":{"name":"","lat":0}}`} {
		f.Add(s)
	}
	run := func() int32 { return tool.Run(plan, shapes, planInShape, planOutShape) }
	f.Fuzz(func(t *testing.T, input string) {
		var h sdktest.Host
		rc, out, err := h.Call(run, []byte(input))
		switch {
		case rc == 0 && err == nil:
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %q", out)
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal([]byte(input), &obj) != nil {
				t.Fatalf("accepted %q, which is not a JSON object", input)
			}
		case rc == 1 && err != nil:
		default:
			t.Fatalf("rc %d, err %v", rc, err)
		}
	})
}

// BenchmarkRun is one call of a tool with a small input and an output
// that needs filling, on the native in-memory host.
func BenchmarkRun(b *testing.B) {
	run := func() int32 { return tool.Run(plan, shapes, planInShape, planOutShape) }
	input := []byte(`{"from":{"name":"A","lat":1},"note":"full","stops":[{"place":{"name":"B","lat":2}}]}`)
	var h sdktest.Host
	b.ReportAllocs()
	for b.Loop() {
		if rc, _, err := h.Call(run, input); rc != 0 || err != nil {
			b.Fatal(rc, err)
		}
	}
}
