package identity

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// validRegistry returns an encoded registry with one code and one
// completed device whose certificate is revoked.
func validRegistry(t testing.TB) []byte {
	t.Helper()
	revokedAt := t0.Add(time.Hour)
	d := newRegistryDoc()
	d.Generation = 7
	d.Codes = []codeRecord{{
		ID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", Code: "012345", TokenSecret: strings.Repeat("ab", 16),
		Kind: KindCLI, CreatedAt: t0, ExpiresAt: t0.Add(DefaultCodeTTL), Attempts: 2,
	}}
	fp := strings.Repeat("0f", 32)
	d.Devices["01BX5ZZKBKACTAV9WEVGEMMVRZ"] = &Device{
		ID: "01BX5ZZKBKACTAV9WEVGEMMVRZ", Kind: KindNode, State: DeviceRevoked,
		IdentityFingerprint: strings.Repeat("a1", 32), PairedAt: t0,
		Certificates: []CertRecord{{Fingerprint: fp, Serial: "1f", NotAfter: t0.Add(24 * time.Hour), Revoked: true}},
		RevokedAt:    &revokedAt, RevokeReason: "lost",
	}
	d.RevokedCertificates[fp] = revokedCert{DeviceID: "01BX5ZZKBKACTAV9WEVGEMMVRZ", RevokedAt: revokedAt, NotAfter: t0.Add(24 * time.Hour)}
	return d.encode()
}

func TestDecodeRegistry(t *testing.T) {
	valid := string(validRegistry(t))
	if _, err := decodeRegistry([]byte(valid)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	for _, tc := range []struct {
		name, old, new string
	}{
		{"not JSON", valid, "not json"},
		{"trailing data", valid, valid + "{}"},
		{"unknown field", `"version":1`, `"version":1,"extra":true`},
		{"other version", `"version":1`, `"version":2`},
		{"code id not a ULID", `"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"`, `"id":"01arz3ndektsv4rrffq69g5fav"`},
		{"code of 5 digits", `"code":"012345"`, `"code":"01234"`},
		{"code not digits", `"code":"012345"`, `"code":"01234a"`},
		{"token secret upper-case", strings.Repeat("ab", 16), strings.Repeat("AB", 16)},
		{"unknown kind", `"kind":"cli"`, `"kind":"phone"`},
		{"too many attempts", `"attempts":2`, `"attempts":6`},
		{"burnt without burnt_at", `"attempts":2`, `"attempts":5`},
		{"expires before created", `"expires_at":"2026-12-05T09:10:00Z"`, `"expires_at":"2026-12-05T08:00:00Z"`},
		{"device key mismatch", `"devices":{"01BX5ZZKBKACTAV9WEVGEMMVRZ"`, `"devices":{"01BX5ZZKBKACTAV9WEVGEMMVRY"`},
		{"null device", `"devices":{"01BX5ZZKBKACTAV9WEVGEMMVRZ":{`, `"devices":{"01BX5ZZKBKACTAV9WEVGEMMVRY":null,"01BX5ZZKBKACTAV9WEVGEMMVRZ":{`},
		{"unknown state", `"state":"revoked"`, `"state":"gone"`},
		{"revoked without revoked_at", `"state":"revoked"`, `"state":"completed"`},
		{"short identity fingerprint", strings.Repeat("a1", 32), "a1"},
		{"bad certificate fingerprint", `"fingerprint":"` + strings.Repeat("0f", 32), `"fingerprint":"` + strings.Repeat("0F", 32)},
		{"revoked set key", `"revoked_certificates":{"` + strings.Repeat("0f", 32), `"revoked_certificates":{"xyz`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(valid, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			bad := strings.Replace(valid, tc.old, tc.new, 1)
			if _, err := decodeRegistry([]byte(bad)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

// A corrupt registry stops the Manager with an error naming the key, and
// is never replaced by a fresh one.
func TestCorruptRegistryIsNeverReset(t *testing.T) {
	ctx := context.Background()
	store := openSecrets(t, t.TempDir())
	m := newRegistry(t, store, newTestClock(), ManagerOptions{})
	mint(t, m, CodeOptions{})
	garbage := []byte(`{"version":1,"codes":[{"id":"x"}]}`)
	if err := store.Put(ctx, RegistryKey, garbage); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), RegistryKey) {
			t.Fatalf("%s = %v, want ErrCorrupt naming %s", what, err, RegistryKey)
		}
	}
	_, err := m.MintCode(ctx, CodeOptions{})
	check("MintCode", err)
	_, _, err = m.beginAttempt(ctx, "p", "")
	check("beginAttempt", err)
	_, err = m.Devices(ctx)
	check("Devices", err)
	check("Revoke", m.Revoke(ctx, "01BX5ZZKBKACTAV9WEVGEMMVRZ", ""))
	ca, err := NewCA(ctx, store, CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewManager(ctx, store, ca, ManagerOptions{})
	check("NewManager", err)
	// The hook fails closed once its snapshot is stale.
	time.Sleep(SnapshotMaxAge)
	dev := newTestDevice(t)
	cert, _, err := ca.IssueClient(dev.id.ID(), &dev.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	check("CheckCertificate", m.CheckCertificate(ctx, cert))
	if got, err := store.Get(ctx, RegistryKey); err != nil || !bytes.Equal(got, garbage) {
		t.Fatalf("the corrupt registry was replaced: %q, %v", got, err)
	}
}

// The stored document is strict and validated; whatever the decoder
// accepts re-encodes to a document it accepts again, unchanged.
func FuzzDecodeRegistry(f *testing.F) {
	f.Add(validRegistry(f))
	f.Add(newRegistryDoc().encode())
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"codes":null,"devices":{"01BX5ZZKBKACTAV9WEVGEMMVRZ":null}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeRegistry(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc := d.encode()
		d2, err := decodeRegistry(enc)
		if err != nil {
			t.Fatalf("re-encoded document refused: %v\n%s", err, enc)
		}
		if enc2 := d2.encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
	})
}
