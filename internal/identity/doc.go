// Package identity is the identity layer every connection between palyra
// machines rests on: device identities (a ULID and an Ed25519 key), the
// daemon's internal certificate authority, and the material pairing
// produces. It is transport-agnostic; its state lives in a SecretStore.
//
// # Device identity
//
//   - A device id is a canonical ULID (oklog/ulid/v2, entropy from
//     crypto/rand): 26 upper-case Crockford base32 characters. The signing
//     key is Ed25519 from crypto/rand. The fingerprint is lowercase
//     hex(sha256(public key)), as in Palyra.
//   - [LoadOrCreate] keeps the identity under the key [DeviceKey]
//     ("device/identity") as strict JSON:
//     {"version":1,"device_id":"<ULID>","signing_key":"<base64>"}, the
//     key being the 64-byte Ed25519 private key (seed then public key).
//     Unknown fields, trailing data, another version, a non-canonical id,
//     a key of another length, or a public half that does not match the
//     seed fail with ErrCorrupt, and the error names the key. A value
//     that does not load is never replaced: a new identity would silently
//     orphan the device's certificates and pairings.
//   - Racing creators end with one identity when the store implements
//     [Creator] (create only if absent); [SecretsStore] does, with
//     link(2), across processes too. Others get Put and a re-read, which
//     cannot rule out two racers each keeping its own.
//
// # Storage
//
// [SecretsStore] adapts internal/secrets' encrypted filesystem store
// (0700 directory, one sealed 0600 file per key, atomic writes, modes
// checked on every access) to [SecretStore]. Identity material lives in
// that store's reserved scope "identity", which no secret ref, grant or
// listing of user secrets reaches. Identity keys are [A-Za-z0-9._/-]+;
// '/' is stored as ':', so "device/identity" is the file
// "identity@device=identity".
//
// SecretsStore is also a [Locker]: its Lock is the secret store's writer
// lock (an exclusive flock(2) on <store>/.lock on Unix), so read-modify-
// write cycles of several processes on one state dir do not lose updates.
package identity
