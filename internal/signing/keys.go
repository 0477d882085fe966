package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// ErrInvalidKey reports key bytes in none of the accepted encodings.
var ErrInvalidKey = errors.New("invalid Ed25519 key")

// KeyID returns Palyra's key id for pub: "ed25519:" + hex(sha256(pub)[0:8]).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// PublicKeyHex is the trust store's form of a key: lowercase hex of the 32 bytes.
func PublicKeyHex(pub ed25519.PublicKey) string { return hex.EncodeToString(pub) }

// GenerateKey makes a new publisher key pair from rand (crypto/rand if nil).
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand)
}

// MarshalPrivateKeyPEM encodes priv as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes pub as an SPKI "PUBLIC KEY" PEM block.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a signing key as PKCS#8 PEM, or as the 32-byte seed
// (or 64-byte seed‖public key) raw, in hex, or in standard base64.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	data = bytes.TrimSpace(data)
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%w: PEM block %q, want PRIVATE KEY (PKCS#8)", ErrInvalidKey, block.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, not Ed25519", ErrInvalidKey, k)
		}
		return priv, nil
	}
	raw, err := decodeKeyBytes(data, ed25519.SeedSize, ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if len(raw) == ed25519.PrivateKeySize && !bytes.Equal(priv[32:], raw[32:]) {
		return nil, fmt.Errorf("%w: 64-byte key's public half does not match its seed", ErrInvalidKey)
	}
	return priv, nil
}

// ParsePublicKey reads a public key as SPKI PEM, or as 32 bytes raw, in hex,
// or in standard base64.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	data = bytes.TrimSpace(data)
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM block %q, want PUBLIC KEY", ErrInvalidKey, block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key is %T, not Ed25519", ErrInvalidKey, k)
		}
		return pub, nil
	}
	raw, err := decodeKeyBytes(data, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// decodeKeyBytes accepts raw, hex or base64 text whose decoded length is one of sizes.
func decodeKeyBytes(data []byte, sizes ...int) ([]byte, error) {
	ok := func(n int) bool {
		for _, s := range sizes {
			if n == s {
				return true
			}
		}
		return false
	}
	text := string(data)
	if b, err := hex.DecodeString(text); err == nil && ok(len(b)) {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && ok(len(b)) {
		return b, nil
	}
	if ok(len(data)) {
		return append([]byte(nil), data...), nil
	}
	return nil, fmt.Errorf("%w: want PEM, or %v bytes raw, hex or base64 (got %d bytes)", ErrInvalidKey, sizes, len(data))
}
