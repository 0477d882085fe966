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
	"time"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/signing"
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
	m, err := manifest.Parse([]byte(`skill_id = "acme.echo"
name = "Echo"
version = "1.0.0"
publisher = "acme"
[[entrypoints.tools]]
id = "acme.echo"
name = "echo"
description = "Echo"
input_schema = { type = "object" }
output_schema = { type = "object" }
[compat]
required_protocol_major = 1
min_palyra_version = "0.1.0"
`))
	if err != nil {
		t.Fatal(err)
	}
	mod := []byte("\x00asm\x01\x00\x00\x00")
	b, err := artifact.Build(artifact.BuildRequest{
		Manifest: m, Modules: []artifact.File{{Path: "modules/echo.wasm", Data: mod}},
		SBOM: []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}`),
		Provenance: []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"modules/echo.wasm","digest":{"sha256":"` +
			artifact.SHA256Hex(mod) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{},"builder":{"id":"test"}}`),
		Key: key, SignedAt: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "acme.echo-1.0.0.palyra-skill")
	if err := os.WriteFile(path, b.Bytes, 0o644); err != nil {
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
