// Package signing holds publisher keys: Ed25519 key generation, the key
// encodings Palyra accepts (PEM PKCS#8/SPKI, 32 raw bytes, hex, base64) and
// Palyra's key id, "ed25519:" + hex(sha256(public key)[0:8]).
package signing
