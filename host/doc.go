// Package host is the part of palyra-go an application embeds: it opens a
// state directory, verifies signed .palyra-skill artifacts against the
// publisher trust store, and (in later releases) installs, audits and runs
// skills in a sandbox.
//
// Verification trusts nothing in an artifact before it has checked it. It
// runs every check of package internal/artifact (ZIP structure, entry set,
// integrity list, payload digest, Ed25519 signature, publisher), evaluates
// the trust store read-only, and only when all of that passes does it record
// a trust-on-first-use pin. A rejected artifact never changes the state dir.
//
// The trust decision follows Palyra:
//
//   - allowlisted: the publisher is in trusted_publishers and the signing key
//     is one of its keys;
//   - tofu_pinned: the publisher was pinned on first use and the key matches;
//   - tofu_newly_pinned: the publisher is unknown and trust on first use was
//     allowed; the key is pinned now.
//
// Anything else is an error callers tell apart with errors.Is:
// ErrUntrustedPublisher, ErrKeyMismatch, ErrKeyRevoked, ErrBadSignature,
// ErrPayloadDigestMismatch, ErrMalformedArchive, ...
package host
