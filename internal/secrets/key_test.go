package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// oldStore makes a store the way stores were made before the master key
// moved out of the store directory: secrets sealed with a random key kept
// in dir/master.key (0600). It returns the key.
func oldStore(t *testing.T, dir string, secrets map[Ref]string) []byte {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := Open(dir, Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for r, v := range secrets {
		if err := s.Set(t.Context(), r.Scope, r.Key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	writeRaw(t, filepath.Join(dir, LegacyMasterKeyFile), key)
	return key
}

// TestCopyOfStoreDirRevealsNothing: the bug was that the master key sat
// in the directory it protects, so a copy of the directory (a backup, a
// synced folder) decrypted everything. Now nothing in the directory holds
// the key, and a copy opened with any other key fails authentication.
func TestCopyOfStoreDirRevealsNothing(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if err := s.Set(ctx, "skill:victim.app", "api_key", []byte("the victim's key")); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile(s.Dir()))
	if err != nil {
		t.Fatal(err)
	}

	stolen := filepath.Join(t.TempDir(), "stolen", "secrets")
	if err := os.MkdirAll(stolen, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.Dir(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, key) || bytes.Contains(data, []byte(hex.EncodeToString(key))) {
			t.Fatalf("%s in the store directory holds the master key", e.Name())
		}
		writeRaw(t, filepath.Join(stolen, e.Name()), data)
	}

	if _, err := Open(stolen, Options{}); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("Open of the copy without a key = %v, want ErrNoMasterKey", err)
	}
	thief, err := openDir(stolen) // a fresh key beside the copy
	if err != nil {
		t.Fatal(err)
	}
	if got, err := thief.Get(ctx, "skill:victim.app", "api_key"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get from the copy = %q, %v; want ErrCorrupt", got, err)
	}
	// The key, and only the key, opens it.
	owner, err := Open(stolen, Options{MasterKeyFile: keyFile(s.Dir())})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := owner.Get(ctx, "skill:victim.app", "api_key"); err != nil || string(got) != "the victim's key" {
		t.Fatalf("Get with the owner's key = %q, %v", got, err)
	}
}

func TestLegacyMasterKeyMoved(t *testing.T) {
	ctx := t.Context()
	values := map[Ref]string{{"global", "a"}: "alpha", {"skill:acme.echo", "token"}: "t0k3n"}
	for _, create := range []bool{true, false} {
		name := "default key file"
		if !create {
			name = "operator's key file"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "secrets")
			key := oldStore(t, dir, values)
			kf := keyFile(dir)
			if !create {
				if err := os.Mkdir(filepath.Dir(kf), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir, Options{MasterKeyFile: kf, CreateMasterKey: create})
			if err != nil {
				t.Fatal(err)
			}
			for r, v := range values {
				if got, err := s.Get(ctx, r.Scope, r.Key); err != nil || string(got) != v {
					t.Errorf("Get %s after the move = %q, %v", r, got, err)
				}
			}
			if got, err := os.ReadFile(kf); err != nil || !bytes.Equal(got, key) {
				t.Fatalf("key file holds %x, %v; want the legacy key", got, err)
			}
			if got := mode(t, kf).Perm(); got != 0o600 {
				t.Errorf("key file mode %v", got)
			}
			if _, err := os.Lstat(filepath.Join(dir, LegacyMasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("legacy key still in the store directory: %v", err)
			}
			assertNoTemp(t, dir)
			assertNoTemp(t, filepath.Dir(kf))
		})
	}
}

// TestLegacyMasterKeyCrashMidMove: a crash after the new key file is in
// place but before the legacy one is removed leaves both, equal; the next
// Open finishes the move. Two different keys are a conflict nobody
// resolves by guessing.
func TestLegacyMasterKeyCrashMidMove(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "secrets")
	key := oldStore(t, dir, map[Ref]string{{"global", "a"}: "alpha"})
	kf := keyFile(dir)
	if err := os.Mkdir(filepath.Dir(kf), 0o700); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, kf, key)
	s, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "global", "a"); err != nil || string(got) != "alpha" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, LegacyMasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy key not removed: %v", err)
	}

	other := bytes.Repeat([]byte{9}, 32)
	legacy := filepath.Join(dir, LegacyMasterKeyFile)
	writeRaw(t, legacy, other)
	for _, opts := range []Options{{MasterKeyFile: kf}, {MasterKey: key}} {
		_, err := Open(dir, opts)
		if !errors.Is(err, ErrMasterKeyConflict) || !strings.Contains(err.Error(), legacy) {
			t.Fatalf("Open with two keys = %v, want ErrMasterKeyConflict naming %s", err, legacy)
		}
	}
	if got, _ := os.ReadFile(legacy); !bytes.Equal(got, other) {
		t.Error("conflicting legacy key modified")
	}
	if got, _ := os.ReadFile(kf); !bytes.Equal(got, key) {
		t.Error("key file modified")
	}
	// The caller holding the legacy key itself retires the file.
	if _, err := Open(dir, Options{MasterKey: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy key equal to the given key not removed: %v", err)
	}
}

func TestLegacyMasterKeyConcurrentMove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	oldStore(t, dir, map[Ref]string{{"global", "a"}: "alpha"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := openDir(dir)
			if err != nil {
				t.Error(err)
				return
			}
			if got, err := s.Get(t.Context(), "global", "a"); err != nil || string(got) != "alpha" {
				t.Errorf("Get = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	if _, err := os.Lstat(filepath.Join(dir, LegacyMasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy key not removed: %v", err)
	}
}

func TestMasterKeyFileRules(t *testing.T) {
	ctx := t.Context()
	t.Run("legacy key readable by others is refused, not moved", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "secrets")
		oldStore(t, dir, nil)
		legacy := filepath.Join(dir, LegacyMasterKeyFile)
		chmod(t, legacy, 0o644)
		_, err := openDir(dir)
		var pe *PermissionError
		if !errors.As(err, &pe) || pe.Path != legacy || !strings.Contains(err.Error(), "-rw-r--r--") {
			t.Fatalf("Open = %v, want a *PermissionError naming %s and its mode", err, legacy)
		}
		if _, err := os.Lstat(keyFile(dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Error("key moved out of a loose legacy file")
		}
	})
	t.Run("missing operator key file is not created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "secrets")
		kf := filepath.Join(t.TempDir(), "nope", "secrets.key")
		_, err := Open(dir, Options{MasterKeyFile: kf})
		if !errors.Is(err, ErrNoMasterKey) || !strings.Contains(err.Error(), kf) {
			t.Fatalf("Open = %v, want ErrNoMasterKey naming %s", err, kf)
		}
		if _, err := os.Lstat(filepath.Dir(kf)); !errors.Is(err, fs.ErrNotExist) {
			t.Error("the key's directory was created")
		}
	})
	t.Run("key file inside the store directory is refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "secrets")
		for _, kf := range []string{filepath.Join(dir, "k"), filepath.Join(dir, "sub", "k")} {
			if _, err := Open(dir, Options{MasterKeyFile: kf, CreateMasterKey: true}); err == nil || !strings.Contains(err.Error(), "inside the store directory") {
				t.Errorf("Open with key file %s = %v", kf, err)
			}
		}
	})
	t.Run("hex key file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "secrets")
		key := bytes.Repeat([]byte{0xab, 0x01}, 16)
		raw, err := Open(dir, Options{MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.Set(ctx, "global", "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		kf := filepath.Join(t.TempDir(), "secrets.key")
		for _, text := range []string{hex.EncodeToString(key), hex.EncodeToString(key) + "\n", strings.ToUpper(hex.EncodeToString(key)) + "\r\n"} {
			writeRaw(t, kf, []byte(text))
			s, err := Open(dir, Options{MasterKeyFile: kf})
			if err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			if got, err := s.Get(ctx, "global", "k"); err != nil || string(got) != "v" {
				t.Errorf("%q: Get = %q, %v", text, got, err)
			}
		}
	})
}
