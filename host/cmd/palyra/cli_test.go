package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/signing"
	"github.com/palyra/palyra-go/internal/testskill"
)

// execCLI runs palyra in-process as main does and returns stdout, stderr
// and the exit status.
func execCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCommand()
	root.SetIn(strings.NewReader(stdin))
	var stdout, stderr bytes.Buffer
	code := cmdline.Execute(context.Background(), root, args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// installEcho installs a test skill (acme.echo) whose tool echo returns
// its input, into a
// fresh state dir and returns the --state-dir arguments.
func installEcho(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	art := filepath.Join(dir, "acme.echo-1.0.0.palyra-skill")
	if err := os.WriteFile(art, testskill.Spec{Key: key, Module: testskill.EchoModule("echo")}.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	sd := []string{"--state-dir", filepath.Join(dir, "state")}
	if out, errOut, code := execCLI(t, "", append(sd, "skills", "install", "--allow-tofu", art)...); code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	return sd
}

func TestExitCodes(t *testing.T) {
	sd := []string{"--state-dir", filepath.Join(t.TempDir(), "state")}
	for _, tc := range []struct {
		args []string
		code int
	}{
		// An unknown subcommand of a group printed the group's help, exit 0.
		{[]string{"skills", "typo"}, 2},
		{[]string{"trust", "revok", "acme", "k"}, 2},
		{[]string{"secrets", "x"}, 2},
		{[]string{"typo"}, 2},
		{[]string{"completion", "typo"}, 2},
		{[]string{"skills", "list", "--bogus"}, 2},
		{[]string{"skills", "info"}, 2},
		{[]string{"skills", "quarantine", "acme.echo"}, 2}, // --reason is required
		{[]string{"skills", "run", "a", "b", "extra"}, 2},
		{[]string{"skills", "run", "a", "b", "--input", "x", "--input-file", "y"}, 2},
		{[]string{"skills", "audit"}, 2},
		{[]string{"skills"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"skills", "info", "acme.nope"}, 1},
		{[]string{"secrets", "set", "weather/api_key"}, 1},
	} {
		out, errOut, code := execCLI(t, "v", append(sd, tc.args...)...)
		if code != tc.code {
			t.Errorf("palyra %v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errOut)
		}
		if tc.code != 0 && !strings.HasPrefix(errOut, "palyra: ") {
			t.Errorf("palyra %v: stderr %q, want a \"palyra: \" message", tc.args, errOut)
		}
	}
	// The unknown subcommand's error names the closest one.
	if _, errOut, _ := execCLI(t, "", "trust", "revok"); !strings.Contains(errOut, "did you mean revoke") {
		t.Errorf("stderr %q lacks the suggestion", errOut)
	}
}

// With --json every failure prints one JSON object with "error" on
// stdout; `run --json` of a skill that is not installed printed nothing.
func TestJSONErrors(t *testing.T) {
	sd := installEcho(t)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	untrusted := writeArtifact(t, t.TempDir(), otherKey)
	for _, args := range [][]string{
		{"skills", "verify", "--json", untrusted},
		{"skills", "install", "--json", untrusted},
		{"skills", "run", "--json", "acme.nope", "echo"},
		{"skills", "run", "--json", "acme.echo", "nope"},
		{"skills", "enable", "--json", "acme.nope"},
		{"skills", "quarantine", "--json", "acme.nope", "--reason", "x"},
		{"skills", "remove", "--json", "acme.nope"},
		{"skills", "info", "--json", "acme.nope"},
		{"skills", "grants", "--json", "acme.nope"},
		{"trust", "add", "--json", "acme", "not-a-key"},
		{"trust", "revoke", "--json", "acme", "ed25519:0011223344556677"},
		{"trust", "remove", "--json", "acme", "ed25519:0011223344556677"},
		{"secrets", "set", "--json", "weather/api_key"},
		{"secrets", "delete", "--json", "skill:acme.echo/nope"},
		{"skills", "list", "--json", "--bogus"},
	} {
		out, errOut, code := execCLI(t, "value", append(sd, args...)...)
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(out))
		if code == 0 || dec.Decode(&obj) != nil || dec.More() || obj["error"] == "" || obj["error"] == nil || errOut == "" {
			t.Errorf("palyra %v: exit %d, stdout %q, stderr %q; want non-zero, one JSON object with error, and a message", args, code, out, errOut)
		}
	}
	// The usage error's object says so.
	out, _, code := execCLI(t, "", append(sd, "skills", "list", "--json", "--bogus")...)
	var obj cmdline.ErrorObject
	if json.Unmarshal([]byte(out), &obj) != nil || obj.ExitCode != 2 || code != 2 || obj.Command != "palyra skills list" {
		t.Errorf("usage error object %q, exit %d", out, code)
	}
}

func TestJSONResults(t *testing.T) {
	sd := installEcho(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		stdin string
		args  []string
		key   string
	}{
		{"s3cret\n", []string{"secrets", "set", "--json", "skill:acme.echo/token"}, "stored"},
		{"", []string{"secrets", "delete", "--json", "skill:acme.echo/token"}, "deleted"},
		{"", []string{"skills", "quarantine", "--json", "acme.echo", "--reason", "test"}, "reason"},
		{"", []string{"skills", "enable", "--json", "acme.echo"}, "state"},
		{"", []string{"trust", "add", "--json", "other", signing.PublicKeyHex(pub)}, "trusted"},
		{"", []string{"trust", "revoke", "--json", "other", signing.KeyID(pub)}, "revoked"},
		{"", []string{"skills", "remove", "--json", "acme.echo"}, "removed"},
	} {
		out, errOut, code := execCLI(t, tc.stdin, append(sd, tc.args...)...)
		var obj map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &obj) != nil || obj[tc.key] == nil {
			t.Errorf("palyra %v: exit %d, stdout %q, stderr %q; want a JSON object with %q", tc.args, code, out, errOut, tc.key)
		}
	}
}

// Unknown keys: revoke (which exited 0) and remove both fail with exit 1.
func TestTrustUnknownKey(t *testing.T) {
	sd := installEcho(t)
	for _, verb := range []string{"revoke", "remove"} {
		_, errOut, code := execCLI(t, "", append(sd, "trust", verb, "acme", "ed25519:0011223344556677")...)
		if code != 1 || !strings.Contains(errOut, "ed25519:0011223344556677") {
			t.Errorf("trust %s of an unknown key: exit %d, stderr %q", verb, code, errOut)
		}
	}
	// KEY may be given as trust add takes it: here a PEM file.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pemData, _ := signing.MarshalPublicKeyPEM(pub)
	pemPath := filepath.Join(t.TempDir(), "other.pub")
	if err := os.WriteFile(pemPath, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"add", "revoke"} {
		out, errOut, code := execCLI(t, "", append(sd, "trust", verb, "--json", "other", pemPath)...)
		if code != 0 || !strings.Contains(out, signing.KeyID(pub)) {
			t.Errorf("trust %s by key file: exit %d, stdout %q, stderr %q", verb, code, out, errOut)
		}
	}
}

// `--input -` sent a literal "-" and `--input-file -` failed.
func TestRunInputFromStdin(t *testing.T) {
	sd := installEcho(t)
	for _, args := range [][]string{{"--input", "-"}, {"--input-file", "-"}, {"-"}} {
		out, errOut, code := execCLI(t, `{"text":"from stdin"}`, append(append(sd, "skills", "run", "acme.echo", "echo"), args...)...)
		if code != 0 || out != `{"text":"from stdin"}`+"\n" {
			t.Errorf("run %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if out, _, code := execCLI(t, "", append(sd, "skills", "run", "acme.echo", "echo", "--input", "-", "-")...); code != 2 {
		t.Errorf("two ways to give the input: exit %d, %q", code, out)
	}
}

// check exited 0 while a skill stayed quarantined.
func TestCheckFailsWhileQuarantined(t *testing.T) {
	sd := installEcho(t)
	if _, errOut, code := execCLI(t, "", append(sd, "skills", "check")...); code != 0 {
		t.Fatalf("check of a healthy skill: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := execCLI(t, "", append(sd, "skills", "quarantine", "acme.echo", "--reason", "test")...); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := execCLI(t, "", append(sd, "skills", "check")...)
	if code != 1 || !strings.Contains(out, "(already)") || !strings.Contains(errOut, "still quarantined") {
		t.Errorf("check with a quarantined skill: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, code := execCLI(t, "", append(sd, "skills", "check", "--allow-quarantined")...); code != 0 {
		t.Errorf("check --allow-quarantined: exit %d\n%s", code, errOut)
	}
	// --json: the report alone on stdout, exit 1.
	out, _, code = execCLI(t, "", append(sd, "skills", "check", "--json")...)
	var rep struct {
		Skills []struct {
			State string `json:"state"`
		} `json:"skills"`
	}
	if dec := json.NewDecoder(strings.NewReader(out)); code != 1 || dec.Decode(&rep) != nil || dec.More() || len(rep.Skills) != 1 || rep.Skills[0].State != "quarantined" {
		t.Errorf("check --json: exit %d, stdout %q", code, out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, code := execCLI(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "palyra ") || !strings.Contains(out, cmdline.ModulePath) {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	for _, args := range [][]string{{"--version", "--json"}, {"version", "--json"}} {
		out, _, code := execCLI(t, "", args...)
		var v cmdline.Version
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Program != "palyra" || v.Version == "" || v.GoVersion == "" {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// `skills package` was a group whose only child was build; both spellings
// now run the package command.
func TestSkillsPackageCommand(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"skills", "package", dir}, {"skills", "package", "build", dir}} {
		_, errOut, code := execCLI(t, "not a key", append(args, "--key", "-")...)
		if code != 1 || !strings.Contains(errOut, "--key -: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if out, _, _ := execCLI(t, "", "skills", "--help"); strings.Contains(out, "package build") || !strings.Contains(out, "package ") {
		t.Errorf("skills help:\n%s", out)
	}
}

func TestCompletion(t *testing.T) {
	sd := installEcho(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"skills", "run", ""}, "acme.echo"},
		{[]string{"skills", "info", "acme"}, "acme.echo"},
		{[]string{"skills", "run", "acme.echo", ""}, "echo"},
	} {
		out, errOut, code := execCLI(t, "", append(append(sd, "__complete"), tc.args...)...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("complete %v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
	// No state dir: nothing offered, and none created.
	missing := filepath.Join(t.TempDir(), "none")
	if out, _, _ := execCLI(t, "", "--state-dir", missing, "__complete", "skills", "run", ""); strings.Contains(out, "acme") {
		t.Errorf("completion without a state dir: %q", out)
	}
	if _, _, code := execCLI(t, "", "completion", "bash"); code != 0 {
		t.Errorf("completion bash: exit %d", code)
	}
}
