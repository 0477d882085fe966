// Package signing holds publisher keys: Ed25519 key generation, the key
// encodings Palyra accepts (PEM PKCS#8/SPKI, 32 raw bytes, hex, base64, and
// for private keys also the 64-byte seed‖public key) and Palyra's key id,
// "ed25519:" + hex(sha256(public key)[0:8]).
//
// Parsing follows Palyra's parse_ed25519_signing_key: raw bytes are judged
// on the input exactly as given, text forms (PEM, hex, base64) after
// trimming surrounding whitespace. Errors wrap [ErrInvalidKey] and never
// echo key material.
package signing
