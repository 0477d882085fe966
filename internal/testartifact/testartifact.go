// Package testartifact serves the tests of example skills: it reads their
// skill.toml and packages them as their authors would (the skill.toml
// beside the Go package, the package built for Wasm, signed with a fresh
// key).
package testartifact

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/testguest"
)

// FromDir packages the skill in dir (its skill.toml and its Go package,
// built as modules/MODULE.wasm) in a temporary directory, signed with a
// fresh key, and returns the artifact's path.
func FromDir(t testing.TB, dir, module string) string {
	t.Helper()
	work := t.TempDir()
	manifest, err := os.ReadFile(filepath.Join(dir, "skill.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "skill.toml"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(work, "modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "modules", module+".wasm"), testguest.Build(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gen.Package(context.Background(), work, gen.PackageOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return res.File
}

// Manifest reads and parses the skill.toml in dir.
func Manifest(t testing.TB, dir string) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "skill.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
