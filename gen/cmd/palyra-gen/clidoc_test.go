package main

import (
	"testing"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/internal/clidoc"
)

// TestCLIReference keeps docs/cli/palyra-gen.md equal to what the command
// tree gives; `make docs` rewrites it.
func TestCLIReference(t *testing.T) {
	page := clidoc.Markdown(gen.Command(), "gen/cmd/palyra-gen")
	if err := clidoc.Golden("../../../docs/cli/palyra-gen.md", page, "make docs"); err != nil {
		t.Fatal(err)
	}
}
