package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/signing"
	"github.com/palyra/palyra-go/internal/testskill"
)

// run executes the CLI in-process and returns stdout and the error.
func run(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(bytes.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeArtifact(t *testing.T, dir string, key ed25519.PrivateKey) string {
	t.Helper()
	path := filepath.Join(dir, "acme.echo-1.0.0.palyra-skill")
	if err := os.WriteFile(path, testskill.Spec{Key: key}.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyAndTrustCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	art := writeArtifact(t, dir, key)
	keyID := signing.KeyID(pub)

	if out, err := run(t, nil, "--state-dir", state, "skills", "verify", art); err == nil ||
		!strings.Contains(err.Error(), "--allow-tofu") {
		t.Fatalf("untrusted verify must fail with a hint: %v\n%s", err, out)
	}

	out, err := run(t, nil, "--state-dir", state, "skills", "verify", "--allow-tofu", "--json", art)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct {
		Trusted  bool   `json:"trusted"`
		Decision string `json:"trust_decision"`
		KeyID    string `json:"key_id"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Trusted || res.Decision != "tofu_newly_pinned" || res.KeyID != keyID {
		t.Fatalf("verify --json: %v %+v\n%s", err, res, out)
	}
	if out, err := run(t, nil, "--state-dir", state, "skills", "verify", art); err != nil || !strings.Contains(out, "tofu_pinned") {
		t.Fatalf("second verify: %v\n%s", err, out)
	}

	out, err = run(t, nil, "--state-dir", state, "trust", "list")
	if err != nil || !strings.Contains(out, keyID) || !strings.Contains(out, "acme") {
		t.Fatalf("trust list: %v\n%s", err, out)
	}
	if _, err := run(t, nil, "--state-dir", state, "trust", "remove", "acme", keyID); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, nil, "--state-dir", state, "skills", "verify", art); err == nil {
		t.Fatal("verify passed after the pin was removed")
	}

	// Allowlist the key from its PEM file; the verdict becomes allowlisted.
	pemData, _ := signing.MarshalPublicKeyPEM(pub)
	pemPath := filepath.Join(dir, "publisher.pub")
	os.WriteFile(pemPath, pemData, 0o644)
	if out, err := run(t, nil, "--state-dir", state, "trust", "add", "acme", pemPath); err != nil || !strings.Contains(out, keyID) {
		t.Fatalf("trust add: %v\n%s", err, out)
	}
	if out, err := run(t, nil, "--state-dir", state, "skills", "verify", art); err != nil || !strings.Contains(out, "allowlisted") {
		t.Fatalf("allowlisted verify: %v\n%s", err, out)
	}
	if _, err := run(t, nil, "--state-dir", state, "trust", "add", "acme", "not-a-key"); err == nil {
		t.Fatal("trust add accepted a bad key")
	}
}

func TestVerifyTamperedNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	art := writeArtifact(t, dir, key)
	data, _ := os.ReadFile(art)
	data = append(data, "junk"...)
	bad := filepath.Join(dir, "bad.palyra-skill")
	os.WriteFile(bad, data, 0o644)
	_, err := run(t, nil, "--state-dir", filepath.Join(dir, "state"), "skills", "verify", "--allow-tofu", bad)
	if err == nil {
		t.Fatal("tampered artifact verified")
	}
	if _, statErr := os.Stat(filepath.Join(dir, "state", "skills", "trust-store.json")); statErr == nil {
		t.Fatal("tampered artifact wrote the trust store")
	}
	t.Logf("error shown: %v", err)
}

func TestInspectCommand(t *testing.T) {
	out, err := run(t, nil, "skills", "inspect", "../../../testdata/palyra-v1/golden.palyra-skill")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"golden.echo 1.0.0", "ed25519:2ef75dfce7823b5e", "holdout", "modules/echo.wasm"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestLifecycleCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	art := writeArtifact(t, dir, key)
	sd := []string{"--state-dir", state}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(t, nil, append(sd, args...)...)
		if err != nil {
			t.Fatalf("palyra %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out, err := run(t, nil, append(sd, "skills", "install", art)...); err == nil {
		t.Fatalf("install of an untrusted publisher succeeded:\n%s", out)
	}
	if out := must("skills", "install", "--allow-tofu", art); !strings.Contains(out, "installed acme.echo 1.0.0 (eligible)") {
		t.Fatalf("install output:\n%s", out)
	}
	var list []struct {
		SkillID string `json:"skill_id"`
		State   string `json:"state"`
	}
	if err := json.Unmarshal([]byte(must("skills", "list", "--json")), &list); err != nil || len(list) != 1 || list[0].State != "eligible" {
		t.Fatalf("list --json: %+v %v", list, err)
	}
	must("skills", "check")
	if out := must("skills", "info", "acme.echo"); !strings.Contains(out, "installed → eligible") && !strings.Contains(out, "verified → eligible") {
		t.Fatalf("info lacks history:\n%s", out)
	}
	must("skills", "audit", "acme.echo")

	os.Remove(filepath.Join(state, "skills", "installed", "acme.echo", "1.0.0", "provenance.json"))
	out, err := run(t, nil, append(sd, "skills", "check")...)
	if err == nil || !strings.Contains(out, "QUARANTINED acme.echo") || !strings.Contains(out, "provenance.json missing") {
		t.Fatalf("check after tampering must fail and say why: %v\n%s", err, out)
	}
	if _, err := run(t, nil, append(sd, "skills", "enable", "acme.echo")...); err == nil {
		t.Fatal("enable of a tampered skill succeeded")
	}
	must("skills", "install", art)
	must("skills", "quarantine", "acme.echo", "--reason", "testing")
	must("skills", "enable", "acme.echo")
	pub := key.Public().(ed25519.PublicKey)
	must("trust", "revoke", "acme", signing.KeyID(pub))
	if _, err := run(t, nil, append(sd, "skills", "check")...); err == nil {
		t.Fatal("check after revoking the key passed")
	}
	// Palyra reads trust-store.json alone: the revoked key must be gone.
	if data, err := os.ReadFile(filepath.Join(state, "skills", "trust-store.json")); err != nil || strings.Contains(string(data), signing.PublicKeyHex(pub)) {
		t.Fatalf("trust-store.json after revoke still lists the key (%v):\n%s", err, data)
	}
	if _, err := run(t, nil, append(sd, "trust", "revoke", "acme", "ed25519:0011223344556677")...); err == nil || !strings.Contains(err.Error(), "ed25519:0011223344556677") {
		t.Fatalf("revoke of an unknown key: %v", err)
	}
	hexKey := signing.PublicKeyHex(pub)
	if _, err := run(t, nil, append(sd, "trust", "add", "acme", hexKey)...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("re-add of a revoked key: %v", err)
	}
	must("trust", "add", "--force", "acme", hexKey)
	if out := must("trust", "list", "--json"); !strings.Contains(out, `"lifted_at_unix_ms"`) || !strings.Contains(out, hexKey) {
		t.Fatalf("trust list after a forced add:\n%s", out)
	}
	must("skills", "remove", "acme.echo")
	if out := must("skills", "list"); !strings.Contains(out, "no skills installed") {
		t.Fatalf("list after remove:\n%s", out)
	}
}

// inspect shows each module's guest ABI, in text and in --json.
func TestInspectShowsABI(t *testing.T) {
	out, err := run(t, nil, "skills", "inspect", "../../../testdata/palyra-v1/golden.palyra-skill")
	if err != nil || !strings.Contains(out, "modules/echo.wasm  extism") {
		t.Errorf("golden: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile("../../../internal/runtime/testdata/native/echo_http.wasm")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acme.echo-1.0.0.palyra-skill")
	if err := os.WriteFile(path, testskill.Spec{Module: wasm}.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, nil, "skills", "inspect", path)
	if err != nil || !strings.Contains(out, "modules/echo.wasm  palyra-native  entrypoint run") {
		t.Errorf("native: %v\n%s", err, out)
	}
	out, err = run(t, nil, "skills", "inspect", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Modules []struct {
			Path, ABI, Entrypoint string
		} `json:"modules"`
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Modules) != 1 || in.Modules[0].ABI != "palyra-native" || in.Modules[0].Entrypoint != "run" {
		t.Errorf("--json modules = %+v", in.Modules)
	}
}

// TestVerifyCommandChecksCompat: `palyra skills verify` refuses an artifact
// that needs a newer host, naming the field and both values, as Palyra's
// verify does (before, only install checked [compat]).
func TestVerifyCommandChecksCompat(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	art := filepath.Join(dir, "acme.echo-1.0.0.palyra-skill")
	if err := os.WriteFile(art, testskill.Spec{Key: key, MinHost: "42.0.0"}.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, nil, "--state-dir", filepath.Join(dir, "state"), "skills", "verify", "--allow-tofu", art)
	if err == nil || !strings.Contains(err.Error(), "compat.min_palyra_version 42.0.0") || !strings.Contains(err.Error(), host.Version) {
		t.Fatalf("verify of an artifact needing palyra 42: %v", err)
	}
}
