package gen

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestShapes: what the wrappers enforce, derived from schemas as
// Generate writes them, with shapes numbered, merged and dropped.
func TestShapes(t *testing.T) {
	tests := []struct {
		name string
		docs []string // JSON schema documents
		want string   // the rendered table, "N: shape" per line, then roots
	}{
		{
			name: "scalars need nothing",
			docs: []string{`{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"}}}`, `{"type":"string"}`},
			want: "roots 0 0",
		},
		{
			name: "required, fills, and one shape for equal ones",
			docs: []string{`{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}},"b":{"type":"array","items":{"type":"integer"}},"m":{"type":"object","additionalProperties":{"type":"array"}},"p":{"type":["array","null"]},"x":{"type":"string","contentEncoding":"base64"}},"required":["a","m"]}`},
			want: `1: {Required: []string{"a", "m"}, Props: map[string]int{"a": 2, "b": 2, "m": 3, "x": 4}}
2: {Null: "[]"}
3: {Null: "{}", Rest: 2}
4: {Null: ` + "`\"\"`" + `}
roots 1`,
		},
		{
			name: "a pointer at the root is its target; recursion through # and $defs",
			docs: []string{
				`{"anyOf":[{"$ref":"#/$defs/N"},{"type":"null"}],"$defs":{"N":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/N"},{"type":"null"}]},"v":{"type":"integer"}},"required":["v"]}}}`,
				`{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}},"required":["id"]}`,
			},
			want: `1: {Required: []string{"v"}, Props: map[string]int{"next": 1}}
2: {Required: []string{"id"}, Props: map[string]int{"kids": 3}}
3: {Null: "[]", Items: 2}
roots 1 2`,
		},
		{
			name: "types that require nothing are dropped, cycles included",
			docs: []string{`{"type":"object","properties":{"a":{"$ref":"#/$defs/A"},"e":{"$ref":"#/$defs/E"}},"$defs":{"A":{"type":"object","properties":{"b":{"$ref":"#/$defs/B"}}},"B":{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}}},"E":{"type":"string","enum":["x"]}}}`},
			want: "roots 0",
		},
		{
			name: "the same type in two documents is one shape",
			docs: []string{
				`{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},"required":["p"],"$defs":{"P":{"type":"object","required":["x"]}}}`,
				`{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},"required":["p"],"$defs":{"P":{"type":"object","required":["x"]}}}`,
			},
			want: `1: {Required: []string{"p"}, Props: map[string]int{"p": 2}}
2: {Required: []string{"x"}}
roots 1 1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := newShapeTable()
			var roots []int
			for i, d := range tt.docs {
				var doc map[string]any
				if err := json.Unmarshal([]byte(d), &doc); err != nil {
					t.Fatal(err)
				}
				n, err := table.add(string(rune('a'+i)), doc)
				if err != nil {
					t.Fatal(err)
				}
				roots = append(roots, n)
			}
			shapes, roots := table.finish(roots)
			var b strings.Builder
			for i, s := range shapes[1:] {
				fmt.Fprintf(&b, "%d: %s\n", i+1, s.render())
			}
			b.WriteString("roots")
			for _, r := range roots {
				fmt.Fprintf(&b, " %d", r)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestShapeErrors(t *testing.T) {
	table := newShapeTable()
	if _, err := table.add("a", map[string]any{"$ref": "#/$defs/Nope"}); err == nil || !strings.Contains(err.Error(), `unresolvable $ref "#/$defs/Nope"`) {
		t.Errorf("dangling $ref: err = %v", err)
	}
	if _, err := table.add("b", map[string]any{"$ref": "#"}); err == nil || !strings.Contains(err.Error(), "refers to itself") {
		t.Errorf("$ref to itself: err = %v", err)
	}
	if _, err := table.add("a", map[string]any{}); err == nil {
		t.Error("a document added twice: no error")
	}
}
