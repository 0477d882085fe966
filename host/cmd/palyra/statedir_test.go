package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI passes Open's refusal of a loosened state dir through: the
// message names the path, its mode and the chmod that fixes it.
func TestCLIRefusesWorldWritableStateDir(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if _, err := run(t, nil, "--state-dir", state, "skills", "list"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, nil, "--state-dir", state, "skills", "list")
	if err == nil || !strings.Contains(err.Error(), "chmod go-w "+state) || !strings.Contains(err.Error(), "drwxrwxrwx") {
		t.Fatalf("skills list on a world-writable state dir: %v", err)
	}
	if err := os.Chmod(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, nil, "--state-dir", state, "skills", "list"); err != nil {
		t.Fatalf("after chmod: %v", err)
	}
}
