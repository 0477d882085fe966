// Package trust is the publisher trust store: which Ed25519 keys may sign
// skills for which publisher, kept in Palyra's trust-store file so that
// Palyra and palyra-go share one store.
//
// # Files
//
// The store lives in <state>/skills/trust-store.json, in Palyra's format
// (read by Palyra with deny_unknown_fields, so nothing else is ever added):
//
//	{
//	  "trusted_publishers": { "PUBLISHER": ["64 lowercase hex digits", …] },
//	  "tofu_publishers": { "PUBLISHER": "64 lowercase hex digits" }
//	}
//
// written as serde_json's pretty printer writes it: two-space indent, keys
// sorted, both top-level keys always present. What palyra-go adds beyond
// Palyra — revoked keys — lives in the sibling file trust-revocations.json
// in the same directory (see [RevocationsFileName]). Every write holds an
// exclusive flock(2) on the sibling trust-store.json.lock, re-reads the
// files, and replaces them atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory), so concurrent
// processes never lose an update and readers never see half a file. Files
// are created 0600, the directory 0700.
//
// A missing trust-store.json, or one that is empty or holds only ASCII
// whitespace, is an empty store, as Palyra's SkillTrustStore::load has it
// (a file created but never written must not break every command). A
// blank trust-revocations.json is an error: revocations fail closed.
//
// Parsing is strict where Palyra's is lenient: unknown fields, duplicate
// keys, case variants of field names, null values and trailing data are
// errors that name the problem. Where Palyra normalizes (surrounding
// whitespace around a publisher or key, upper-case hex, the same publisher
// listed twice after trimming) the store normalizes the same way.
//
// # Decision rules
//
// For an artifact whose manifest names publisher P and whose signature
// carries key K, in this order:
//
//  1. K revoked (by its key id, for any publisher) → [ErrKeyRevoked],
//     whatever the lists say: a leaked key must not come back under a new
//     publisher name through TOFU.
//  2. P allowlisted (in trusted_publishers) → K must be one of its keys:
//     [Allowlisted], else [ErrKeyMismatch]. Allowlisting turns TOFU off
//     for P: a TOFU pin for P is never consulted again.
//  3. P pinned (in tofu_publishers) → K must be the pinned key:
//     [TofuPinned], else [ErrKeyMismatch].
//  4. P unknown → with AllowTOFU, pin K for P and return [TofuNewlyPinned];
//     without it, [ErrUntrustedPublisher]. A publisher with a revoked key
//     is never pinned again ([ErrUntrustedPublisher]): its next key must
//     be allowlisted.
//
// # Revocation
//
// [Store.Revoke] records the key in trust-revocations.json and takes it
// out of trusted_publishers and tofu_publishers (of every publisher), so
// that Palyra, which knows nothing of our revocations file, stops trusting
// it too. The record stays: [Store.AddTrusted] of a revoked key fails with
// [ErrKeyRevoked], and only [Store.Reinstate] (palyra trust add --force)
// lifts the revocation, keeping it under lifted_revocations with the time
// it was lifted. Revoking a key the publisher does not have is an
// [ErrKeyNotFound] error, as for [Store.Remove].
//
// [Store.Evaluate] applies the rules without writing; [Store.Decide]
// applies them and persists a new pin. A verifier calls Evaluate first,
// runs every other check, then Decide, so that a rejected artifact never
// changes the store. Of several processes racing to pin different keys for
// one publisher, exactly one wins; the others get [ErrKeyMismatch].
package trust
