package gen

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/signing"
)

// run executes the palyra-gen command tree in-process.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := Command()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLIKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := run(t, "", "keygen", "--out", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res KeygenResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("keygen --json: %v\n%s", err, out)
	}
	privPEM, err := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := signing.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || res.KeyID != signing.KeyID(pub) || res.PublicKeyHex != hex.EncodeToString(pub) {
		t.Errorf("keygen result %+v does not match the written keys", res)
	}
	if !strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----") {
		t.Error("keys are not PKCS#8 / SPKI PEM")
	}
	if st, _ := os.Stat(filepath.Join(dir, PrivateKeyFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("publisher.key mode %v, want 0600", st.Mode().Perm())
	}

	// A second keygen must not overwrite the key.
	_, err = run(t, "", "keygen", "--out", dir)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second keygen: err = %v, want ErrExists", err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	if !bytes.Equal(again, privPEM) {
		t.Fatal("second keygen changed publisher.key")
	}

	// Human output names the key id.
	out, err = run(t, "", "keygen", "--out", filepath.Join(t.TempDir(), "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexpKeyID.MatchString(out) {
		t.Errorf("keygen output lacks a key id:\n%s", out)
	}
}

func TestCLIPackage(t *testing.T) {
	src, built := builtSkill(t)
	dir := copySkill(t, src)
	pub, priv := newKey(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")

	// Key from stdin, as hex.
	out, err := run(t, hex.EncodeToString(priv.Seed()), "package", dir, "--key", "-", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res PackageResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("package --json: %v\n%s", err, out)
	}
	if res.KeyID != signing.KeyID(pub) || res.Modules[0].SHA256 != built.Record.SHA256 {
		t.Errorf("package --json = %+v", res)
	}
	a := openArtifact(t, res.File)

	// The same key from a PEM file, human output, --out: the same bytes.
	keyFile := filepath.Join(t.TempDir(), "publisher.key")
	pemKey, _ := signing.MarshalPrivateKeyPEM(priv)
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(t.TempDir(), "x.palyra-skill")
	out, err = run(t, "", "package", dir, "--key", keyFile, "--out", outFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "acme.echoskill 1.2.3") || !strings.Contains(out, signing.KeyID(pub)) {
		t.Errorf("human output:\n%s", out)
	}
	first, _ := os.ReadFile(res.File)
	second, _ := os.ReadFile(outFile)
	if !bytes.Equal(first, second) {
		t.Error("stdin hex key and PEM file key gave different artifacts")
	}
	if a.PayloadSHA256 != res.PayloadSHA256 {
		t.Errorf("payload %s, reported %s", a.PayloadSHA256, res.PayloadSHA256)
	}
}

func TestCLIPackageErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm})
	artifactFile := filepath.Join(dir, "acme.prebuilt-0.1.0.palyra-skill")
	for _, tc := range []struct {
		name    string
		stdin   string
		args    []string
		wantMsg string
	}{
		{"missing --key", "", []string{"package", dir}, `"key" not set`},
		{"bad key on stdin", "not a key", []string{"package", dir, "--key", "-"}, "--key -: signing key"},
		{"missing key file", "", []string{"package", dir, "--key", filepath.Join(dir, "nope.key")}, "nope.key"},
		{"no skill dir", hex.EncodeToString(make([]byte, 32)), []string{"package", filepath.Join(dir, "missing"), "--key", "-"}, "skill.toml"},
		{"too many args", "", []string{"build", "a", "b"}, "accepts at most 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.stdin, tc.args...)
			if err == nil {
				t.Fatal("command succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			if _, err := os.Stat(artifactFile); err == nil {
				t.Error("artifact written despite the error")
			}
		})
	}
}

var regexpKeyID = regexp.MustCompile(`key id: ed25519:[0-9a-f]{16}\n`)
