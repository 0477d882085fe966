package secrets

import (
	"strings"
	"testing"
)

// FuzzParseRef: whatever ParseRef accepts round-trips through String and
// through its file name, and the file name is a single, lower-case,
// non-hidden path element of at most 255 bytes.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"global/k", "skill:northwind.weather/API_KEY", "principal:a:b/c:d",
		"global/..", "global/a/b", "../x", "GLOBAL/k", "skill:/k", "global/^a",
		"channel:x/" + strings.Repeat("Z", MaxKeyLen),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q).String() = %q", s, r)
		}
		name := fileName(r)
		if len(name) > 255 {
			t.Fatalf("%q: file name is %d bytes", s, len(name))
		}
		if name == "" || name[0] == '.' || name == LegacyMasterKeyFile {
			t.Fatalf("%q: file name %q is hidden or reserved", s, name)
		}
		if strings.ContainsAny(name, "/\\:\x00") || name != strings.ToLower(name) {
			t.Fatalf("%q: file name %q is not path-safe", s, name)
		}
		back, ok := parseFileName(name)
		if !ok || back != r {
			t.Fatalf("%q: file name %q decodes to %v, %v", s, name, back, ok)
		}
	})
}

// FuzzParseFileName: decoding any directory entry name either fails or
// gives the one ref that encodes back to exactly that name, so List never
// reports a ref whose file is another.
func FuzzParseFileName(f *testing.F) {
	for _, s := range []string{"global@k", "global@^a", "skill=x@k=y", "global@^", "global@^A", "global@a@b", ".tmp-1", "master.key"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, ok := parseFileName(name)
		if !ok {
			return
		}
		if r.validate() != nil || fileName(r) != name {
			t.Fatalf("%q decoded to %v, which encodes to %q", name, r, fileName(r))
		}
	})
}
