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
//
// # Pairing
//
// [Manager.ServePairing] (daemon) and [Pair] (device) run palyra-pair-v1
// over any io.ReadWriter; docs/pairing.md specifies it byte for byte.
//
//   - CPace (internal/cpace) on the code's password-related string, with
//     channel identifier lv("palyra-pair-v1") || lv(binding): binding is
//     the transport's channel identifier (at least 16 bytes, or both ends
//     refuse), so a relay between two channels fails. The device is the initiator; a failed attempt's transcript
//     is independent of the code beyond the one online guess.
//   - Frames: u32 big-endian length + payload of at most 16 KiB, refused
//     before allocation when larger. Payloads are one strict JSON object:
//     unknown fields, duplicate keys, keys other than [a-z_]+, trailing
//     data and wrong lengths are ErrProtocol.
//   - The daemon counts an attempt on every candidate code before it
//     answers (beginAttempt), sends one shuffled offer per candidate (at
//     most MaxActiveCodes; exactly one for a token), each with a MAC under
//     that candidate's key. The device confirms the offer whose MAC
//     verifies or aborts (ErrPairingFailed on both ends).
//   - Only after confirmation does the device send its Ed25519 identity
//     key, its signature over the session's transcript key and a CSR, all
//     under a MAC; the daemon checks both before completePairing, and
//     MACs the grant. MACs are compared in constant time.
//   - Pair checks the certificate chains to the CA it got (clientAuth),
//     names the device, and certifies the P-256 key Pair generated.
//   - Error messages carry a code mapped to this package's sentinels and
//     a fixed text; no code, token, ISK or key is logged or sent.
//   - A context deadline bounds every read and write (deadlines on a
//     net.Conn, Close on another io.Closer); ServePairing defaults to
//     HandshakeTimeout, except while waiting for the operator, a wait
//     that ends when the device leaves.
package identity
