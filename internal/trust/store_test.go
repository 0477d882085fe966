package trust

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/lockfile"
	"github.com/palyra/palyra-go/internal/signing"
)

// testKey derives a deterministic public key, so failures are reproducible.
func testKey(label string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func hexOf(k ed25519.PublicKey) string { return signing.PublicKeyHex(k) }

// storePath returns <tmp>/skills/trust-store.json, the layout of a state dir.
func storePath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "skills", FileName)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func readStore(t *testing.T, path string) *storeFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStoreFile(data)
	if err != nil {
		t.Fatalf("store we wrote does not parse: %v\n%s", err, data)
	}
	return st
}

func TestDecide(t *testing.T) {
	ctx := context.Background()
	a, b, c := testKey("a"), testKey("b"), testKey("c")
	store := func(trusted, tofu string) string {
		return fmt.Sprintf(`{"trusted_publishers": {%s}, "tofu_publishers": {%s}}`, trusted, tofu)
	}
	tests := []struct {
		name      string
		file      string
		revoke    []ed25519.PublicKey
		publisher string
		key       ed25519.PublicKey
		tofu      bool
		want      Decision
		wantErr   error
		wantPin   string // TOFU pin for publisher afterwards ("" = none)
	}{
		{name: "allowlisted key", file: store(`"acme": ["`+hexOf(b)+`", "`+hexOf(a)+`"]`, ``),
			publisher: "acme", key: a, want: Allowlisted},
		{name: "allowlisted publisher, other key", file: store(`"acme": ["`+hexOf(a)+`"]`, ``),
			publisher: "acme", key: c, tofu: true, wantErr: ErrKeyMismatch},
		{name: "allowlisting disables TOFU, even a matching pin", file: store(`"acme": ["`+hexOf(a)+`"]`, `"acme": "`+hexOf(c)+`"`),
			publisher: "acme", key: c, tofu: true, wantErr: ErrKeyMismatch, wantPin: hexOf(c)},
		{name: "pinned key", file: store(``, `"acme": "`+hexOf(a)+`"`),
			publisher: "acme", key: a, want: TofuPinned, wantPin: hexOf(a)},
		{name: "pinned publisher, other key", file: store(``, `"acme": "`+hexOf(a)+`"`),
			publisher: "acme", key: b, tofu: true, wantErr: ErrKeyMismatch, wantPin: hexOf(a)},
		{name: "unknown publisher, TOFU", file: store(`"other": ["`+hexOf(b)+`"]`, ``),
			publisher: "acme", key: a, tofu: true, want: TofuNewlyPinned, wantPin: hexOf(a)},
		{name: "unknown publisher, no file, TOFU",
			publisher: "acme", key: a, tofu: true, want: TofuNewlyPinned, wantPin: hexOf(a)},
		{name: "unknown publisher, no TOFU", file: store(``, `"other": "`+hexOf(a)+`"`),
			publisher: "acme", key: a, wantErr: ErrUntrustedPublisher},
		{name: "revoked allowlisted key", file: store(`"acme": ["`+hexOf(a)+`"]`, ``), revoke: []ed25519.PublicKey{a},
			publisher: "acme", key: a, wantErr: ErrKeyRevoked},
		{name: "revoked pinned key", file: store(``, `"acme": "`+hexOf(a)+`"`), revoke: []ed25519.PublicKey{a},
			publisher: "acme", key: a, tofu: true, wantErr: ErrKeyRevoked},
		{name: "publisher whose pinned key was revoked is not re-pinned", file: store(``, `"acme": "`+hexOf(a)+`"`), revoke: []ed25519.PublicKey{a},
			publisher: "acme", key: b, tofu: true, wantErr: ErrUntrustedPublisher},
		{name: "publisher whose only allowlisted key was revoked is not pinned", file: store(`"acme": ["`+hexOf(a)+`"]`, ``), revoke: []ed25519.PublicKey{a},
			publisher: "acme", key: b, tofu: true, wantErr: ErrUntrustedPublisher},
		{name: "revoked key under a new publisher name", file: store(``, `"acme": "`+hexOf(a)+`"`), revoke: []ed25519.PublicKey{a},
			publisher: "acme2", key: a, tofu: true, wantErr: ErrKeyRevoked},
		{name: "other key of a publisher with a revoked key", file: store(`"acme": ["`+hexOf(a)+`", "`+hexOf(b)+`"]`, ``), revoke: []ed25519.PublicKey{a},
			publisher: "acme", key: b, want: Allowlisted},
		{name: "invalid publisher", publisher: "Acme", key: a, tofu: true, wantErr: ErrInvalidPublisher},
		{name: "short key", publisher: "acme", key: a[:31], tofu: true, wantErr: signing.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := storePath(t)
			if tt.file != "" {
				writeFile(t, path, tt.file)
			}
			s := mustOpen(t, path)
			for _, k := range tt.revoke {
				if err := s.Revoke(ctx, "acme", signing.KeyID(k)); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)

			ev, everr := s.Evaluate(ctx, tt.publisher, tt.key, DecideOptions{AllowTOFU: tt.tofu})
			got, err := s.Decide(ctx, tt.publisher, tt.key, DecideOptions{AllowTOFU: tt.tofu})
			if ev != got || !errors.Is(everr, tt.wantErr) && tt.wantErr != nil {
				t.Errorf("Evaluate = %q, %v; Decide = %q, %v", ev, everr, got, err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decide error = %v, want %v", err, tt.wantErr)
				}
				var de *DecisionError
				if errors.As(err, &de) && (de.Publisher != tt.publisher || de.KeyID != signing.KeyID(tt.key)) {
					t.Errorf("DecisionError names %q %s", de.Publisher, de.KeyID)
				}
				after, _ := os.ReadFile(path)
				if !bytes.Equal(before, after) {
					t.Errorf("a failed decision rewrote the store:\n%s", after)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("Decide = %q, %v; want %q", got, err, tt.want)
			}
			var pin string
			if _, err := os.Stat(path); err == nil {
				pin = readStore(t, path).Tofu[tt.publisher]
			}
			if pin != tt.wantPin {
				t.Errorf("pin for %s afterwards = %q, want %q", tt.publisher, pin, tt.wantPin)
			}
			if got == TofuNewlyPinned {
				again, err := s.Decide(ctx, tt.publisher, tt.key, DecideOptions{})
				if err != nil || again != TofuPinned {
					t.Errorf("second Decide = %q, %v; want tofu_pinned", again, err)
				}
			}
		})
	}
}

func TestEvaluateNeverWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "skills", FileName)
	s := mustOpen(t, path)
	d, err := s.Evaluate(ctx, "acme", testKey("a"), DecideOptions{AllowTOFU: true})
	if err != nil || d != TofuNewlyPinned {
		t.Fatalf("Evaluate = %q, %v", d, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Evaluate created %s (stat: %v)", filepath.Dir(path), err)
	}
	// With an existing store and lock file: still nothing written.
	if err := s.AddTrusted(ctx, "other", testKey("b")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if d, err := s.Evaluate(ctx, "acme", testKey("a"), DecideOptions{AllowTOFU: true}); err != nil || d != TofuNewlyPinned {
		t.Fatalf("Evaluate = %q, %v", d, err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("Evaluate changed the store")
	}
	if readStore(t, path).Tofu["acme"] != "" {
		t.Fatal("Evaluate pinned")
	}
}

// TestFileFormat pins the bytes we write to what serde_json::to_vec_pretty
// writes for Palyra's SkillTrustStore.
func TestFileFormat(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	s := mustOpen(t, path)
	// A no-op removal attempt fails and writes nothing; a pin then a removal
	// leaves the empty store, with both top-level keys present.
	a, b, c := testKey("a"), testKey("b"), testKey("c")
	if _, err := s.Decide(ctx, "zeta", c, DecideOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "zeta", signing.KeyID(c)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "{\n  \"trusted_publishers\": {},\n  \"tofu_publishers\": {}\n}"; string(got) != want {
		t.Fatalf("empty store:\n%s\nwant:\n%s", got, want)
	}

	for _, k := range []ed25519.PublicKey{b, a, b} {
		if err := s.AddTrusted(ctx, "acme", k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Decide(ctx, "zeta", c, DecideOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx, "beta.co", a, DecideOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	keys := []string{hexOf(a), hexOf(b)}
	sort.Strings(keys)
	want := `{
  "trusted_publishers": {
    "acme": [
      "` + keys[0] + `",
      "` + keys[1] + `"
    ]
  },
  "tofu_publishers": {
    "beta.co": "` + hexOf(a) + `",
    "zeta": "` + hexOf(c) + `"
  }
}`
	got, _ = os.ReadFile(path)
	if string(got) != want {
		t.Fatalf("store:\n%s\nwant:\n%s", got, want)
	}
}

func TestAtomicWritesAndModes(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	s := mustOpen(t, path)
	for i := range 5 {
		if _, err := s.Decide(ctx, fmt.Sprintf("p%d", i), testKey(fmt.Sprint(i)), DecideOptions{AllowTOFU: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Revoke(ctx, "p0", signing.KeyID(testKey("0"))); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), perm)
		}
	}
	want := []string{RevocationsFileName, FileName, FileName + ".lock"} // ReadDir order
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("directory holds %v, want exactly %v (no temp files)", names, want)
	}
	info, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %v, want 0700", perm)
	}
}

func TestOpenRejects(t *testing.T) {
	k := hexOf(testKey("a"))
	k2 := hexOf(testKey("b"))
	tests := []struct{ name, file, wantMsg string }{
		{"unknown top-level field", `{"trusted_publishers": {}, "revoked": []}`, `unknown field "revoked"`},
		{"case variant of a field", `{"Trusted_Publishers": {}}`, "case-sensitive"},
		{"duplicate top-level key", `{"tofu_publishers": {}, "tofu_publishers": {}}`, `duplicate key "tofu_publishers"`},
		{"duplicate publisher", `{"tofu_publishers": {"a": "` + k + `", "a": "` + k + `"}}`, `duplicate key "a"`},
		{"duplicate allowlisted publisher", `{"trusted_publishers": {"a": ["` + k + `"], "a": ["` + k + `"]}}`, `duplicate key "a"`},
		{"trailing object", `{} {}`, "after the top-level object"},
		{"trailing garbage", `{}x`, "after the top-level object"},
		{"array", `[]`, "want an object"},
		{"null document", `null`, "want an object, got null"},
		{"vertical tab only", "\v", "invalid character"}, // not ASCII whitespace to Rust
		{"null map", `{"trusted_publishers": null}`, "got null"},
		{"key list not array", `{"trusted_publishers": {"a": "` + k + `"}}`, "want an array"},
		{"non-string key", `{"trusted_publishers": {"a": [1]}}`, "want a string, got a number"},
		{"empty key list", `{"trusted_publishers": {"a": []}}`, "at least one key"},
		{"upper-case publisher", `{"tofu_publishers": {"Acme": "` + k + `"}}`, "invalid publisher"},
		{"publisher with space", `{"tofu_publishers": {"a b": "` + k + `"}}`, "invalid publisher"},
		{"empty publisher", `{"tofu_publishers": {"": "` + k + `"}}`, "invalid publisher"},
		{"key not hex", `{"tofu_publishers": {"a": "zz"}}`, "not hex"},
		{"short key", `{"tofu_publishers": {"a": "` + k[:62] + `"}}`, "31 bytes"},
		{"conflicting pins after trimming", `{"tofu_publishers": {"a": "` + k + `", " a": "` + k2 + `"}}`, "conflicting pins"},
		{"syntax error", `{"trusted_publishers": {"a" ["` + k + `"]}}`, "invalid character"},
		{"invalid UTF-8", "{\"tofu_publishers\": {\"a\xff\": \"\"}}", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := storePath(t)
			writeFile(t, path, tt.file)
			_, err := Open(path)
			if err == nil {
				t.Fatal("Open accepted the file")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %q and the file", err, tt.wantMsg)
			}
		})
	}
}

func TestOpenRejectsRevocations(t *testing.T) {
	id := signing.KeyID(testKey("a"))
	entry := `{"publisher": "acme", "key_id": "` + id + `", "revoked_at_unix_ms": 1}`
	tests := []struct{ name, file, wantMsg string }{
		{"unknown field", `{"revoked_keys": [], "x": 1}`, `unknown field "x"`},
		{"entry unknown field", `{"revoked_keys": [{"publisher": "acme", "key_id": "` + id + `", "revoked_at_unix_ms": 1, "why": ""}]}`, `unknown field "why"`},
		{"missing key id", `{"revoked_keys": [{"publisher": "acme", "revoked_at_unix_ms": 1}]}`, "missing key_id"},
		{"bad key id", `{"revoked_keys": [{"publisher": "acme", "key_id": "ed25519:xyz", "revoked_at_unix_ms": 1}]}`, "key id"},
		{"negative time", `{"revoked_keys": [{"publisher": "acme", "key_id": "` + id + `", "revoked_at_unix_ms": -1}]}`, "non-negative"},
		{"fractional time", `{"revoked_keys": [{"publisher": "acme", "key_id": "` + id + `", "revoked_at_unix_ms": 1.5}]}`, "non-negative"},
		{"listed twice", `{"revoked_keys": [` + entry + `, ` + entry + `]}`, "listed twice"},
		{"blank file", " \n", "end of input"}, // revocations fail closed
		{"lifted entry without time", `{"revoked_keys": [], "lifted_revocations": [` + entry + `]}`, "missing lifted_at_unix_ms"},
		{"revoked entry with lifted time", `{"revoked_keys": [{"publisher": "acme", "key_id": "` + id + `", "revoked_at_unix_ms": 1, "lifted_at_unix_ms": 2}]}`, `unknown field "lifted_at_unix_ms"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := storePath(t)
			writeFile(t, filepath.Join(filepath.Dir(path), RevocationsFileName), tt.file)
			_, err := Open(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), RevocationsFileName) {
				t.Errorf("Open error = %v, want one naming %q and the file", err, tt.wantMsg)
			}
		})
	}
}

// TestOpenNormalizesLikePalyra: what Palyra's normalize accepts, we accept
// and normalize the same way.
func TestOpenNormalizesLikePalyra(t *testing.T) {
	ctx := context.Background()
	a, b := testKey("a"), testKey("b")
	path := storePath(t)
	writeFile(t, path, `{
		"trusted_publishers": {" acme ": ["`+strings.ToUpper(hexOf(b))+`", " `+hexOf(a)+`"], "acme": ["`+hexOf(a)+`"]},
		"tofu_publishers": {"x": "`+hexOf(a)+`", " x": "`+hexOf(a)+`"}
	}`)
	s := mustOpen(t, path)
	for _, k := range []ed25519.PublicKey{a, b} {
		if d, err := s.Evaluate(ctx, "acme", k, DecideOptions{}); err != nil || d != Allowlisted {
			t.Errorf("Evaluate(acme) = %q, %v", d, err)
		}
	}
	if d, err := s.Evaluate(ctx, "x", a, DecideOptions{}); err != nil || d != TofuPinned {
		t.Errorf("Evaluate(x) = %q, %v", d, err)
	}
	// Missing top-level keys are allowed (serde default) and written back.
	path2 := storePath(t)
	writeFile(t, path2, `{}`)
	if err := mustOpen(t, path2).AddTrusted(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path2); !bytes.Contains(got, []byte(`"tofu_publishers": {}`)) {
		t.Errorf("rewritten store lacks tofu_publishers:\n%s", got)
	}
}

func TestOperatorEdits(t *testing.T) {
	ctx := context.Background()
	a, b, c := testKey("a"), testKey("b"), testKey("c")
	path := storePath(t)
	s := mustOpen(t, path)

	if err := s.AddTrusted(ctx, "Acme", a); !errors.Is(err, ErrInvalidPublisher) {
		t.Errorf("AddTrusted(Acme) = %v, want ErrInvalidPublisher", err)
	}
	for _, k := range []ed25519.PublicKey{a, b} {
		if err := s.AddTrusted(ctx, "acme", k); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(path)
	if err := s.AddTrusted(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("AddTrusted of a listed key changed the file")
	}
	if _, err := s.Decide(ctx, "tofu.co", c, DecideOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}

	// Remove by key id: one of two allowlisted keys, then the last one.
	if err := s.Remove(ctx, "acme", signing.KeyID(a)); err != nil {
		t.Fatal(err)
	}
	if got := readStore(t, path).Trusted["acme"]; len(got) != 1 || got[0] != hexOf(b) {
		t.Errorf("after removing a: acme keys %v", got)
	}
	if err := s.Remove(ctx, "acme", strings.ToUpper(signing.KeyID(b))); err != nil {
		t.Fatal(err)
	}
	if _, ok := readStore(t, path).Trusted["acme"]; ok {
		t.Error("publisher with no keys left stays allowlisted")
	}
	if d, err := s.Decide(ctx, "acme", a, DecideOptions{}); !errors.Is(err, ErrUntrustedPublisher) {
		t.Errorf("after removal Decide = %q, %v; want untrusted", d, err)
	}
	if err := s.Remove(ctx, "acme", signing.KeyID(a)); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("second Remove = %v, want ErrKeyNotFound", err)
	}
	if err := s.Remove(ctx, "tofu.co", "ed25519:123"); !errors.Is(err, ErrInvalidKeyID) {
		t.Errorf("Remove(bad id) = %v, want ErrInvalidKeyID", err)
	}
	if err := s.Remove(ctx, "tofu.co", signing.KeyID(c)); err != nil {
		t.Fatal(err)
	}
	if _, ok := readStore(t, path).Tofu["tofu.co"]; ok {
		t.Error("TOFU pin not removed")
	}

	// Revoke: idempotent, shown in Snapshot, blocks AddTrusted.
	if err := s.AddTrusted(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx, "tofu.co", c, DecideOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Revoke(ctx, "acme", signing.KeyID(a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Revoke(ctx, "acme", "a"); !errors.Is(err, ErrInvalidKeyID) {
		t.Errorf("Revoke(bad id) = %v", err)
	}
	if err := s.AddTrusted(ctx, "other", a); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("AddTrusted(revoked) = %v, want ErrKeyRevoked", err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Key{
		{Publisher: "tofu.co", Kind: KindTofu, KeyID: signing.KeyID(c), PublicKeyHex: hexOf(c)},
	}
	if fmt.Sprint(snap.Keys) != fmt.Sprint(want) {
		t.Errorf("Snapshot keys = %+v\nwant %+v", snap.Keys, want)
	}
	if len(snap.Revocations) != 1 || snap.Revocations[0].KeyID != signing.KeyID(a) || snap.Revocations[0].Publisher != "acme" {
		t.Errorf("Snapshot revocations = %+v", snap.Revocations)
	}
	if _, err := json.Marshal(snap); err != nil {
		t.Fatal(err)
	}
	// The Palyra file never mentions revocations, nor the revoked key.
	if data, _ := os.ReadFile(path); bytes.Contains(data, []byte("revoked")) || bytes.Contains(data, []byte(hexOf(a))) {
		t.Errorf("trust-store.json carries our extra state or the revoked key:\n%s", data)
	}
	// A fresh Store sees it all: nothing is cached.
	if _, err := mustOpen(t, path).Decide(ctx, "acme", a, DecideOptions{}); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("fresh Store: Decide(revoked) = %v", err)
	}
}

func TestDecideWaitsForLockAndHonoursContext(t *testing.T) {
	path := storePath(t)
	s := mustOpen(t, path)
	if err := s.AddTrusted(context.Background(), "acme", testKey("a")); err != nil {
		t.Fatal(err)
	}
	// Hold the lock as another process would.
	lf, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := lockfile.LockFile(context.Background(), lf, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Decide(ctx, "new", testKey("b"), DecideOptions{AllowTOFU: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Decide under a held lock = %v, want deadline exceeded", err)
	}
	if _, err := s.Snapshot(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Snapshot under a held lock = %v, want deadline exceeded", err)
	}
	// Released, the same call goes through.
	done := make(chan error, 1)
	go func() {
		_, err := s.Decide(context.Background(), "new", testKey("b"), DecideOptions{AllowTOFU: true})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := lockfile.UnlockFile(lf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentPinning: goroutines, some sharing a Store and some with
// their own, race to pin different keys for one publisher.
func TestConcurrentPinning(t *testing.T) {
	path := storePath(t)
	shared := mustOpen(t, path)
	const n = 16
	results := make([]error, n)
	decisions := make([]Decision, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := shared
		if i%2 == 1 {
			s = mustOpen(t, path)
		}
		wg.Go(func() {
			<-start
			decisions[i], results[i] = s.Decide(context.Background(), "racer", testKey(fmt.Sprint(i)), DecideOptions{AllowTOFU: true})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case results[i] == nil && decisions[i] == TofuNewlyPinned:
			if winner >= 0 {
				t.Fatalf("both %d and %d pinned", winner, i)
			}
			winner = i
		case errors.Is(results[i], ErrKeyMismatch):
		default:
			t.Fatalf("goroutine %d: %q, %v", i, decisions[i], results[i])
		}
	}
	if winner < 0 {
		t.Fatal("nobody pinned")
	}
	if got := readStore(t, path).Tofu["racer"]; got != hexOf(testKey(fmt.Sprint(winner))) {
		t.Fatalf("pinned %s, winner was %d", got, winner)
	}
}

const helperEnv = "PALYRA_TRUST_TEST_HELPER"

// TestHelperProcess is not a test: TestProcessesRacePin runs the test binary
// again with helperEnv set, and this function is then one racing process.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestProcessesRacePin")
	}
	var path, label, gate string
	if _, err := fmt.Sscanf(spec, "%s %s %s", &path, &label, &gate); err != nil {
		fmt.Println("bad spec", err)
		os.Exit(2)
	}
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	// Wait at the gate so that all processes start deciding together.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(gate); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("gate never opened")
			os.Exit(2)
		}
	}
	d, err := s.Decide(context.Background(), "racer", testKey(label), DecideOptions{AllowTOFU: true})
	switch {
	case err == nil:
		fmt.Println(d)
	case errors.Is(err, ErrKeyMismatch):
		fmt.Println("mismatch")
	default:
		fmt.Println("error:", err)
	}
	os.Exit(0)
}

func TestProcessesRacePin(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := storePath(t)
	gate := filepath.Join(t.TempDir(), "go")
	const n = 8
	type proc struct {
		out  bytes.Buffer
		wait func() error
	}
	procs := make([]*proc, n)
	for i := range n {
		p := &proc{}
		cmd := testCommand(exe, fmt.Sprintf("%s key%d %s", path, i, gate))
		cmd.Stdout = &p.out
		cmd.Stderr = &p.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.wait = cmd.Wait
		procs[i] = p
	}
	time.Sleep(100 * time.Millisecond) // let them reach the gate
	writeFile(t, gate, "")
	winner := -1
	for i, p := range procs {
		if err := p.wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, p.out.String())
		}
		switch out := strings.TrimSpace(p.out.String()); out {
		case string(TofuNewlyPinned):
			if winner >= 0 {
				t.Fatalf("processes %d and %d both pinned", winner, i)
			}
			winner = i
		case "mismatch":
		default:
			t.Fatalf("process %d: %s", i, out)
		}
	}
	if winner < 0 {
		t.Fatal("no process pinned")
	}
	if got := readStore(t, path).Tofu["racer"]; got != hexOf(testKey(fmt.Sprint("key", winner))) {
		t.Fatalf("store pins %s, but process %d won", got, winner)
	}
}

// TestBlankStoreIsEmpty: Palyra's trust_store_load_accepts_empty_uninitialized_file
// (crates/palyra-skills/src/tests.rs) loads "  \n\t" as the default store.
// Before, Open failed on it, and so did every command of the CLI.
func TestBlankStoreIsEmpty(t *testing.T) {
	ctx := context.Background()
	for _, content := range []string{"", "  \n\t", "\r\n\f "} {
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			path := storePath(t)
			writeFile(t, path, content)
			s := mustOpen(t, path)
			snap, err := s.Snapshot(ctx)
			if err != nil || len(snap.Keys) != 0 {
				t.Fatalf("Snapshot = %+v, %v; want an empty store", snap, err)
			}
			if _, err := s.Evaluate(ctx, "acme", testKey("a"), DecideOptions{}); !errors.Is(err, ErrUntrustedPublisher) {
				t.Errorf("Evaluate = %v, want ErrUntrustedPublisher", err)
			}
			// The first write replaces the blank file with a real store.
			if err := s.AddTrusted(ctx, "acme", testKey("a")); err != nil {
				t.Fatal(err)
			}
			if got := readStore(t, path).Trusted["acme"]; len(got) != 1 {
				t.Errorf("after AddTrusted: acme keys %v", got)
			}
		})
	}
}

// TestRevokeTakesKeyOutOfPalyrasLists: Palyra reads only trust-store.json,
// so a revoked key must leave trusted_publishers and tofu_publishers there
// (before, it stayed and Palyra kept trusting it); the revocation stays in
// our file and refuses a re-add until Reinstate lifts it.
func TestRevokeTakesKeyOutOfPalyrasLists(t *testing.T) {
	ctx := context.Background()
	a, b := testKey("a"), testKey("b")
	path := storePath(t)
	// The same key allowlisted for two publishers and pinned for a third.
	writeFile(t, path, `{"trusted_publishers": {"acme": ["`+hexOf(a)+`", "`+hexOf(b)+`"], "solo": ["`+hexOf(a)+`"]},
		"tofu_publishers": {"pinned.co": "`+hexOf(a)+`", "other.co": "`+hexOf(b)+`"}}`)
	s := mustOpen(t, path)
	idA := signing.KeyID(a)

	if err := s.Revoke(ctx, "acme", idA); err != nil {
		t.Fatal(err)
	}
	st := readStore(t, path)
	if got := st.Trusted["acme"]; len(got) != 1 || got[0] != hexOf(b) {
		t.Errorf("acme keys after revoke = %v, want only b", got)
	}
	if _, ok := st.Trusted["solo"]; ok {
		t.Error("publisher whose only key was revoked stays allowlisted (Palyra would trust it, or refuse the empty list)")
	}
	if _, ok := st.Tofu["pinned.co"]; ok {
		t.Error("TOFU pin to the revoked key stays")
	}
	if st.Tofu["other.co"] != hexOf(b) {
		t.Error("an unrelated pin was removed")
	}

	// A re-add is refused, naming the key; Reinstate lifts it, recorded.
	err := s.AddTrusted(ctx, "acme", a)
	var de *DecisionError
	if !errors.Is(err, ErrKeyRevoked) || !errors.As(err, &de) || de.KeyID != idA || !strings.Contains(err.Error(), "lifted") {
		t.Fatalf("AddTrusted(revoked) = %v, want ErrKeyRevoked naming %s and how to lift it", err, idA)
	}
	if err := s.Reinstate(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Evaluate(ctx, "acme", a, DecideOptions{}); err != nil || d != Allowlisted {
		t.Errorf("after Reinstate: Evaluate = %q, %v", d, err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Revocations) != 0 || len(snap.Lifted) != 1 || snap.Lifted[0].KeyID != idA || snap.Lifted[0].Publisher != "acme" ||
		snap.Lifted[0].LiftedAtUnixMS < snap.Lifted[0].RevokedAtUnixMS {
		t.Errorf("after Reinstate: revocations %+v, lifted %+v", snap.Revocations, snap.Lifted)
	}
	// The history survives a re-read and a second revoke/lift cycle.
	if err := s.Revoke(ctx, "acme", idA); err != nil {
		t.Fatal(err)
	}
	if err := mustOpen(t, path).Reinstate(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if snap, _ := mustOpen(t, path).Snapshot(ctx); len(snap.Lifted) != 2 {
		t.Errorf("lifted history = %+v, want two entries", snap.Lifted)
	}

	// Revoke of a key the publisher does not have: an error naming it, as
	// for Remove, and nothing written.
	before, _ := os.ReadFile(path)
	idC := signing.KeyID(testKey("c"))
	if err := s.Revoke(ctx, "acme", idC); !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), idC) {
		t.Errorf("Revoke(unknown) = %v, want ErrKeyNotFound naming %s", err, idC)
	}
	if err := s.Revoke(ctx, "other.co", idA); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Revoke(key of another publisher) = %v, want ErrKeyNotFound", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a failed Revoke rewrote the store")
	}

	// Revoking again after Palyra re-added the key (its add_trusted_key
	// knows nothing of revocations) takes it out once more.
	if err := s.Revoke(ctx, "acme", idA); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, `{"trusted_publishers": {"acme": ["`+hexOf(a)+`"]}, "tofu_publishers": {}}`)
	if snap, _ := s.Snapshot(ctx); len(snap.Keys) != 1 || !snap.Keys[0].Revoked {
		t.Errorf("re-added revoked key not shown as revoked: %+v", snap.Keys)
	}
	if err := s.Revoke(ctx, "acme", idA); err != nil {
		t.Fatal(err)
	}
	if _, ok := readStore(t, path).Trusted["acme"]; ok {
		t.Error("second revoke left the re-added key")
	}
}
