package gen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/palyra/palyra-go/internal/manifest"
)

const newTables = "[[entrypoints.tools]]\nid = \"acme.new\"\n"

func TestSpliceTools(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "after the [entrypoints] header",
			doc:  "# top\npublisher = \"acme\"\n[entrypoints]\n\n# caps\n[capabilities]\n",
			want: "# top\npublisher = \"acme\"\n[entrypoints]\n" + newTables + "\n# caps\n[capabilities]\n",
		},
		{
			name: "no [entrypoints]: at the end",
			doc:  "publisher = \"acme\"\n[compat]\nx = 1",
			want: "publisher = \"acme\"\n[compat]\nx = 1\n\n" + newTables,
		},
		{
			name: "replaces every tool table, keeps comments between and after",
			doc: "[entrypoints]\n# before\n[[entrypoints.tools]]\nid = \"a\"  # trailing\nname = \"a\"\n\n" +
				"[[entrypoints.tools]]\nid = \"b\"\n[entrypoints.tools.risk]\nrequires_approval = true\n" +
				"# after b\n\n[compat]\n",
			want: "[entrypoints]\n# before\n" + newTables + "# after b\n\n[compat]\n",
		},
		{
			name: "other tables between tools stay",
			doc:  "[[entrypoints.tools]]\nid = \"a\"\n\n[compat]\nx = 1\n\n[[entrypoints.tools]]\nid = \"b\"\n",
			want: newTables + "\n[compat]\nx = 1\n\n",
		},
		{
			name: "CRLF line ends",
			doc:  "[entrypoints]\r\n[[entrypoints.tools]]\r\nid = \"a\"\r\n\r\n[compat]\r\n",
			want: "[entrypoints]\r\n" + newTables + "\r\n[compat]\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spliceTools([]byte(tt.doc), []byte(newTables))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			again, err := spliceTools(got, []byte(newTables))
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("second splice changed the document (err %v):\n%q", err, again)
			}
		})
	}
}

func TestSpliceToolsErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"a = 1\n[entrypoints]\ntools = []\n", "skill.toml:3: entrypoints.tools is written inline"},
		{"entrypoints = { tools = [] }\n", "skill.toml:1: entrypoints.tools is written inline"},
		{"entrypoints.tools = []\n", "skill.toml:1: entrypoints.tools is written inline"},
		{"a = 1\n[entrypoints.tools.risk]\nx = 1\n", "skill.toml:2: [entrypoints.tools.risk] is not inside"},
		{"a = 1\nb = = 2\n", "skill.toml:2: "},
	}
	for _, tt := range tests {
		_, err := spliceTools([]byte(tt.doc), []byte(newTables))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("spliceTools(%q) error = %v, want prefix %q", tt.doc, err, tt.want)
		}
	}
}

// Rendered tables read back, through go-toml and manifest.Parse, to the
// values they were made from, whatever the strings hold.
func TestRenderToolTablesRoundTrip(t *testing.T) {
	odd := "quote \" backslash \\ tab \t nl \n cr \r bell \a del \x7f unicode é ☃"
	tools := []manifest.Tool{{
		ID: "acme.t", Name: "t", Description: odd,
		InputSchema: map[string]any{
			"type": "object", "description": odd,
			"properties": map[string]any{"a b": map[string]any{"type": []any{"integer", "null"}, "minimum": int64(-3)}, "": map[string]any{}},
			"required":   []any{"a b"},
			"x":          2.5, "y": float64(3), "$ref": "#",
		},
		OutputSchema: map[string]any{},
		Risk:         manifest.Risk{RequiresApproval: true},
	}}
	tables, err := renderToolTables(tools)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Entrypoints struct {
			Tools []map[string]any `toml:"tools"`
		} `toml:"entrypoints"`
	}
	if err := toml.Unmarshal(tables, &back); err != nil {
		t.Fatalf("rendered tables do not parse: %v\n%s", err, tables)
	}
	got := back.Entrypoints.Tools[0]
	if got["description"] != odd {
		t.Errorf("description %q, want %q", got["description"], odd)
	}
	in := got["input_schema"].(map[string]any)
	if in["y"] != 3.0 || in["x"] != 2.5 || in["description"] != odd {
		t.Errorf("input_schema %v", in)
	}
	if _, err := renderToolTables([]manifest.Tool{{InputSchema: map[string]any{"bad": struct{}{}}}}); err == nil {
		t.Error("rendered a value TOML cannot hold")
	}
}

// FuzzSpliceTools: whatever skill.toml holds, splicing never panics, and
// when it succeeds the result is TOML that a second splice leaves alone.
func FuzzSpliceTools(f *testing.F) {
	f.Add([]byte("[entrypoints]\n[[entrypoints.tools]]\nid = \"a\"\n# c\n[compat]\n"))
	f.Add([]byte("a = 1\n[[entrypoints.tools]]\n[entrypoints.tools.risk]\nx = 1\n"))
	f.Add([]byte("x = \"\"\"\n[[entrypoints.tools]]\n\"\"\"\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if err := toml.Unmarshal(doc, new(map[string]any)); err != nil {
			return // not TOML: spliceTools may refuse it or not, but must not panic
		}
		out, err := spliceTools(doc, []byte(newTables))
		if err != nil {
			return
		}
		again, err := spliceTools(out, []byte(newTables))
		if err != nil {
			t.Fatalf("splice of its own output failed: %v\n%q", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point:\n%q\n%q", out, again)
		}
	})
}
