package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/palyra/palyra-go/internal/secrets"
)

// openSecrets opens a real secrets store in a 0700 directory under dir
// (t.TempDir itself is 0755, which the store refuses).
func openSecrets(t *testing.T, dir string) *SecretsStore {
	t.Helper()
	s, err := secrets.Open(filepath.Join(dir, "secrets"), secrets.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return NewSecretsStore(s)
}

// putOnlyStore is a SecretStore without Creator, to exercise the Put and
// re-read path of LoadOrCreate.
type putOnlyStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (p *putOnlyStore) Get(_ context.Context, key string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[key]
	if !ok {
		return nil, fmt.Errorf("%q: %w", key, ErrNotFound)
	}
	return v, nil
}

func (p *putOnlyStore) Put(_ context.Context, key string, value []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[key] = value
	return nil
}

func (p *putOnlyStore) Delete(_ context.Context, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
	return nil
}

func TestLoadOrCreateCreatesThenLoads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		first  SecretStore
		reopen func() SecretStore
	}{
		{"secrets", openSecrets(t, dir), func() SecretStore { return openSecrets(t, dir) }},
		func() struct {
			name   string
			first  SecretStore
			reopen func() SecretStore
		} {
			p := &putOnlyStore{m: map[string][]byte{}}
			return struct {
				name   string
				first  SecretStore
				reopen func() SecretStore
			}{"put-only", p, func() SecretStore { return p }}
		}(),
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.first.Get(ctx, DeviceKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("fresh store: Get = %v, want ErrNotFound", err)
			}
			a, err := LoadOrCreate(ctx, tc.first)
			if err != nil {
				t.Fatal(err)
			}
			b, err := LoadOrCreate(ctx, tc.reopen())
			if err != nil {
				t.Fatal(err)
			}
			if a.ID() != b.ID() || a.Fingerprint() != b.Fingerprint() || !a.Signer().Equal(b.Signer()) {
				t.Fatalf("second LoadOrCreate gave another identity: %s %s vs %s %s", a.ID(), a.Fingerprint(), b.ID(), b.Fingerprint())
			}
			msg := []byte("palyra")
			if !ed25519.Verify(b.PublicKey(), msg, ed25519.Sign(a.Signer(), msg)) {
				t.Fatal("loaded public key does not verify the created key's signature")
			}
		})
	}
}

func TestFingerprintIsSHA256OfPublicKey(t *testing.T) {
	d, err := NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(d.PublicKey())
	want := hex.EncodeToString(sum[:])
	if got := d.Fingerprint(); got != want {
		t.Fatalf("Fingerprint = %s, want %s", got, want)
	}
	if got := d.Fingerprint(); len(got) != 64 || strings.ToLower(got) != got {
		t.Fatalf("Fingerprint %q is not 64 lowercase hex digits", got)
	}
	if len(d.PublicKey()) != ed25519.PublicKeySize {
		t.Fatalf("public key is %d bytes", len(d.PublicKey()))
	}
}

func TestDeviceIDIsCanonicalULID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		d, err := NewDeviceIdentity()
		if err != nil {
			t.Fatal(err)
		}
		id := d.ID()
		if len(id) != ulid.EncodedSize || !isCanonicalULID(id) {
			t.Fatalf("device id %q is not a canonical ULID", id)
		}
		if seen[id] {
			t.Fatalf("device id %q drawn twice", id)
		}
		seen[id] = true
	}
}

func TestIsCanonicalULID(t *testing.T) {
	good := ulid.Make().String()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{good, true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"", false},
		{"01arz3ndektsv4rrffq69g5fav", false},  // lower case: parses, not canonical
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", false},   // 25 chars
		{"01ARZ3NDEKTSV4RRFFQ69G5FAVV", false}, // 27 chars
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false},  // overflows 128 bits
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false},  // U is not Crockford
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", false},  // I is not Crockford
		{"01ARZ3NDEKTSV4RRFFQ69G5FA ", false},
	} {
		if got := isCanonicalULID(tc.id); got != tc.want {
			t.Errorf("isCanonicalULID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestLoadOrCreateRefusesCorruptValue(t *testing.T) {
	ctx := context.Background()
	d, err := NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	key := d.Signer()
	badPub := append(ed25519.PrivateKey(nil), key...)
	badPub[63] ^= 1
	rec := func(id, k string) string {
		return fmt.Sprintf(`{"version":1,"device_id":%q,"signing_key":%q}`, id, k)
	}
	for _, tc := range []struct {
		name, value string
	}{
		{"empty", ``},
		{"not json", `garbage`},
		{"truncated", rec(d.ID(), b64(key))[:40]},
		{"trailing data", rec(d.ID(), b64(key)) + `{}`},
		{"unknown field", `{"version":1,"device_id":"` + d.ID() + `","signing_key":"` + b64(key) + `","extra":1}`},
		{"version 2", `{"version":2,"device_id":"` + d.ID() + `","signing_key":"` + b64(key) + `"}`},
		{"no version", `{"device_id":"` + d.ID() + `","signing_key":"` + b64(key) + `"}`},
		{"lower-case id", rec(strings.ToLower(d.ID()), b64(key))},
		{"short id", rec(d.ID()[:25], b64(key))},
		{"empty id", rec("", b64(key))},
		{"32-byte key", rec(d.ID(), b64(key.Seed()))},
		{"65-byte key", rec(d.ID(), b64(append(key[:64:64], 0)))},
		{"no key", `{"version":1,"device_id":"` + d.ID() + `"}`},
		{"public half mismatch", rec(d.ID(), b64(badPub))},
		{"key not base64", rec(d.ID(), "!!!")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openSecrets(t, t.TempDir())
			if err := store.Put(ctx, DeviceKey, []byte(tc.value)); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreate(ctx, store)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("LoadOrCreate = %v, %v; want ErrCorrupt", got, err)
			}
			if !strings.Contains(err.Error(), DeviceKey) {
				t.Fatalf("error %q does not name the key %q", err, DeviceKey)
			}
			after, err := store.Get(ctx, DeviceKey)
			if err != nil || string(after) != tc.value {
				t.Fatalf("corrupt value was replaced: %q, %v", after, err)
			}
		})
	}
	// The valid record these cases are variations of loads.
	store := openSecrets(t, t.TempDir())
	if err := store.Put(ctx, DeviceKey, []byte(rec(d.ID(), b64(key)))); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreate(ctx, store)
	if err != nil || got.ID() != d.ID() || !got.Signer().Equal(key) {
		t.Fatalf("valid record: %v, %v", got, err)
	}
}

func TestLoadOrCreateSealedFileTampered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openSecrets(t, dir)
	if _, err := LoadOrCreate(ctx, store); err != nil {
		t.Fatal(err)
	}
	// Another master key cannot open the sealed record: an error, and
	// never a fresh identity written over the old one.
	s, err := secrets.Open(filepath.Join(dir, "secrets"), secrets.Options{MasterKey: bytesOf(32, 7)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(ctx, NewSecretsStore(s)); !errors.Is(err, secrets.ErrCorrupt) || !strings.Contains(err.Error(), DeviceKey) {
		t.Fatalf("LoadOrCreate with another master key = %v, want secrets.ErrCorrupt naming %q", err, DeviceKey)
	}
	if _, err := LoadOrCreate(ctx, store); err != nil {
		t.Fatalf("original store no longer loads: %v", err)
	}
}

func bytesOf(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestLoadOrCreateRaceEndsWithOneIdentity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 16
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// Separate Store values on one directory, as separate processes
		// would have.
		store := openSecrets(t, dir)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := LoadOrCreate(ctx, store)
			errs[i] = err
			if err == nil {
				ids[i] = d.ID() + " " + d.Fingerprint()
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("racers ended with different identities: %q vs %q", ids[0], ids[i])
		}
	}
}
