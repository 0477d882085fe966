package mcpserver

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/manifest"
)

func TestInputSchema(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "": not listed
	}{
		{`{}`, `{"type":"object"}`},
		{`{"type":"object","required":["a"]}`, `{"required":["a"],"type":"object"}`},
		{`{"type":["object","null"]}`, `{"type":"object"}`},
		{`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"type":"object"}`},
		{`{"type":"string"}`, ``},
		{`{"type":["string","null"]}`, ``},
		{`{"type":null}`, ``},
		{`{"type":3}`, ``},
	} {
		var s map[string]any
		if err := json.Unmarshal([]byte(tc.in), &s); err != nil {
			t.Fatal(err)
		}
		got, err := inputSchema(s)
		if tc.want == "" {
			if err == nil {
				t.Errorf("inputSchema(%s) = %v, want it refused", tc.in, got)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != tc.want {
			t.Errorf("inputSchema(%s) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
		if tc.in == `{}` && len(s) != 0 {
			t.Errorf("inputSchema changed the manifest's schema: %v", s)
		}
	}
}

func TestAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		risk                           manifest.Risk
		grants                         host.Grants
		readOnly, destructive, openWld bool
	}{
		{"nothing granted", manifest.Risk{}, host.Grants{}, true, false, false},
		{"requires approval", manifest.Risk{RequiresApproval: true}, host.Grants{}, false, true, false},
		{"default sensitive", manifest.Risk{DefaultSensitive: true}, host.Grants{}, false, true, false},
		{"write root", manifest.Risk{}, host.Grants{WriteRoots: []string{"out"}}, false, false, false},
		{"read root", manifest.Risk{}, host.Grants{ReadRoots: []string{"in"}}, true, false, false},
		{"http", manifest.Risk{}, host.Grants{HTTPHosts: []string{"api.example.com"}}, false, false, true},
		{"risky http", manifest.Risk{RequiresApproval: true}, host.Grants{HTTPHosts: []string{"a.example"}}, false, true, true},
	} {
		a := annotations("T", tc.risk, tc.grants)
		if a.ReadOnlyHint != tc.readOnly || *a.DestructiveHint != tc.destructive || *a.OpenWorldHint != tc.openWld || a.Title != "T" {
			t.Errorf("%s: readOnly %v destructive %v openWorld %v; want %v %v %v", tc.name, a.ReadOnlyHint, *a.DestructiveHint, *a.OpenWorldHint, tc.readOnly, tc.destructive, tc.openWld)
		}
	}
}

func TestResult(t *testing.T) {
	for _, tc := range []struct {
		out    string
		wantSC bool
	}{
		{`{"a":1}`, true},
		{` {"a":1}`, true},
		{`{"exit_code":0}`, true},
		{`[1]`, false}, // structuredContent is an object
		{`"s"`, false},
		{`{"a":`, false},
		{`plain`, false},
		{``, false},
	} {
		r := result([]byte(tc.out))
		if (r.StructuredContent != nil) != tc.wantSC || r.IsError || len(r.Content) != 1 || text(r) != tc.out {
			t.Errorf("result(%q): structured %v, content %v", tc.out, r.StructuredContent, r.Content)
		}
	}
	// Output that is not UTF-8 is a binary resource, not mangled text.
	r := result([]byte{0xff, 0xfe})
	if er, ok := r.Content[0].(*mcp.EmbeddedResource); !ok || string(er.Resource.Blob) != "\xff\xfe" || r.StructuredContent != nil {
		t.Errorf("binary output: %#v", r.Content[0])
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		token bool
		ok    bool
	}{
		{"127.0.0.1:8765", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:8765", false, true},
		{"localhost:8765", false, true},
		{"0.0.0.0:8765", false, false},
		{":8765", false, false},
		{"[::]:8765", false, false},
		{"192.168.1.2:8765", false, false},
		{"example.com:8765", false, false},
		{"0.0.0.0:8765", true, true},
		{"nonsense", true, false},
	} {
		err := CheckListen(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %v) = %v", tc.addr, tc.token, err)
		}
		if !tc.ok && tc.addr != "nonsense" && !errors.Is(err, ErrNeedsAuth) {
			t.Errorf("CheckListen(%q): %v, want ErrNeedsAuth", tc.addr, err)
		}
	}
}

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"0123456789abcdef\n", "0123456789abcdef"},
		{"  0123456789abcdef  \r\n", "0123456789abcdef"},
		{"", ""},
		{"short\n", ""},
		{"0123456789 abcdef", ""},
		{"0123456789abcdef\nsecond-line-12345", ""},
	} {
		got, err := ParseToken([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("ParseToken(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func text(r *mcp.CallToolResult) string {
	if tc, ok := r.Content[0].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}
