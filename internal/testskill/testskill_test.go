package testskill

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConfigWasmMatchesSource re-assembles testdata/config.wat and
// compares it with the committed config.wasm, so the two cannot drift.
func TestConfigWasmMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it and runs this check")
	}
	out := filepath.Join(t.TempDir(), "config.wasm")
	if msg, err := exec.Command(wat2wasm, "testdata/config.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ConfigModule()) {
		t.Fatalf("testdata/config.wasm is stale: wat2wasm testdata/config.wat -o testdata/config.wasm (assembled %d bytes, committed %d)", len(got), len(configWasm))
	}
}
