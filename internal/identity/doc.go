// Package identity is the identity layer every connection between palyra
// machines rests on: device identities (a ULID and an Ed25519 key), the
// daemon's internal certificate authority, and the material pairing
// produces. It is transport-agnostic; its state lives in a SecretStore.
package identity
