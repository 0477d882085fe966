package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	valid := []string{
		"global/k",
		"global/OPENAI_API_KEY",
		"global/a.b-c_d:e",
		"global/.",  // a key, not a path: the file name is global@.
		"global/..", // likewise
		"global/...",
		"skill:northwind.weather/weather_api_key",
		"principal:admin:ops/Token",
		"channel:discord:acct_1/k",
		"skill:" + strings.Repeat("a", MaxScopeLen-len("skill:")) + "/" + strings.Repeat("Z", MaxKeyLen),
	}
	for _, s := range valid {
		r, err := ParseRef(s)
		if err != nil {
			t.Errorf("ParseRef(%q) = %v", s, err)
			continue
		}
		if r.String() != s {
			t.Errorf("ParseRef(%q).String() = %q", s, r)
		}
	}
	invalid := []string{
		"", "global", "global/", "/k", "global/a/b", "global/../../etc/passwd",
		"../global/k", "GLOBAL/k", "Global/k", "user:x/k", "skill:/k", "skill/k",
		"skill:North/k", "skill:a b/k", "skill:a/b/k", "global/k\x00", "global/k\n",
		"global/ k", "global/ключ", "global/a*", "global/a%2f", "global/a\\b",
		"skill:" + strings.Repeat("a", MaxScopeLen) + "/k",
		"global/" + strings.Repeat("k", MaxKeyLen+1),
	}
	for _, s := range invalid {
		if r, err := ParseRef(s); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q) = %v, %v; want ErrInvalidRef", s, r, err)
		}
	}
}

// Tricky but valid names land in distinct files directly inside the
// store directory, and read back.
func TestTrickyNamesStayInside(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	refs := []Ref{
		{"global", "."}, {"global", ".."}, {"global", "..."},
		{"global", "A"}, {"global", "a"}, {"global", "a_b"}, {"global", "a-b"},
		{"global", "a:b"}, {"global", "A:B"},
		{"skill:a", "b"}, {"skill:a:b", "c"}, {"skill:a", "b:c"},
		{"principal:x", "K"}, {"principal:x", "k"},
		{"channel:-", "-"}, {"channel:.", "_"},
	}
	seen := map[string]Ref{}
	for _, r := range refs {
		name := fileName(r)
		if other, dup := seen[strings.ToLower(name)]; dup && other != r {
			t.Errorf("%s and %s share file name %q (case-folded)", r, other, name)
		}
		seen[strings.ToLower(name)] = r
		if err := s.Set(ctx, r.Scope, r.Key, []byte(r.String())); err != nil {
			t.Fatalf("Set %s: %v", r, err)
		}
	}
	for _, r := range refs {
		got, err := s.Get(ctx, r.Scope, r.Key)
		if err != nil || string(got) != r.String() {
			t.Errorf("Get %s = %q, %v", r, got, err)
		}
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if want := len(seen); len(entries) != want {
		t.Errorf("%d entries in the store dir, want %d", len(entries), want)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			t.Errorf("%s is not a regular file", e.Name())
		}
	}
	// Nothing was written next to the store directory but the key's.
	parent, err := os.ReadDir(filepath.Dir(s.Dir()))
	if err != nil || len(parent) != 2 {
		t.Errorf("parent holds %v, %v", parent, err)
	}
}

func TestGranted(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	for _, r := range []Ref{
		{"skill:northwind.weather", "weather_api_key"},
		{"skill:northwind.weather", "other_key"},
		{"skill:evil", "weather_api_key"},
		{"global", "api_primary"},
		{"global", "api_backup"},
		{"global", "db_password"},
	} {
		if err := s.Set(ctx, r.Scope, r.Key, []byte("v:"+r.String())); err != nil {
			t.Fatal(err)
		}
	}
	grants := []Grant{
		{Scope: "skill:northwind.weather", KeyNames: []string{"weather_api_key", "not_stored"}},
		{Scope: "global", KeyNames: []string{"api_*"}},
	}
	get := s.Granted(grants)
	grants[0].KeyNames[0] = "other_key" // the Getter keeps its own copy

	tests := []struct {
		scope, key string
		want       error
	}{
		{"skill:northwind.weather", "weather_api_key", nil},
		{"global", "api_primary", nil},
		{"global", "api_backup", nil},
		{"skill:northwind.weather", "other_key", ErrSecretNotGranted},
		{"skill:evil", "weather_api_key", ErrSecretNotGranted},
		{"global", "db_password", ErrSecretNotGranted},
		{"global", "weather_api_key", ErrSecretNotGranted},
		{"global", "api", ErrSecretNotGranted},
		{"skill:northwind.weather", "not_stored", ErrNotFound},
		{"global", "api_absent", ErrNotFound},
		{"skill:northwind.weather/../global", "db_password", ErrInvalidRef},
		{"global", "../db_password", ErrInvalidRef},
	}
	for _, tt := range tests {
		got, err := get(ctx, tt.scope, tt.key)
		if tt.want == nil {
			if err != nil || !bytes.Equal(got, []byte("v:"+tt.scope+"/"+tt.key)) {
				t.Errorf("get %s/%s = %q, %v", tt.scope, tt.key, got, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || got != nil {
			t.Errorf("get %s/%s = %q, %v; want %v", tt.scope, tt.key, got, err, tt.want)
			continue
		}
		if tt.want == ErrSecretNotGranted && !strings.Contains(err.Error(), tt.scope+"/"+tt.key) {
			t.Errorf("err %q does not name %s/%s", err, tt.scope, tt.key)
		}
	}

	if _, err := s.Granted(nil)(ctx, "global", "api_primary"); !errors.Is(err, ErrSecretNotGranted) {
		t.Errorf("no grants: %v", err)
	}
}

func TestMatchKey(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"a", "a", true},
		{"a", "A", false},
		{"*", "anything", true},
		{"api_*", "api_", true},
		{"api_*", "api_x", true},
		{"api_*", "ap", false},
		{"*_key", "weather_key", true},
		{"*_key", "weather_key2", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a**b", "ab", true},
		{"*x*", "yxy", true},
		{"*x*", "yyy", false},
	}
	for _, tt := range tests {
		if got := matchKey(tt.pattern, tt.key); got != tt.want {
			t.Errorf("matchKey(%q, %q) = %v", tt.pattern, tt.key, got)
		}
	}
}
