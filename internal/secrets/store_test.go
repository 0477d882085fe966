package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// keyFile is where the tests keep the master key of the store in dir:
// beside dir, in an "identity" directory, as the host does.
func keyFile(dir string) string {
	return filepath.Join(filepath.Dir(dir), "identity", "secrets.key")
}

// openDir opens the store in dir with its master key in keyFile(dir),
// created on first use.
func openDir(dir string) (*Store, error) {
	return Open(dir, Options{MasterKeyFile: keyFile(dir), CreateMasterKey: true})
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := openDir(filepath.Join(t.TempDir(), "secrets"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if got := mode(t, s.Dir()).Perm(); got != 0o700 {
		t.Errorf("store dir mode %v, want 0700", got)
	}
	if got := mode(t, keyFile(s.Dir())).Perm(); got != 0o600 {
		t.Errorf("master key mode %v, want 0600", got)
	}
	if got := mode(t, filepath.Dir(keyFile(s.Dir()))).Perm(); got != 0o700 {
		t.Errorf("master key dir mode %v, want 0700", got)
	}

	if _, err := s.Get(ctx, "global", "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v, want ErrNotFound", err)
	}
	values := map[Ref][]byte{
		{"global", "openai_api_key"}:               []byte("sk-123"),
		{"skill:northwind.weather", "API_KEY"}:     []byte("w"),
		{"skill:northwind.weather", "api_key"}:     []byte("lower"),
		{"principal:admin:ops", "token.v2"}:        bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000),
		{"channel:discord:acct_1", "empty"}:        {},
		{"global", "max"}:                          bytes.Repeat([]byte("x"), MaxValueBytes),
		{"skill:" + strings.Repeat("a", 122), "k"}: []byte("long scope"),
	}
	for r, v := range values {
		if err := s.Set(ctx, r.Scope, r.Key, v); err != nil {
			t.Fatalf("Set %s: %v", r, err)
		}
	}
	for r, v := range values {
		got, err := s.Get(ctx, r.Scope, r.Key)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("Get %s = %d bytes, %v; want %d bytes", r, len(got), err, len(v))
		}
		if got := mode(t, filepath.Join(s.Dir(), fileName(r))).Perm(); got != 0o600 {
			t.Errorf("%s file mode %v, want 0600", r, got)
		}
		raw, err := os.ReadFile(filepath.Join(s.Dir(), fileName(r)))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) >= 4 && bytes.Contains(raw, v) {
			t.Errorf("%s stored in clear", r)
		}
	}

	refs, err := s.List(ctx)
	if err != nil || len(refs) != len(values) {
		t.Fatalf("List = %v, %v; want %d refs", refs, err, len(values))
	}
	for i, r := range refs {
		if _, ok := values[r]; !ok {
			t.Errorf("List returned unknown %s", r)
		}
		if i > 0 && (refs[i-1].Scope > r.Scope || refs[i-1].Scope == r.Scope && refs[i-1].Key >= r.Key) {
			t.Errorf("List not sorted at %d: %v", i, refs)
		}
	}

	if err := s.Set(ctx, "global", "openai_api_key", []byte("sk-456")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "global", "openai_api_key"); string(got) != "sk-456" {
		t.Errorf("after overwrite got %q", got)
	}
	if err := s.Delete(ctx, "global", "openai_api_key"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "global", "openai_api_key"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if err := s.Delete(ctx, "global", "openai_api_key"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v", err)
	}
	if err := s.Set(ctx, "global", "big", make([]byte, MaxValueBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Set oversize = %v", err)
	}

	// A second Open of the same directory finds the same master key.
	s2, err := openDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx, "skill:northwind.weather", "API_KEY"); err != nil || string(got) != "w" {
		t.Errorf("reopened Get = %q, %v", got, err)
	}
	assertNoTemp(t, s.Dir())
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestContextCancelled(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Set(ctx, "global", "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("Set = %v", err)
	}
	if _, err := s.Get(ctx, "global", "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List = %v", err)
	}
}

func TestPermissionsEnforced(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *Store) string // returns the path the error must name
		open   bool                                // the failure shows at Open
		get    bool                                // the failure shows at Get
	}{
		{"secret file 0644", func(t *testing.T, s *Store) string {
			p := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
			chmod(t, p, 0o644)
			return p
		}, false, true},
		{"secret file 0640", func(t *testing.T, s *Store) string {
			p := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
			chmod(t, p, 0o640)
			return p
		}, false, true},
		{"secret file 0602", func(t *testing.T, s *Store) string {
			p := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
			chmod(t, p, 0o602)
			return p
		}, false, true},
		{"dir 0755", func(t *testing.T, s *Store) string {
			chmod(t, s.Dir(), 0o755)
			return s.Dir()
		}, true, true},
		{"dir 0710", func(t *testing.T, s *Store) string {
			chmod(t, s.Dir(), 0o710)
			return s.Dir()
		}, true, true},
		{"master key 0644", func(t *testing.T, s *Store) string {
			p := keyFile(s.Dir())
			chmod(t, p, 0o644)
			return p
		}, true, false}, // the key is already in memory; a restart would refuse
		{"master key 0620", func(t *testing.T, s *Store) string {
			p := keyFile(s.Dir())
			chmod(t, p, 0o620)
			return p
		}, true, false},
		{"master key dir 0770", func(t *testing.T, s *Store) string {
			p := filepath.Dir(keyFile(s.Dir()))
			chmod(t, p, 0o770)
			return p
		}, true, false},
		{"master key is a symlink", func(t *testing.T, s *Store) string {
			p := keyFile(s.Dir())
			moved := p + ".real"
			if err := os.Rename(p, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, p); err != nil {
				t.Fatal(err)
			}
			return p
		}, true, false},
		{"secret file is a symlink", func(t *testing.T, s *Store) string {
			p := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
			other := filepath.Join(s.Dir(), fileName(Ref{"global", "other"}))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, p); err != nil {
				t.Fatal(err)
			}
			return p
		}, false, true},
		{"secret file is a directory", func(t *testing.T, s *Store) string {
			p := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			for _, k := range []string{"k", "other"} {
				if err := s.Set(ctx, "global", k, []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			path := tt.tamper(t, s)
			check := func(op string, err error, want bool) {
				t.Helper()
				if !want {
					if err != nil {
						t.Errorf("%s = %v, want success", op, err)
					}
					return
				}
				var pe *PermissionError
				if !errors.Is(err, ErrInsecurePermissions) || !errors.As(err, &pe) {
					t.Fatalf("%s = %v, want a *PermissionError", op, err)
				}
				if pe.Path != path || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), pe.Mode.String()) {
					t.Errorf("%s: err = %q, want it to name %s and its mode", op, err, path)
				}
			}
			_, err := s.Get(ctx, "global", "k")
			check("Get", err, tt.get)
			_, err = openDir(s.Dir())
			check("Open", err, tt.open)
		})
	}
}

func chmod(t *testing.T, path string, m fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, m); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesLooseExistingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, dir, 0o750)
	_, err := openDir(dir)
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Path != dir || pe.Mode.Perm() != 0o750 {
		t.Fatalf("Open = %v, want a *PermissionError for %s mode 0750", err, dir)
	}
	if _, err := os.Stat(keyFile(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a master key was created for a refused directory")
	}
}

func TestTamperDetected(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if err := s.Set(ctx, "global", "k", []byte("the secret value")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), fileName(Ref{"global", "k"}))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one bit in the magic, the nonce, the ciphertext and the tag.
	for _, i := range []int{0, len(fileMagic), len(fileMagic) + 23, len(fileMagic) + 24, len(orig) - 1} {
		t.Run(fmt.Sprintf("flip byte %d", i), func(t *testing.T) {
			bad := bytes.Clone(orig)
			bad[i] ^= 0x01
			writeRaw(t, path, bad)
			if _, err := s.Get(ctx, "global", "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want ErrCorrupt", err)
			}
		})
	}
	for _, n := range []int{0, 5, overhead - 1, len(orig) - 1} {
		t.Run(fmt.Sprintf("truncated to %d", n), func(t *testing.T) {
			writeRaw(t, path, orig[:n])
			if _, err := s.Get(ctx, "global", "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("appended", func(t *testing.T) {
		writeRaw(t, path, append(bytes.Clone(orig), 0))
		if _, err := s.Get(ctx, "global", "k"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Get = %v, want ErrCorrupt", err)
		}
	})
	writeRaw(t, path, orig)
	if got, err := s.Get(ctx, "global", "k"); err != nil || string(got) != "the secret value" {
		t.Fatalf("restored file: %q, %v", got, err)
	}
}

func writeRaw(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSwappedFilesDetected(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	pairs := [][2]Ref{
		{{"global", "a"}, {"global", "b"}},
		{{"skill:x", "k"}, {"skill:y", "k"}},         // same key, other scope
		{{"principal:p", "K"}, {"principal:p", "k"}}, // case only
	}
	for _, p := range pairs {
		from, to := p[0], p[1]
		if err := s.Set(ctx, from.Scope, from.Key, []byte("value of "+from.String())); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, to.Scope, to.Key, []byte("value of "+to.String())); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(s.Dir(), fileName(from)))
		if err != nil {
			t.Fatal(err)
		}
		writeRaw(t, filepath.Join(s.Dir(), fileName(to)), data)
		if got, err := s.Get(ctx, to.Scope, to.Key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s with %s's file: %q, %v; want ErrCorrupt", to, from, got, err)
		}
	}
}

func TestMasterKeyOption(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "s")
	key := bytes.Repeat([]byte{7}, 32)
	s, err := Open(dir, Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("a master key file was written although the key was supplied: %v", entries)
	}
	if err := s.Set(ctx, "global", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	other, err := Open(dir, Options{MasterKey: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "global", "k"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get with another key = %v, want ErrCorrupt", err)
	}
	if _, err := Open(dir, Options{MasterKey: key[:16]}); err == nil {
		t.Error("a 16-byte master key was accepted")
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("Open without a key = %v, want ErrNoMasterKey", err)
	}
	// A damaged master key file is an error, not a silent new key.
	dir2 := filepath.Join(t.TempDir(), "s2")
	if _, err := openDir(dir2); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"short", strings.Repeat("g", 64), strings.Repeat("ab", 33)} {
		writeRaw(t, keyFile(dir2), []byte(bad))
		if _, err := openDir(dir2); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), keyFile(dir2)) {
			t.Errorf("Open with master key %q = %v, want ErrCorrupt naming the file", bad, err)
		}
	}
}

func TestConcurrentAccess(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "s")
	// Racing Opens must agree on one master key.
	const openers = 8
	stores := make([]*Store, openers)
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			s, err := openDir(dir)
			if err != nil {
				t.Error(err)
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	valid := map[string]bool{}
	for w := range openers {
		for i := range 20 {
			valid[fmt.Sprintf("writer %d value %d", w, i)] = true
		}
	}
	for w := range openers {
		wg.Go(func() {
			for i := range 20 {
				s := stores[(w+i)%openers]
				if err := s.Set(ctx, "global", "shared", fmt.Appendf(nil, "writer %d value %d", w, i)); err != nil {
					t.Error(err)
					return
				}
				if err := s.Set(ctx, "global", fmt.Sprintf("own%d", w), []byte{byte(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 40 {
				got, err := stores[w].Get(ctx, "global", "shared")
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil || !valid[string(got)] {
					t.Errorf("Get = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	refs, err := stores[0].List(ctx)
	if err != nil || len(refs) != openers+1 {
		t.Errorf("List = %v, %v", refs, err)
	}
	for w := range openers {
		if got, err := stores[0].Get(ctx, "global", fmt.Sprintf("own%d", w)); err != nil || !bytes.Equal(got, []byte{19}) {
			t.Errorf("own%d = %v, %v", w, got, err)
		}
	}
	assertNoTemp(t, dir)
}

func TestListIgnoresForeignFiles(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if err := s.Set(ctx, "global", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"README", "global@", "GLOBAL@k", "global@^", "global@^A", ".tmp-123", "skill@k", "global@a@b"} {
		writeRaw(t, filepath.Join(s.Dir(), name), nil)
	}
	if err := os.Mkdir(filepath.Join(s.Dir(), "global@dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	refs, err := s.List(ctx)
	if err != nil || len(refs) != 1 || refs[0] != (Ref{"global", "k"}) {
		t.Errorf("List = %v, %v; want only global/k", refs, err)
	}
}
