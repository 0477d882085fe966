package gen

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkBuild is a warm rebuild of the echoskill guest (the go build
// cache holds its packages), including go list and the build record.
func BenchmarkBuild(b *testing.B) {
	src, _ := builtSkill(b)
	dir := copySkill(b, src)
	for b.Loop() {
		if _, err := Build(context.Background(), dir, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPackage packages the built echoskill guest (a ~3 MB module):
// SBOM, provenance, deflate, sign, atomic write.
func BenchmarkPackage(b *testing.B) {
	dir, _ := builtSkill(b)
	_, key := newKey(b)
	out := filepath.Join(b.TempDir(), "bench.palyra-skill")
	for b.Loop() {
		if _, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: out, Time: time.Unix(1, 0)}); err != nil {
			b.Fatal(err)
		}
	}
}
