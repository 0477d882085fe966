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
// # Registry and revocation
//
// The [Manager] keeps pairing codes, devices and revocations in one strict
// JSON document under [RegistryKey] ("pairing/registry") in the secret
// store, so it is encrypted at rest like every identity secret:
//
//	{"version":1,"generation":N,
//	 "codes":[{"id","code","token_secret","kind","require_approval",
//	           "created_at","expires_at","attempts","burnt_at"?}],
//	 "devices":{"<device id>":Device},
//	 "revoked_certificates":{"<hex sha256 of DER>":{"device_id","revoked_at","not_after"}}}
//
// A device record is the [Device] that Manager.Devices lists. The rules:
//
//   - Every change is a read-modify-write under the in-process mutex and
//     the store's [Locker] (SecretsStore's flock), reloading the document
//     first, so the daemon pairing and the CLI approving or revoking on the
//     same state dir lose nothing. A document that does not decode
//     (unknown fields, trailing data, another version, a malformed id,
//     code, secret, fingerprint, kind or state, attempts out of 0-5) is an
//     error wrapping ErrCorrupt that names the key; it is never replaced.
//     NewManager reads it once, so a corrupt registry fails at start.
//   - Writes prune expired codes, codes burnt more than 2 minutes ago, and
//     certificate records and revocations 24 h past their NotAfter (the
//     chain no longer verifies then).
//   - MintCode: 6 digits drawn uniformly with crypto/rand (rand.Int, no
//     modulo bias; leading zeros kept), differing from every stored code;
//     token "<code ULID>.<32 lowercase hex from crypto/rand>"; TTL default
//     10 min clamped to [30 s, 24 h]; kind default cli; at most
//     [MaxActiveCodes] codes able to start an attempt (ErrTooManyCodes).
//     Logs name the code id, never the code or the token.
//   - beginAttempt: a session slot (MaxSessions, default 16), a token of
//     the peer's limiter (keyed by host, so a new port is the same peer;
//     default one every 2 s, burst 5) and one of the global limiter
//     (default one every 100 ms, burst 20), or ErrRateLimited naming the
//     limit and taking nothing. The per-peer map holds at most 1024 peers,
//     evicting those whose bucket is full again. Candidates are the code
//     named by a token, or every startable code for a 6-digit attempt;
//     none is ErrNoActiveCode. One attempt is counted and stored on each
//     candidate before returning; the fifth burns the code, so a sixth is
//     refused even with the right code. A burnt code can still complete
//     the attempt that burnt it, until it expires or 2 minutes pass.
//   - completePairing consumes the code (one-time) whatever follows, then
//     refuses a kind other than the code's (ErrPairingRefused), a revoked
//     device (ErrDeviceRevoked), and a device id already recorded with
//     another identity key (ErrPairingRefused, so a code holder cannot take
//     over another device's id). It records kind, identity fingerprint
//     (hex sha256 of the Ed25519 key), peer, time and code id.
//   - Approval: a code requiring it leaves the device pending; the pairing
//     re-reads the registry every ApprovalPoll until approved (then issued),
//     rejected (ErrPairingRejected), revoked (ErrDeviceRevoked) or replaced
//     by a newer pairing of the same id (ErrPairingRefused). If the
//     device leaves first (ctx done) the record becomes rejected with
//     reason "abandoned: ...", so no pending entry waits for nobody.
//     Approve and Reject apply to pending devices only. A daemon that
//     dies while a device waits leaves it pending (or approved) until the
//     device pairs again.
//   - Issuing (ca.IssueClientFromCSR) revokes the device's earlier
//     certificates and records the new one (hex sha256 of DER, serial,
//     NotAfter); the device becomes completed. Re-pairing thus revokes the
//     old certificate only once the new one exists; a rejected re-pairing
//     leaves the old one valid (Revoke is what takes access away).
//   - Renew (the daemon's renew request, over a connection whose
//     certificate the hook accepted) issues a certificate for a completed
//     device's CSR and records it WITHOUT revoking the earlier ones, so the
//     certificate being renewed works until it expires; a revoked device
//     is ErrDeviceRevoked, an unknown or never-completed one
//     ErrUnknownDevice, a bad CSR ErrInvalidRequest, and a device holding
//     MaxLiveCertificates (8) live certificates is refused.
//   - Revoke marks the device revoked (reason, time) and adds every
//     certificate of it to the revoked set; revoking again changes
//     nothing; an unknown id is ErrUnknownDevice.
//   - CheckCertificate refuses, in order: no single device URI SAN or an
//     unknown device (ErrUnknownDevice), a revoked device
//     (ErrDeviceRevoked), a revoked fingerprint (ErrCertificateRevoked),
//     a certificate not recorded for the device (ErrUnknownCertificate).
//     It reads an in-memory snapshot reloaded when older than
//     [SnapshotMaxAge] (200 ms): a revocation stored by another process
//     refuses the next handshake at most 200 ms (plus one read of the
//     store) later. An "unknown" answer is checked again against a
//     snapshot at most 20 ms old, so a device paired by another process
//     is accepted at once without letting strangers force a read per
//     handshake. Devices, which reads the store, refreshes the snapshot
//     too (never with an older generation), so once a poller sees a
//     revocation the device's next handshake is refused. A registry that
//     cannot be read refuses everything.
//   - [Manager.VerifyConnection] is for tls.Config.VerifyConnection: it
//     requires a client certificate, verifies its chain to the CA for
//     clientAuth, then runs CheckCertificate. tls calls it on resumed
//     handshakes too, so a session ticket does not outlive a revocation.
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
