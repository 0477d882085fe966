package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
)

// seedKey derives a deterministic key pair so failures are reproducible.
func seedKey(label string) (ed25519.PublicKey, ed25519.PrivateKey) {
	seed := sha256.Sum256([]byte(label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return priv.Public().(ed25519.PublicKey), priv
}

func isSpace(b byte) bool { return strings.ContainsRune(" \t\n\v\f\r", rune(b)) }

// whitespaceEdgedPublicKey finds a real public key whose first or last byte is a
// whitespace value: the case a trim-before-raw parser corrupts.
func whitespaceEdgedPublicKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	for i := 0; i < 1_000_000; i++ {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(i))
		seed := sha256.Sum256(n[:])
		pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		if isSpace(pub[0]) || isSpace(pub[31]) {
			return pub
		}
	}
	t.Fatal("no whitespace-edged key found")
	return nil
}

func TestKeyIDGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/golden-publisher.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		t.Fatalf("ParsePublicKey(golden): %v", err)
	}
	if got, want := KeyID(pub), "ed25519:2ef75dfce7823b5e"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
	if got := PublicKeyHex(pub); got != strings.ToLower(got) || len(got) != 64 {
		t.Errorf("PublicKeyHex = %q, want 64 lowercase hex digits", got)
	}
}

func TestParsePrivateKey(t *testing.T) {
	pub, priv := seedKey("private")
	seed := priv.Seed()
	pemBytes, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	// A seed whose first and last bytes are whitespace values.
	edged := bytes.Clone(seed)
	edged[0], edged[31] = ' ', '\n'
	edgedPriv := ed25519.NewKeyFromSeed(edged)
	// A seed with no whitespace at its edges, so trimming a trailing newline
	// yields exactly the seed again.
	plain := bytes.Clone(seed)
	plain[0], plain[31] = 'A', 'Z'
	plainPriv := ed25519.NewKeyFromSeed(plain)

	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name string
		in   []byte
		want ed25519.PrivateKey
	}{
		{"pkcs8 pem", pemBytes, priv},
		{"pkcs8 pem with surrounding whitespace", append(append([]byte("\n  "), pemBytes...), "\n\n"...), priv},
		{"raw seed", seed, priv},
		{"raw seed with whitespace edge bytes", edged, edgedPriv},
		{"raw seed plus trailing newline", append(bytes.Clone(plain), '\n'), plainPriv},
		{"hex seed", []byte(hex.EncodeToString(seed)), priv},
		{"upper-case hex seed", []byte(strings.ToUpper(hex.EncodeToString(seed))), priv},
		{"hex seed with newline", []byte(" " + hex.EncodeToString(seed) + "\n"), priv},
		{"base64 seed", []byte(b64(seed)), priv},
		{"base64 seed with newline", []byte(b64(seed) + "\r\n"), priv},
		{"raw seed and public key", []byte(priv), priv},
		{"hex seed and public key", []byte(hex.EncodeToString(priv)), priv},
		{"base64 seed and public key", []byte(b64(priv)), priv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tt.in)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParsePrivateKey returned a different key")
			}
		})
	}
	if !bytes.Equal(priv[32:], pub) {
		t.Fatal("test key inconsistent")
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	_, priv := seedKey("reject")
	seed := priv.Seed()
	mismatched := bytes.Clone([]byte(priv))
	mismatched[40] ^= 1
	nonCanonical := []byte(base64.StdEncoding.EncodeToString(seed))
	nonCanonical[42]++ // last char before '=' carries 2 padding bits; bump sets one
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	pubPEM, _ := MarshalPublicKeyPEM(priv.Public().(ed25519.PublicKey))
	privPEM, _ := MarshalPrivateKeyPEM(priv)
	b64 := base64.StdEncoding.EncodeToString(seed)

	tests := []struct {
		name, wantMsg string
		in            []byte
	}{
		{"empty", "got 0 bytes", nil},
		{"31 raw bytes", "got 31 bytes", seed[:31]},
		{"33 raw bytes", "got 33 bytes", append(bytes.Clone(seed), 0xff)},
		{"hex of 31 bytes", "got 62 bytes", []byte(hex.EncodeToString(seed[:31]))},
		{"odd hex", "got 63 bytes", []byte(hex.EncodeToString(seed)[:63])},
		{"base64 with non-zero padding bits", "got 44 bytes", nonCanonical},
		{"base64 with an inner newline", "got 45 bytes", []byte(b64[:20] + "\n" + b64[20:])},
		{"url-safe base64", "", []byte(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)))},
		{"64 bytes with wrong public half", "public half does not match", mismatched},
		{"public key pem", `"PUBLIC KEY", want PRIVATE KEY`, pubPEM},
		{"ecdsa pkcs8", "not Ed25519", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})},
		{"pkcs8 garbage", "", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}})},
		{"pem with trailing data", "data after the PEM block", append(bytes.Clone(privPEM), "junk"...)},
		{"encrypted pem", "headers", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}})},
		{"truncated pem", "malformed PEM", privPEM[:40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.in)
			if err == nil {
				t.Fatalf("ParsePrivateKey accepted %q as %x", tt.in, k.Seed())
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(seed[:8])) {
				t.Errorf("error %q leaks key material", err)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _ := seedKey("public")
	pemBytes, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	edged := whitespaceEdgedPublicKey(t)
	tests := []struct {
		name string
		in   []byte
		want ed25519.PublicKey
	}{
		{"spki pem", pemBytes, pub},
		{"spki pem with whitespace", append([]byte("\t"), append(pemBytes, '\n')...), pub},
		{"raw", pub, pub},
		{"raw with whitespace edge bytes", edged, edged},
		{"hex", []byte(hex.EncodeToString(pub)), pub},
		{"upper-case hex with newline", []byte(strings.ToUpper(hex.EncodeToString(pub)) + "\n"), pub},
		{"base64", []byte(base64.StdEncoding.EncodeToString(pub)), pub},
		{"base64 with spaces", []byte("  " + base64.StdEncoding.EncodeToString(pub) + " \n"), pub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("got %x, want %x", got, tt.want)
			}
		})
	}
}

// offCurve returns 32 bytes that are not the encoding of any curve point,
// found by asking crypto/ed25519 (independent of our onCurve) to use them.
func offCurve(t *testing.T) []byte {
	t.Helper()
	for i := byte(2); i < 255; i++ {
		b := make([]byte, 32)
		b[0] = i
		if stdRejectsPoint(b) {
			return b
		}
	}
	t.Fatal("no off-curve encoding found")
	return nil
}

// stdRejectsPoint reports whether crypto/ed25519 refuses b as a public key.
func stdRejectsPoint(b []byte) bool {
	err := ed25519.VerifyWithOptions(ed25519.PublicKey(b), nil, make([]byte, ed25519.SignatureSize), &ed25519.Options{})
	return err != nil && err.Error() == "ed25519: bad public key"
}

func TestParsePublicKeyRejects(t *testing.T) {
	pub, priv := seedKey("public-reject")
	privPEM, _ := MarshalPrivateKeyPEM(priv)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	bad := offCurve(t)
	badDER, _ := x509.MarshalPKIXPublicKey(ed25519.PublicKey(bad))
	tests := []struct {
		name, wantMsg string
		in            []byte
	}{
		{"empty", "got 0 bytes", nil},
		{"31 bytes", "got 31 bytes", pub[:31]},
		{"64 bytes", "got 64 bytes", []byte(priv)},
		{"hex of 33 bytes", "got 66 bytes", []byte(hex.EncodeToString(append(bytes.Clone([]byte(pub)), 0)))},
		{"private key pem", `"PRIVATE KEY", want PUBLIC KEY`, privPEM},
		{"ecdsa spki", "not Ed25519", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})},
		{"raw off-curve", "not a point", bad},
		{"hex off-curve", "not a point", []byte(hex.EncodeToString(bad))},
		{"pem off-curve", "not a point", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: badDER})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey(tt.in)
			if err == nil {
				t.Fatalf("ParsePublicKey accepted %q as %x", tt.in, k)
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

// TestOnCurveMatchesStdlib checks our point test against crypto/ed25519's
// own decoder on many encodings, valid and not, including non-canonical y
// values (≥ p) and set sign bits.
func TestOnCurveMatchesStdlib(t *testing.T) {
	var valid, invalid int
	check := func(b []byte) {
		want := !stdRejectsPoint(b)
		if got := onCurve(b); got != want {
			t.Fatalf("onCurve(%x) = %v, crypto/ed25519 says %v", b, got, want)
		}
		if want {
			valid++
		} else {
			invalid++
		}
	}
	for i := 0; i < 2000; i++ {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(i))
		h := sha256.Sum256(n[:])
		check(h[:])
	}
	// y = p + k for small k, with and without the sign bit: non-canonical.
	for k := 0; k < 19; k++ {
		b := bytes.Repeat([]byte{0xff}, 32)
		b[0] = byte(0xed + k)
		b[31] = 0x7f
		check(bytes.Clone(b))
		b[31] = 0xff
		check(b)
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("sample not mixed: %d valid, %d invalid", valid, invalid)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	pub, priv, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	gotPriv, err := ParsePrivateKey(privPEM)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("private round trip: %v", err)
	}
	gotPub, err := ParsePublicKey(pubPEM)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("public round trip: %v", err)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	_, priv := seedKey("fuzz")
	p, _ := MarshalPrivateKeyPEM(priv)
	f.Add(p)
	f.Add(priv.Seed())
	f.Add([]byte(priv))
	f.Add([]byte(hex.EncodeToString(priv.Seed())))
	f.Add([]byte(base64.StdEncoding.EncodeToString(priv)))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		if len(k) != ed25519.PrivateKeySize {
			t.Fatalf("key of %d bytes", len(k))
		}
		if !ed25519.NewKeyFromSeed(k.Seed()).Equal(k) {
			t.Fatal("public half does not match the seed")
		}
		p, err := MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePrivateKey(p)
		if err != nil || !again.Equal(k) {
			t.Fatalf("PEM round trip: %v", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	pub, _ := seedKey("fuzz")
	p, _ := MarshalPublicKeyPEM(pub)
	f.Add(p)
	f.Add([]byte(pub))
	f.Add([]byte(hex.EncodeToString(pub)))
	f.Add([]byte(base64.StdEncoding.EncodeToString(pub)))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		if len(k) != ed25519.PublicKeySize {
			t.Fatalf("key of %d bytes", len(k))
		}
		if stdRejectsPoint(k) {
			t.Fatalf("accepted %x, which crypto/ed25519 refuses", k)
		}
		again, err := ParsePublicKey([]byte(PublicKeyHex(k)))
		if err != nil || !again.Equal(k) {
			t.Fatalf("hex round trip: %v", err)
		}
	})
}
