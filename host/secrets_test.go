package host_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/secrets"
)

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// copyDir copies the regular files of src into dst (0700), as a backup
// or a synced folder would.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecretsDirCopyDecryptsNothing: the master key used to sit in
// <state>/secrets beside the secrets it seals, so a copy of that
// directory alone decrypted every secret. It now lives in
// <state>/identity/secrets.key.
func TestSecretsDirCopyDecryptsNothing(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	if err := h.SetSecret(ctx, "skill:victim.app", "api_key", []byte("victim-key")); err != nil {
		t.Fatal(err)
	}
	if got, err := host.SecretValue(ctx, h, "skill:victim.app", "api_key"); err != nil || string(got) != "victim-key" {
		t.Fatalf("own read: %q, %v", got, err)
	}
	keyFile := host.SecretsKeyPath(state)
	if m := fileMode(t, keyFile).Perm(); m != 0o600 {
		t.Errorf("%s mode %v, want 0600", keyFile, m)
	}
	if m := fileMode(t, filepath.Dir(keyFile)).Perm(); m != 0o700 {
		t.Errorf("%s mode %v, want 0700", filepath.Dir(keyFile), m)
	}

	// The thief copies <state>/secrets into a state dir of their own.
	thiefState := t.TempDir()
	copyDir(t, filepath.Join(state, "secrets"), filepath.Join(thiefState, "secrets"))
	thief := openHost(t, thiefState, host.Options{})
	got, err := host.SecretValue(ctx, thief, "skill:victim.app", "api_key")
	if err == nil || bytes.Contains(got, []byte("victim-key")) {
		t.Fatalf("a copy of the secrets dir decrypted the secret: %q, %v", got, err)
	}
	if !errors.Is(err, secrets.ErrCorrupt) {
		t.Errorf("read from the copy: %v, want ErrCorrupt", err)
	}
}

// TestSecretsLegacyKeyMovedOnOpen: a state dir whose secrets were sealed
// with <state>/secrets/master.key (as before) keeps its secrets readable,
// and Open moves the key to <state>/identity/secrets.key.
func TestSecretsLegacyKeyMovedOnOpen(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, "secrets")
	key := make([]byte, 32)
	rand.Read(key)
	old, err := secrets.Open(dir, secrets.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Set(ctx, "global", "api_key", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, secrets.LegacyMasterKeyFile)
	if err := os.WriteFile(legacy, key, 0o600); err != nil {
		t.Fatal(err)
	}

	h := openHost(t, state, host.Options{})
	if _, err := os.Lstat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open left the master key in the secrets dir: %v", err)
	}
	if got, err := os.ReadFile(host.SecretsKeyPath(state)); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("moved key: %x, %v", got, err)
	}
	if got, err := host.SecretValue(ctx, h, "global", "api_key"); err != nil || string(got) != "kept" {
		t.Fatalf("secret after the move: %q, %v", got, err)
	}
}

func TestSecretsKeyFileFromEnv(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		kf := filepath.Join(t.TempDir(), "secrets.key")
		t.Setenv(host.EnvSecretsKeyFile, kf)
		state := t.TempDir()
		h := openHost(t, state, host.Options{})
		err := h.SetSecret(ctx, "global", "k", []byte("v"))
		if !errors.Is(err, host.ErrNoSecretsKey) || !strings.Contains(err.Error(), kf) {
			t.Fatalf("SetSecret = %v, want ErrNoSecretsKey naming %s", err, kf)
		}
		if _, err := os.Lstat(kf); !errors.Is(err, fs.ErrNotExist) {
			t.Error("the operator's key file was created")
		}
	})
	t.Run("readable by others", func(t *testing.T) {
		kf := filepath.Join(t.TempDir(), "secrets.key")
		if err := os.WriteFile(kf, bytes.Repeat([]byte{1}, 32), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(kf, 0o644)
		t.Setenv(host.EnvSecretsKeyFile, kf)
		h := openHost(t, t.TempDir(), host.Options{})
		err := h.SetSecret(ctx, "global", "k", []byte("v"))
		if !errors.Is(err, host.ErrInsecurePermissions) || !strings.Contains(err.Error(), kf) || !strings.Contains(err.Error(), "-rw-r--r--") {
			t.Fatalf("SetSecret = %v, want ErrInsecurePermissions naming %s and its mode", err, kf)
		}
	})
	t.Run("used, and the option wins", func(t *testing.T) {
		kf := filepath.Join(t.TempDir(), "secrets.key")
		if err := os.WriteFile(kf, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(host.EnvSecretsKeyFile, kf)
		state := t.TempDir()
		h := openHost(t, state, host.Options{})
		if err := h.SetSecret(ctx, "global", "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(state, "identity")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a default key was made although %s is set", host.EnvSecretsKeyFile)
		}
		h.Close()
		s, err := secrets.Open(filepath.Join(state, "secrets"), secrets.Options{MasterKeyFile: kf})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "global", "k"); err != nil || string(got) != "v" {
			t.Fatalf("sealed with another key than %s: %q, %v", kf, got, err)
		}
		// Options.SecretsKeyFile wins over the environment.
		other := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(other, bytes.Repeat([]byte{2}, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		h2 := openHost(t, state, host.Options{SecretsKeyFile: other})
		if _, err := host.SecretValue(ctx, h2, "global", "k"); !errors.Is(err, secrets.ErrCorrupt) {
			t.Fatalf("read with the option's key = %v, want ErrCorrupt", err)
		}
	})
}

// TestCrossSkillSecretRead runs the read itself: a skill asks the host
// for skill:victim.app/api_key. Requested in its manifest, the install is
// refused; granted by an older version's record, the runtime still
// denies it.
func TestCrossSkillSecretRead(t *testing.T) {
	skipUnderRace(t)
	dir := t.TempDir()
	h := openHost(t, dir, runOpts(host.Options{}))
	if err := h.SetSecret(ctx, "skill:victim.app", "api_key", []byte("victim-key")); err != nil {
		t.Fatal(err)
	}
	guest := skillSpec{Name: "guest", Module: guestModule(t), Tools: guestTools, Memory: 64 << 20}
	attacker := guest
	attacker.Capabilities = `
[[capabilities.secrets]]
scope = "skill:victim.app"
key_names = ["api_key"]`
	_, err := h.Install(ctx, attacker.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
	if !errors.Is(err, host.ErrAuditFailed) || !strings.Contains(err.Error(), "acme.guest") || !strings.Contains(err.Error(), "victim.app") {
		t.Fatalf("install of a skill requesting victim.app's secret: %v", err)
	}
	if out, err := h.Call(ctx, "acme.guest", "secret", []byte("skill:victim.app/api_key")); err == nil || bytes.Contains(out, []byte("victim-key")) {
		t.Fatalf("read victim.app's secret: %q, %v", out, err)
	}

	guest.Capabilities = `
[[capabilities.secrets]]
scope = "skill:acme.guest"
key_names = ["api_key"]`
	if _, err := h.Install(ctx, guest.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatal(err)
	}
	if err := host.ForceGrants(ctx, h, "acme.guest", host.Grants{Secrets: []host.SecretGrant{
		{Scope: "skill:acme.guest", KeyNames: []string{"api_key"}},
		{Scope: "skill:victim.app", KeyNames: []string{"api_key"}},
	}}); err != nil {
		t.Fatal(err)
	}
	out, err := h.Call(ctx, "acme.guest", "secret", []byte("skill:victim.app/api_key"))
	if !errors.Is(err, host.ErrSecretNotGranted) && (err == nil || !strings.Contains(err.Error(), "not granted")) || bytes.Contains(out, []byte("victim-key")) {
		t.Fatalf("read victim.app's secret through a stale grant: %q, %v", out, err)
	}
	if err := h.SetSecret(ctx, "skill:acme.guest", "api_key", []byte("own-key")); err != nil {
		t.Fatal(err)
	}
	if out, err := h.Call(ctx, "acme.guest", "secret", []byte("skill:acme.guest/api_key")); err != nil || string(out) != "own-key" {
		t.Fatalf("own secret: %q, %v", out, err)
	}
}
