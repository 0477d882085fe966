package artifact

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
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
