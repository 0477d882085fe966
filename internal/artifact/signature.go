package artifact

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/palyra/palyra-go/internal/signing"
)

// Signature is signature.json. The Ed25519 signature is over the ASCII bytes
// of PayloadSHA256. The embedded key is self-asserted: only the trust store
// makes it mean anything.
type Signature struct {
	Algorithm       string `json:"algorithm"`
	Publisher       string `json:"publisher"`
	KeyID           string `json:"key_id"`
	PublicKeyBase64 string `json:"public_key_base64"`
	PayloadSHA256   string `json:"payload_sha256"`
	SignatureBase64 string `json:"signature_base64"`
	SignedAtUnixMS  int64  `json:"signed_at_unix_ms"`
}

// Sign makes the signature document for a payload digest.
func Sign(key ed25519.PrivateKey, publisher, payloadSHA256 string, at time.Time) Signature {
	pub := key.Public().(ed25519.PublicKey)
	return Signature{
		Algorithm:       SignatureAlgorithm,
		Publisher:       publisher,
		KeyID:           signing.KeyID(pub),
		PublicKeyBase64: base64.StdEncoding.EncodeToString(pub),
		PayloadSHA256:   payloadSHA256,
		SignatureBase64: base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(payloadSHA256))),
		SignedAtUnixMS:  at.UnixMilli(),
	}
}

// marshal renders signature.json as Palyra does: two-space indented JSON.
func (s Signature) marshal() ([]byte, error) {
	return json.MarshalIndent(s, "", "  ")
}

// signatureFields are signature.json's keys; Palyra's reader
// (deny_unknown_fields, no defaults) requires exactly these.
var signatureFields = [...]string{
	"algorithm", "publisher", "key_id", "public_key_base64",
	"payload_sha256", "signature_base64", "signed_at_unix_ms",
}

// ParseSignature parses signature.json and checks that it is internally
// consistent: strict JSON (CheckJSON), exactly the seven fields with their
// JSON types, algorithm "ed25519-sha256", a canonical standard-base64
// 32-byte public key, key_id derived from that key, a 64-character
// lowercase-hex payload digest and a canonical standard-base64 64-byte
// signature (CheckSignatureFields). It returns the document and the embedded
// key. It does not verify the signature: see Open.
//
// Errors are *CheckError wrapping ErrTooLarge, ErrInvalidMetadata (not strict
// JSON) or ErrBadSignature (fields).
func ParseSignature(data []byte) (Signature, ed25519.PublicKey, error) {
	if len(data) > MaxSignatureBytes {
		return Signature{}, nil, fail(CheckMetadataSize, SignaturePath, ErrTooLarge, "%d bytes, cap %d", len(data), MaxSignatureBytes)
	}
	if err := checkStrictJSON(data); err != nil {
		return Signature{}, nil, fail(CheckJSON, SignaturePath, ErrInvalidMetadata, "%v", err)
	}
	bad := func(format string, args ...any) (Signature, ed25519.PublicKey, error) {
		return Signature{}, nil, fail(CheckSignatureFields, SignaturePath, ErrBadSignature, format, args...)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return bad("%v", err)
	}
	for k := range raw {
		if !slices.Contains(signatureFields[:], k) {
			return bad("unknown field %q", k)
		}
	}
	var s Signature
	strs := map[string]*string{
		"algorithm": &s.Algorithm, "publisher": &s.Publisher, "key_id": &s.KeyID,
		"public_key_base64": &s.PublicKeyBase64, "payload_sha256": &s.PayloadSHA256,
		"signature_base64": &s.SignatureBase64,
	}
	for _, k := range signatureFields {
		v, ok := raw[k]
		if !ok {
			return bad("missing field %q", k)
		}
		// json.Unmarshal accepts null for any type, leaving the zero value;
		// Palyra does not, so the JSON type is checked first.
		if dst, isString := strs[k]; isString {
			if len(v) == 0 || v[0] != '"' {
				return bad("field %q is not a string", k)
			}
			if err := json.Unmarshal(v, dst); err != nil {
				return bad("field %q: %v", k, err)
			}
			continue
		}
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) || bytes.ContainsAny(v, ".eE") {
			return bad("field %q is not an integer", k)
		}
		if err := json.Unmarshal(v, &s.SignedAtUnixMS); err != nil {
			return bad("field %q: %v", k, err)
		}
	}
	if s.Algorithm != SignatureAlgorithm {
		return bad("algorithm %q, want %q", s.Algorithm, SignatureAlgorithm)
	}
	if s.Publisher == "" {
		return bad("empty publisher")
	}
	key, err := strictBase64(s.PublicKeyBase64, ed25519.PublicKeySize)
	if err != nil {
		return bad("public_key_base64: %v", err)
	}
	pub := ed25519.PublicKey(key)
	if want := signing.KeyID(pub); s.KeyID != want {
		return bad("key_id %q does not match the public key (%s)", s.KeyID, want)
	}
	if !isLowerHex(s.PayloadSHA256, 64) {
		return bad("payload_sha256 %q is not 64 lowercase hex digits", s.PayloadSHA256)
	}
	if _, err := strictBase64(s.SignatureBase64, ed25519.SignatureSize); err != nil {
		return bad("signature_base64: %v", err)
	}
	return s, pub, nil
}

// strictBase64 decodes canonical padded standard base64 of exactly n bytes.
// Re-encoding must give s back: that rejects non-zero padding bits and the
// CR/LF that encoding/base64 skips even in strict mode, so one key or
// signature has exactly one encoding (as Palyra's base64 engine requires).
func strictBase64(s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	if len(b) != n {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n)
	}
	return b, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
