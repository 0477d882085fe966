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
	"math/big"
)

// ErrInvalidKey reports key bytes in none of the accepted encodings, or bytes
// that decode to something that is not a usable Ed25519 key.
var ErrInvalidKey = errors.New("invalid Ed25519 key")

// KeyID returns Palyra's key id for pub: "ed25519:" + hex(sha256(pub)[0:8]).
// It is a display and lookup name only; trust decisions compare whole keys.
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

// ParsePrivateKey reads a signing key in any form Palyra's
// parse_ed25519_signing_key accepts — the 32-byte seed raw, in hex or in
// standard base64, surrounding whitespace ignored — and also as PKCS#8 PEM
// or as the 64-byte seed‖public key (raw, hex or base64), whose public half
// must match the seed.
//
// Raw bytes are taken from the input as given: trimming first would shorten
// a binary key whose first or last byte happens to be a whitespace value.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if len(data) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(data), nil
	}
	text := bytes.TrimSpace(data)
	if isPEM(text) {
		return parsePrivatePEM(text)
	}
	raw, ok := decodeText(text, ed25519.SeedSize, ed25519.PrivateKeySize)
	switch {
	case ok:
	case len(text) == ed25519.SeedSize:
		// Palyra also accepts a raw seed followed or preceded by whitespace,
		// such as a binary key file with a trailing newline.
		raw = text
	case len(data) == ed25519.PrivateKeySize:
		raw = data
	default:
		return nil, fmt.Errorf("%w: want PKCS#8 PEM, or a 32-byte seed or 64-byte seed+public key raw, in hex or in base64 (got %d bytes)",
			ErrInvalidKey, len(data))
	}
	priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if len(raw) == ed25519.PrivateKeySize && !bytes.Equal(priv[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: 64-byte key's public half does not match its seed", ErrInvalidKey)
	}
	return priv, nil
}

// ParsePublicKey reads a public key as SPKI PEM, or as the 32 bytes raw, in
// hex or in standard base64 (surrounding whitespace ignored for the text
// forms). Like Palyra (ed25519-dalek's VerifyingKey::from_bytes), it rejects
// 32 bytes that are not the encoding of a point on the curve: such a key can
// never verify a signature, so accepting it into a trust store only hides a
// mistake.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	var raw []byte
	if len(data) == ed25519.PublicKeySize {
		raw = bytes.Clone(data)
	} else {
		text := bytes.TrimSpace(data)
		if isPEM(text) {
			return parsePublicPEM(text)
		}
		b, ok := decodeText(text, ed25519.PublicKeySize)
		if !ok {
			return nil, fmt.Errorf("%w: want SPKI PEM, or 32 bytes raw, in hex or in base64 (got %d bytes)", ErrInvalidKey, len(data))
		}
		raw = b
	}
	if !onCurve(raw) {
		return nil, fmt.Errorf("%w: public key is not a point on the Ed25519 curve", ErrInvalidKey)
	}
	return ed25519.PublicKey(raw), nil
}

func isPEM(text []byte) bool { return bytes.HasPrefix(text, []byte("-----BEGIN ")) }

// decodePEM returns the single PEM block in text, refusing trailing data and
// headers (an encrypted PEM carries Proc-Type/DEK-Info headers we cannot use).
func decodePEM(text []byte, wantType string) ([]byte, error) {
	block, rest := pem.Decode(text)
	if block == nil {
		return nil, fmt.Errorf("%w: malformed PEM", ErrInvalidKey)
	}
	if block.Type != wantType {
		return nil, fmt.Errorf("%w: PEM block %q, want %s", ErrInvalidKey, block.Type, wantType)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM block has headers (encrypted keys are not supported)", ErrInvalidKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrInvalidKey)
	}
	return block.Bytes, nil
}

func parsePrivatePEM(text []byte) (ed25519.PrivateKey, error) {
	der, err := decodePEM(text, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#8 key is %T, not Ed25519", ErrInvalidKey, k)
	}
	return priv, nil
}

func parsePublicPEM(text []byte) (ed25519.PublicKey, error) {
	der, err := decodePEM(text, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public key is %T, not Ed25519", ErrInvalidKey, k)
	}
	if !onCurve(pub) {
		return nil, fmt.Errorf("%w: public key is not a point on the Ed25519 curve", ErrInvalidKey)
	}
	return pub, nil
}

// decodeText decodes hex (either case) or canonical standard base64 whose
// decoded length is one of sizes.
func decodeText(text []byte, sizes ...int) ([]byte, bool) {
	fits := func(n int) bool {
		for _, s := range sizes {
			if n == s {
				return true
			}
		}
		return false
	}
	if b, err := hex.DecodeString(string(text)); err == nil && fits(len(b)) {
		return b, true
	}
	// encoding/base64 silently skips CR and LF inside its input; Palyra's
	// decoder does not, so neither do we. Strict() refuses non-zero padding
	// bits, as the Rust base64 crate's STANDARD engine does.
	if bytes.ContainsAny(text, "\r\n") {
		return nil, false
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(string(text)); err == nil && fits(len(b)) {
		return b, true
	}
	return nil, false
}

// Curve constants for onCurve: p = 2^255 - 19 and d = -121665/121666 mod p.
// They are computed per call, not kept in package variables, because a
// big.Int is mutable; the cost is irrelevant next to parsing a key.
func curveParams() (p, d *big.Int) {
	p = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d = new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665))
	d.Mod(d, p)
	return p, d
}

// onCurve reports whether the 32-byte compressed Edwards point decodes, with
// the same rule as ed25519-dalek and Go's edwards25519: y is taken mod p
// (non-canonical encodings of valid points are accepted) and the point
// exists when x² = (y² − 1)/(d·y² + 1) has a square root mod p.
func onCurve(enc []byte) bool {
	if len(enc) != ed25519.PublicKeySize {
		return false
	}
	p, d := curveParams()
	le := bytes.Clone(enc)
	le[31] &= 0x7f // the top bit is the sign of x, not part of y
	for i, j := 0, len(le)-1; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	y := new(big.Int).SetBytes(le)
	y.Mod(y, p)
	yy := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(yy, big.NewInt(1))
	v := new(big.Int).Mul(d, yy)
	v.Add(v, big.NewInt(1))
	v.Mod(v, p) // never 0: −1/d is not a square mod p
	xx := u.Mul(u, v.ModInverse(v, p))
	xx.Mod(xx, p)
	return xx.Sign() == 0 || big.Jacobi(xx, p) == 1
}
