package artifact

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestBuildRefuses: Build and Write refuse what Open would refuse to read.
func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*BuildRequest)
		tooBig  bool
		wantErr string
	}{
		{"no key", func(r *BuildRequest) { r.Key = nil }, false, "signing key"},
		{"no module", func(r *BuildRequest) { r.Modules = nil }, false, "no modules"},
		{"module outside modules/", func(r *BuildRequest) { r.Modules[0].Path = "echo.wasm" }, false, "modules/NAME.wasm"},
		{"duplicate asset", func(r *BuildRequest) { r.Assets = append(r.Assets, r.Assets[0]) }, false, "duplicate"},
		{"traversal", func(r *BuildRequest) { r.Assets[0].Path = "assets/../skill.toml" }, false, `".." segment`},
		{"non-ASCII asset", func(r *BuildRequest) { r.Assets[0].Path = "assets/\u00e9" }, false, "non-ASCII"},
		{"entry over cap", func(r *BuildRequest) {
			r.Assets[0].Data = make([]byte, MaxEntryBytes+1)
		}, true, "cap"},
		{"oversized SBOM", func(r *BuildRequest) {
			r.SBOM = append([]byte(testSBOM), strings.Repeat(" ", MaxDocumentBytes)...)
		}, true, "sbom.cdx.json"},
		{"too many entries", func(r *BuildRequest) {
			for i := range MaxEntries {
				r.Assets = append(r.Assets, File{Path: "assets/f" + strings.Repeat("x", i), Data: nil})
			}
		}, true, "entries"},
	}
	for _, tc := range tests {
		req := goodRequest(testKey("good"))
		req.Assets = append([]File(nil), req.Assets...)
		req.Modules = append([]File(nil), req.Modules...)
		tc.edit(&req)
		_, err := Build(req)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
		if errors.Is(err, ErrTooLarge) != tc.tooBig {
			t.Errorf("%s: errors.Is(%v, ErrTooLarge) = %v", tc.name, err, !tc.tooBig)
		}
	}
}

func TestWriteRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"/abs", "a/../b", `a\b`, "dir/", "", "a//b"} {
		if err := Write(&bytes.Buffer{}, []File{{Path: p}}, Deflate); err == nil {
			t.Errorf("Write accepted path %q", p)
		}
	}
}
