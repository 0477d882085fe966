package host_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/signing"
)

// buildArtifact packages a tiny artifact signed by key.
func buildArtifact(t *testing.T, key ed25519.PrivateKey) []byte {
	return skillSpec{Key: key}.Build(t)
}

func verify(t *testing.T, store *host.TrustStore, data []byte, tofu bool) (*host.Verification, error) {
	t.Helper()
	return host.VerifyArtifact(context.Background(), bytes.NewReader(data), int64(len(data)), store, host.VerifyOptions{AllowTOFU: tofu})
}

func readOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func TestVerifyTOFULifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "skills", "trust-store.json")
	store, err := host.OpenTrustStore(path)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	good := buildArtifact(t, key)

	// Unknown publisher without TOFU: refused, nothing written.
	if _, err := verify(t, store, good, false); !errors.Is(err, host.ErrUntrustedPublisher) {
		t.Fatalf("no TOFU: got %v, want ErrUntrustedPublisher", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("trust store written on refusal: %v", err)
	}

	v, err := verify(t, store, good, true)
	if err != nil {
		t.Fatal(err)
	}
	if v.Decision != host.TofuNewlyPinned || v.Manifest.SkillID != "acme.echo" || v.KeyID != signing.KeyID(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("first use: %+v", v)
	}
	pinned := readOrNil(path)
	if !bytes.Contains(pinned, []byte(signing.PublicKeyHex(key.Public().(ed25519.PublicKey)))) {
		t.Fatalf("key not pinned in %s", pinned)
	}

	// Second use, even without --allow-tofu: the pin decides.
	if v, err := verify(t, store, good, false); err != nil || v.Decision != host.TofuPinned {
		t.Fatalf("second use: %v %v", v, err)
	}

	// Another key for the same publisher: mismatch, store unchanged.
	other := buildArtifact(t, newKey(t))
	if _, err := verify(t, store, other, true); !errors.Is(err, host.ErrKeyMismatch) {
		t.Fatalf("other key: got %v, want ErrKeyMismatch", err)
	}
	if !bytes.Equal(readOrNil(path), pinned) {
		t.Fatal("trust store changed by a refused artifact")
	}
}

func TestVerifyRejectsBeforeTouchingStore(t *testing.T) {
	good := buildArtifact(t, newKey(t))
	tampered := bytes.Clone(good)
	// The module is the first entry: its data follows the 30-byte local
	// header and the 17-byte name.
	tampered[30+len("modules/echo.wasm")] ^= 0xff
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"tampered module", tampered, host.ErrMalformedArchive},
		{"trailing bytes", append(bytes.Clone(good), 0), host.ErrMalformedArchive},
		{"not a zip", []byte("hello"), host.ErrMalformedArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trust-store.json")
			store, err := host.OpenTrustStore(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verify(t, store, tt.data, true); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("rejected artifact wrote the trust store")
			}
		})
	}
}

// The golden vector was made by an independent implementation of Palyra's
// rules; it must verify as allowlisted once its key is trusted.
func TestVerifyGoldenVector(t *testing.T) {
	data, err := os.ReadFile("../testdata/palyra-v1/golden.palyra-skill")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile("../testdata/palyra-v1/publisher.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	store, err := host.OpenTrustStore(filepath.Join(t.TempDir(), "trust-store.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AddTrusted(context.Background(), "golden", pub); err != nil {
		t.Fatal(err)
	}
	v, err := verify(t, store, data, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Decision != host.Allowlisted || v.KeyID != "ed25519:2ef75dfce7823b5e" ||
		v.PayloadSHA256 != "aef035c161ae0622a36ffe4f8de6d35d1594fcfb026c0d7e45dacf049d148c9d" ||
		v.Manifest.SkillID != "golden.echo" || v.Signature.SignedAtUnixMS != 1700000000000 {
		t.Fatalf("golden: %+v", v)
	}
	// Allowlisting turns TOFU off for that publisher: another key fails.
	if _, err := verify(t, store, skillSpec{Publisher: "golden"}.Build(t), true); !errors.Is(err, host.ErrKeyMismatch) {
		t.Fatalf("other key of an allowlisted publisher: %v", err)
	}
}

func TestInspectDoesNotNeedTrust(t *testing.T) {
	data, err := os.ReadFile("../testdata/palyra-v1/golden.palyra-skill")
	if err != nil {
		t.Fatal(err)
	}
	in, err := host.InspectArtifact(context.Background(), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if in.Builder != "holdout" || in.KeyID != "ed25519:2ef75dfce7823b5e" || len(in.Entries) != 5 ||
		len(in.Subjects) != 1 || in.Subjects[0].Path != "modules/echo.wasm" {
		t.Fatalf("inspection: %+v", in)
	}
}

// TestVerifyChecksCompat: Palyra's verify (inspect_skill_artifact, then
// assert_runtime_compatibility) refuses an artifact whose [compat] range
// excludes the host; ours checked [compat] only at install. The error
// wraps ErrIncompatible, names the field and both values, and nothing is
// pinned.
func TestVerifyChecksCompat(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		spec skillSpec
		want []string // in the error message
	}{
		{"protocol major above the host's", skillSpec{Key: key, ProtocolMajor: host.ProtocolMajor + 1},
			[]string{"compat.required_protocol_major", "2", "1"}},
		{"min version above the host's", skillSpec{Key: key, MinHost: "99.0.0"},
			[]string{"compat.min_palyra_version", "99.0.0", host.Version}},
		{"host above max version", skillSpec{Key: key, MinHost: "0.0.1", MaxHost: "0.0.9"},
			[]string{"compat.max_palyra_version", "0.0.9", host.Version}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "skills", "trust-store.json")
			store, err := host.OpenTrustStore(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = verify(t, store, tt.spec.Build(t), true)
			if !errors.Is(err, host.ErrIncompatible) {
				t.Fatalf("verify = %v, want ErrIncompatible", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an incompatible artifact pinned its key (stat: %v)", err)
			}
		})
	}
	// The bounds themselves are compatible, as in Palyra (requested <=
	// current, current <= max).
	store, err := host.OpenTrustStore(filepath.Join(t.TempDir(), "trust-store.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, store, skillSpec{Key: key, MinHost: host.Version, MaxHost: host.Version}.Build(t), true); err != nil {
		t.Fatalf("verify at exactly min = max = host version: %v", err)
	}
}

// TestVerifyFileMetadataOnly: VerifyFile reaches the same verdict with
// MetadataOnly (streamed from the file) as without (read whole), keeps only
// the metadata entries' bytes while describing every entry, and still
// refuses a tampered module before touching the trust store.
func TestVerifyFileMetadataOnly(t *testing.T) {
	ctx := context.Background()
	h, err := host.Open(ctx, t.TempDir(), host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	good := buildArtifact(t, newKey(t))
	tampered := bytes.Clone(good)
	tampered[30+len("modules/echo.wasm")] ^= 0xff // the first entry's data, as above
	dir := t.TempDir()
	goodPath, tamperedPath := filepath.Join(dir, "good.palyra-skill"), filepath.Join(dir, "tampered.palyra-skill")
	for path, data := range map[string][]byte{goodPath: good, tamperedPath: tampered} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, metadataOnly := range []bool{false, true} {
		if _, err := h.VerifyFile(ctx, tamperedPath, host.VerifyOptions{AllowTOFU: true, MetadataOnly: metadataOnly}); !errors.Is(err, host.ErrMalformedArchive) {
			t.Fatalf("tampered, MetadataOnly %v: %v, want ErrMalformedArchive", metadataOnly, err)
		}
	}
	if _, err := os.Stat(host.TrustStorePath(h.Dir())); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused artifact wrote the trust store")
	}

	all, err := h.VerifyFile(ctx, goodPath, host.VerifyOptions{AllowTOFU: true})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := h.VerifyFile(ctx, goodPath, host.VerifyOptions{MetadataOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if all.Decision != host.TofuNewlyPinned || meta.Decision != host.TofuPinned || meta.PayloadSHA256 != all.PayloadSHA256 || meta.KeyID != all.KeyID {
		t.Fatalf("whole: %s %s %s; MetadataOnly: %s %s %s", all.Decision, all.PayloadSHA256, all.KeyID, meta.Decision, meta.PayloadSHA256, meta.KeyID)
	}
	var want []string
	for _, f := range all.Files {
		if !strings.HasPrefix(f.Path, "modules/") && !strings.HasPrefix(f.Path, "assets/") {
			want = append(want, f.Path)
		}
	}
	var got []string
	for _, f := range meta.Files {
		got = append(got, f.Path)
	}
	if !slices.Equal(got, want) || !slices.Equal(meta.Entries, all.Entries) || len(all.Entries) != len(all.Files) {
		t.Fatalf("MetadataOnly kept %v (want %v) and described %v (want %v)", got, want, meta.Entries, all.Entries)
	}
}
