package identity

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/secrets"
)

func TestSecretsStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openSecrets(t, dir)
	for _, tc := range []struct {
		key, file string
	}{
		{"device/identity", "identity@device=identity"},
		{"ca/root.key", "identity@ca=root.key"},
		{"Plain-Key_1", "identity@^plain-^key_1"},
		// '/' never reaches the file name, so no key leaves the directory.
		{"../escape", "identity@..=escape"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if _, err := store.Get(ctx, tc.key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get before Put = %v, want ErrNotFound", err)
			}
			v1 := []byte("first value " + tc.key)
			if err := store.Put(ctx, tc.key, v1); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "secrets", tc.file)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("expected file %s: %v", tc.file, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s has mode %v, want 0600", tc.file, fi.Mode())
			}
			raw, _ := os.ReadFile(path)
			if bytes.Contains(raw, v1) {
				t.Fatal("value stored in the clear")
			}
			if got, err := store.Get(ctx, tc.key); err != nil || !bytes.Equal(got, v1) {
				t.Fatalf("Get = %q, %v; want %q", got, err, v1)
			}
			if err := store.Create(ctx, tc.key, []byte("other")); !errors.Is(err, ErrExists) {
				t.Fatalf("Create over an existing value = %v, want ErrExists", err)
			}
			v2 := []byte("second")
			if err := store.Put(ctx, tc.key, v2); err != nil {
				t.Fatal(err)
			}
			if got, err := store.Get(ctx, tc.key); err != nil || !bytes.Equal(got, v2) {
				t.Fatalf("Get after replace = %q, %v; want %q", got, err, v2)
			}
			if err := store.Delete(ctx, tc.key); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Get(ctx, tc.key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
			}
			if err := store.Delete(ctx, tc.key); err != nil {
				t.Fatalf("Delete of a missing key = %v, want nil", err)
			}
			if err := store.Create(ctx, tc.key, v1); err != nil {
				t.Fatalf("Create on a missing key: %v", err)
			}
			if got, err := store.Get(ctx, tc.key); err != nil || !bytes.Equal(got, v1) {
				t.Fatalf("Get after Create = %q, %v; want %q", got, err, v1)
			}
		})
	}
}

func TestSecretsStoreRefusesBadKeys(t *testing.T) {
	ctx := context.Background()
	store := openSecrets(t, t.TempDir())
	for _, key := range []string{
		"",
		"a:b", // ':' stands for '/' in the file name
		"a\\b",
		"a b",
		"a\x00b",
		"é",
		strings.Repeat("k", secrets.MaxKeyLen+1),
	} {
		if err := store.Put(ctx, key, []byte("v")); !errors.Is(err, secrets.ErrInvalidRef) {
			t.Errorf("Put(%q) = %v, want ErrInvalidRef", key, err)
		}
		if _, err := store.Get(ctx, key); !errors.Is(err, secrets.ErrInvalidRef) {
			t.Errorf("Get(%q) = %v, want ErrInvalidRef", key, err)
		}
	}
}

// Identity material is out of reach of the user-facing secrets API: no
// ref names its scope, List does not show it, and a skill secret with a
// look-alike name is a different file.
func TestIdentityScopeIsReserved(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := secrets.Open(filepath.Join(dir, "secrets"), secrets.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	store := NewSecretsStore(s)
	if err := store.Put(ctx, "device/identity", []byte("private")); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.ParseRef("identity/device:identity"); !errors.Is(err, secrets.ErrInvalidRef) {
		t.Fatalf("ParseRef of the reserved scope = %v, want ErrInvalidRef", err)
	}
	if _, err := s.Get(ctx, secrets.IdentityScope, "device:identity"); !errors.Is(err, secrets.ErrInvalidRef) {
		t.Fatalf("user Get of the reserved scope = %v, want ErrInvalidRef", err)
	}
	if err := s.Set(ctx, secrets.IdentityScope, "device:identity", []byte("x")); !errors.Is(err, secrets.ErrInvalidRef) {
		t.Fatalf("user Set of the reserved scope = %v, want ErrInvalidRef", err)
	}
	if err := s.Set(ctx, "skill:identity", "device:identity", []byte("skill value")); err != nil {
		t.Fatal(err)
	}
	refs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Scope != "skill:identity" {
		t.Fatalf("List = %v, want only the skill secret", refs)
	}
	if got, err := store.Get(ctx, "device/identity"); err != nil || string(got) != "private" {
		t.Fatalf("identity value after a look-alike skill secret = %q, %v", got, err)
	}
}

func TestSecretsStoreRefusesWorldReadableFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openSecrets(t, dir)
	if _, err := LoadOrCreate(ctx, store); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secrets", "identity@device=identity")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(ctx, store); !errors.Is(err, secrets.ErrInsecurePermissions) {
		t.Fatalf("LoadOrCreate on a 0644 file = %v, want ErrInsecurePermissions", err)
	}
}

// SecretsStore is a Locker: two adapters over the same directory (two
// processes' worth of open files) exclude each other, and Put works while
// the lock is held.
func TestSecretsStoreLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var a, b Locker = openSecrets(t, dir), openSecrets(t, dir)
	unlock, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.(SecretStore).Put(ctx, "registry/x", []byte("v")); err != nil {
		t.Fatalf("Put under the lock: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held = %v, want DeadlineExceeded", err)
	}
	unlock()
	ok, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	unlock, err = b.Lock(ok)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
}
