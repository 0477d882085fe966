package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/templates"
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

	// A wrong command line exits 2.
	err = exec.Command(bin, "templates", "lst").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("templates lst: err = %v, want exit status 2", err)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "palyra-gen ") {
		t.Errorf("--version: %v, %q", err, out)
	}
}

// execGen runs palyra-gen in-process as main does.
func execGen(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := gen.Main(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"tmplates"}, 2},
		{[]string{"templates", "lst"}, 2},
		{[]string{"templates"}, 2},
		{[]string{"new", "skil", "x"}, 2},
		{[]string{"new", "skill"}, 2},
		{[]string{"keygen", "--bogus"}, 2},
		{[]string{"package", t.TempDir()}, 2}, // --key is required
		{[]string{"completion", "nope"}, 2},
		{[]string{"generate", "--check", t.TempDir()}, 1},
		{[]string{"templates", "list"}, 0},
		{[]string{"version"}, 0},
	} {
		out, errOut, code := execGen(t, "", tc.args...)
		if code != tc.code {
			t.Errorf("palyra-gen %v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errOut)
		}
	}
}

func TestJSONErrorAndVersion(t *testing.T) {
	out, _, code := execGen(t, "", "generate", "--check", "--json", t.TempDir())
	var obj struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &obj) != nil || !strings.Contains(obj.Error, "no skill.toml") || obj.ExitCode != 1 {
		t.Errorf("generate --check --json without skill.toml: exit %d, stdout %q", code, out)
	}
	out, _, code = execGen(t, "", "--version", "--json")
	var v struct {
		Program, Version string
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Program != "palyra-gen" || v.Version == "" {
		t.Errorf("--version --json: exit %d, %q", code, out)
	}
}

func TestCompleteTemplates(t *testing.T) {
	out, errOut, code := execGen(t, "", "__complete", "new", "skill", "x", "--template", "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, tpl := range templates.List() {
		if !strings.Contains(out, tpl.Name+"\t") {
			t.Errorf("completion lacks template %q:\n%s", tpl.Name, out)
		}
	}
}
