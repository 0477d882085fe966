package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/internal/testartifact"
)

func TestEmbed(t *testing.T) {
	art := testartifact.FromDir(t, "../echo", "echo")
	state := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), &out, []string{"-state", state, "-text", "über embedded", art}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "installed palyra.echo 0.1.0 (tofu_newly_pinned") ||
		!strings.HasSuffix(out.String(), "echo: über embedded\n") {
		t.Errorf("output:\n%s", out.String())
	}
	// A second run on the same state dir finds the key pinned.
	out.Reset()
	if err := run(context.Background(), &out, []string{"-state", state, art}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(tofu_pinned") {
		t.Errorf("second run:\n%s", out.String())
	}
	if err := run(context.Background(), &out, []string{"-state", state, "no-such.palyra-skill"}); err == nil {
		t.Error("a missing artifact was accepted")
	}
}

// TestClientUpToDate: the committed client is what palyra-gen generates
// from the echo manifest today.
func TestClientUpToDate(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen.GenerateClient(context.Background(), gen.ClientOptions{Manifest: "../echo/skill.toml", Package: "echoclient", Out: dir}); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "palyra_client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("echoclient/palyra_client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("echoclient/palyra_client.gen.go is stale: run go generate ./examples/embed/...")
	}
}
