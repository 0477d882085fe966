package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds palyra-gen once and checks what only the binary does:
// exit status and where messages go.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the palyra-gen binary")
	}
	bin := filepath.Join(t.TempDir(), "palyra-gen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keys := t.TempDir()
	out, err := exec.Command(bin, "keygen", "--out", keys).Output()
	if err != nil {
		t.Fatalf("keygen: %v", err)
	}
	if !strings.Contains(string(out), "key id: ed25519:") {
		t.Errorf("keygen stdout: %s", out)
	}

	skill := t.TempDir()
	cmd := exec.Command(bin, "package", skill, "--key", "-")
	cmd.Stdin = strings.NewReader("definitely not a key")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("package with a bad key: err = %v, want exit status 1", err)
	}
	if stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "palyra-gen: --key -: ") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}

	// Key from stdin, but the dir has no skill.toml: the error names it.
	key, _ := os.ReadFile(filepath.Join(keys, "publisher.key"))
	cmd = exec.Command(bin, "package", skill, "--key", "-")
	cmd.Stdin = bytes.NewReader(key)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "skill.toml") {
		t.Errorf("package without skill.toml: err %v, stderr %q", err, stderr.String())
	}

	// generate --check: exit 0 on an up-to-date skill, 1 with the stale
	// file named on stderr otherwise (here: no skill.toml at all).
	cmd = exec.Command(bin, "generate", "--check", filepath.Join("..", "..", "testdata", "typedskill"))
	stdout.Reset()
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil || !strings.HasPrefix(stdout.String(), "up to date: palyra_tools.gen.go, skill.toml (tools: inventory, plan_trip, shout, tags)") {
		t.Errorf("generate --check: err %v, stdout %q", err, stdout.String())
	}
	cmd = exec.Command(bin, "generate", "--check", skill)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.HasPrefix(stderr.String(), "palyra-gen: ") || !strings.Contains(stderr.String(), "no skill.toml") {
		t.Errorf("generate --check without skill.toml: err %v, stderr %q", err, stderr.String())
	}
}
