package mcpserver

import (
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

func TestToolName(t *testing.T) {
	long := strings.Repeat("a", 40)
	for _, tc := range []struct {
		skill, tool string
		want        string // "" when the name is hashed: check prefix only
		prefix      string
	}{
		{skill: "palyra.echo", tool: "echo", want: "palyra_echo__echo"},
		{skill: "acme.http-fetch", tool: "fetch", want: "acme_http-fetch__fetch"},
		{skill: "acme.trips", tool: "plan_trip", want: "acme_trips__plan_trip"},
		{skill: "acme.x", tool: "Typed", want: "acme_x__Typed"},
		{skill: "acme.x", tool: "_lead", want: "acme_x___lead"},
		{skill: "a.b.c", tool: "d", want: "a_b_c__d"},
		// A '_' in the skill id, a tool name outside [A-Za-z0-9_-], or a
		// name over 64 characters: hashed.
		{skill: "acme.echo_http", tool: "http_get", prefix: "acme_echo_http_http_get_"},
		{skill: "acme.x", tool: "get.v2", prefix: "acme_x_get_v2_"},
		{skill: "acme.x", tool: "résumé", prefix: "acme_x_r_sum_"},
		{skill: "acme.x", tool: "...", prefix: "acme_x_"},
		{skill: "acme." + long, tool: long, prefix: "acme_" + long + "_a_"},
		{skill: "_", tool: "*", prefix: ""},
	} {
		got := ToolName(tc.skill, tc.tool)
		if !validToolName(got) {
			t.Errorf("ToolName(%q, %q) = %q: not [A-Za-z0-9_-]{1,64}", tc.skill, tc.tool, got)
		}
		if tc.want != "" {
			if got != tc.want {
				t.Errorf("ToolName(%q, %q) = %q, want %q", tc.skill, tc.tool, got, tc.want)
			}
			continue
		}
		if strings.Contains(got, "__") || !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+hashLen {
			t.Errorf("ToolName(%q, %q) = %q, want %q + a %d-character hash", tc.skill, tc.tool, got, tc.prefix, hashLen)
		}
	}
}

// TestToolNameInjective: pairs that the escaping could confuse map to
// different names.
func TestToolNameInjective(t *testing.T) {
	pairs := [][2]string{
		{"a.b", "c"}, {"a_b", "c"}, {"a", "b__c"}, {"a.b", "_c"}, {"a", "b_c"},
		{"a.b__c", "d"}, {"a", "b.c"}, {"a.b", "c.d"}, {"a.b.c", "d"}, {"a", "b_c_d"},
		{"a-b", "c"}, {"a", "b-c"}, {"a._b", "c"}, {"a_.b", "c"}, {"a.-b", "c"},
		{"x", "y"}, {"x", "Y"}, {"x", "y "}, {"x", "y\u00e9"}, {"x", "y\u00e8"},
		{"acme.echo_http", "http_get"}, {"acme.echo", "http_http_get"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		name := ToolName(p[0], p[1])
		if q, dup := seen[name]; dup {
			t.Errorf("%q and %q both map to %q", q, p, name)
		}
		seen[name] = p
	}
}

// FuzzToolName: every name keeps the charset and length rules, and two
// different pairs a manifest could hold never share a name.
func FuzzToolName(f *testing.F) {
	f.Add("palyra.echo", "echo", "palyra_echo", "_echo")
	f.Add("a.b", "c", "a_b", "c")
	f.Add("a", "b__c", "a.b", "_c")
	f.Add("acme.echo_http", "http_get", "acme.echo", "http_http_get")
	f.Fuzz(func(t *testing.T, s1, t1, s2, t2 string) {
		if manifest.ValidateSkillID(s1) != nil || manifest.ValidateSkillID(s2) != nil || t1 == "" || t2 == "" {
			return
		}
		n1, n2 := ToolName(s1, t1), ToolName(s2, t2)
		if !validToolName(n1) {
			t.Fatalf("ToolName(%q, %q) = %q: not [A-Za-z0-9_-]{1,64}", s1, t1, n1)
		}
		if n1 == n2 && (s1 != s2 || t1 != t2) {
			t.Fatalf("(%q, %q) and (%q, %q) both map to %q", s1, t1, s2, t2, n1)
		}
	})
}
