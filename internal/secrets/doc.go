// Package secrets is the FilesystemSecretStore: secrets a skill may be
// granted, kept encrypted in a directory, one file per secret, and the
// grant check the runtime applies before a skill reads one.
//
// # Names
//
// A secret is addressed as SCOPE/KEY ([Ref], [ParseRef]). SCOPE is one of
// Palyra's secret scopes — global, principal:ID, channel:ID or skill:ID,
// an ID being [a-z0-9._:-]+ — of at most 128 bytes; KEY is
// [A-Za-z0-9._:-]+, at most 63 bytes.
//
// # Rules
//
//   - The store directory is created 0700 and must stay accessible to its
//     owner only: a directory with any group or other permission bit is
//     refused, at Open and before every operation.
//   - One file per secret, 0600. A file with any group or other bit, a
//     symlink, or anything but a regular file is refused, and the error
//     (a *PermissionError) names the path and its mode.
//   - File names encode SCOPE/KEY injectively using only [a-z0-9._=^@-]
//     (upper-case letters become '^' plus the letter, ':' becomes '=',
//     '@' separates scope and key), so no name can traverse a path,
//     collide on a case-insensitive filesystem, or start with '.'.
//   - Writes are atomic: a 0600 temporary file (".tmp-*") in the store
//     directory, fsync, rename over the target, fsync of the directory. A
//     crash leaves the old value or the new, and failures leave no
//     temporary file behind.
//   - [Store.Lock] is the writer lock for read-modify-write cycles (the
//     identity registry's updates), between goroutines and processes: an
//     exclusive flock(2) on LockFileName (".lock", 0600, refused like a
//     secret file when group or others can use it or it is a symlink),
//     polled so that a context cancels the wait, and released by the
//     kernel if its holder dies. Single writes are atomic and take no
//     lock. Without flock (not Unix) it serializes one *Store's users.
//   - Values are sealed with XChaCha20-Poly1305 (ChaCha20-Poly1305 with
//     24-byte nonces, drawn at random for every write). A file is magic
//     "PLYSEC\x00\x01", nonce, ciphertext and tag. The additional data is
//     the magic followed by SCOPE/KEY, so a file copied over another
//     key's file, or modified in any way, fails with ErrCorrupt rather
//     than returning a wrong value.
//   - The 32-byte master key never lives in the store directory, so a
//     copy of the directory alone decrypts nothing. The caller gives it
//     ([Options].MasterKey) or names a file outside the directory
//     ([Options].MasterKeyFile: 32 raw bytes or 64 hex digits), which must
//     be a regular file accessible to its owner only, in a directory
//     group and others cannot write (a *PermissionError naming path and
//     mode otherwise). With CreateMasterKey a missing file is made from
//     crypto/rand (0600, directory 0700) and linked into place whole, so
//     concurrent openers agree on one key. Where the file is, is the
//     caller's decision; the package knows nothing of a state directory.
//   - A master.key left in the store directory by an older version is
//     moved to the key file on Open: written, synced and linked first,
//     removed after, so a crash leaves the key in both places (the next
//     Open finishes) or only the old one. A legacy key that differs from
//     the key Open was given is ErrMasterKeyConflict, and neither is
//     touched.
//   - Values are at most MaxValueBytes.
//   - Identity material (device keys, CA state) is kept in the same
//     store, sealed the same way, under the reserved scope
//     [IdentityScope] ("identity"), reached only through
//     [Store.SetIdentity], [Store.CreateIdentity], [Store.GetIdentity]
//     and [Store.DeleteIdentity]. ParseRef, Set, Get and Delete refuse
//     the scope, List skips its files, so no grant can hand it to a
//     skill. CreateIdentity links the sealed file into place and fails
//     with ErrExists if the name is taken, so concurrent creators (other
//     processes included) agree on one value.
//   - [Store.Granted] yields the Getter a skill's palyra_secret_get uses:
//     a ref outside the skill's grants fails with ErrSecretNotGranted
//     before the store is consulted; a granted but missing secret fails
//     with ErrNotFound. Neither ever reads as an empty value.
//
// On systems other than Unix the permission bits Go reports carry no
// meaning, and are not checked.
package secrets
