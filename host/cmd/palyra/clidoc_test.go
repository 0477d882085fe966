package main

import (
	"testing"

	"github.com/palyra/palyra-go/internal/clidoc"
)

// TestCLIReference keeps docs/cli/palyra.md equal to what the command tree
// gives; `make docs` rewrites it.
func TestCLIReference(t *testing.T) {
	page := clidoc.Markdown(newRootCommand(), "host/cmd/palyra")
	if err := clidoc.Golden("../../../docs/cli/palyra.md", page, "make docs"); err != nil {
		t.Fatal(err)
	}
}
