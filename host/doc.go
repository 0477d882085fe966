// Package host is the part of palyra-go an application embeds: it opens a
// state directory (Open), verifies signed .palyra-skill artifacts against
// the publisher trust store (VerifyFile), installs and audits them
// (Install), keeps each skill's state in a journal (installed → verified →
// eligible, or quarantined: List, Info, Check, CheckEvery, Quarantine,
// Enable, Remove), and runs the tools of eligible skills in a sandbox with
// only the capabilities the operator granted (Call, Run; Grants,
// SetGrants, the secrets store) and the operator's config and initial
// vars (Config, SetConfig, SetVar: see docs/operator-config.md).
//
// The state directory's layout is in layout.go (and the README): installed
// skills live under <state>/skills/installed/<skill_id>/<version>/, where
// an id cannot name a state file, and Open moves a state dir from the
// legacy layout (skills beside the state files). Open refuses a journal file that is empty, unreadable or
// corrupt (ErrJournalCorrupt) rather than take it for an empty one, and a
// state dir, skills dirs, policy.json, trust store, journal or compilation
// cache that its group or other users can write, or a secrets dir they can
// read (ErrInsecurePermissions, a *PermissionError naming the path, its
// mode and the chmod that fixes it); either way it changes nothing.
//
// A call runs the skill's Wasm module on palyra's implementation of the
// Extism kernel ABI (internal/runtime), or, for a module written for
// Palyra's native ABI, its entrypoint with capability handles and an
// {"exit_code":N} output (docs/abi.md), with the quotas min(manifest,
// policy.json): the wall-clock timeout and the caller's ctx stop the guest
// wherever it is, memory past the quota traps, HTTP goes only to granted
// hosts (every redirect and the resolved address checked), files only
// under the granted roots, secrets only those granted (never another
// skill's skill:ID secrets; shared scopes only when granted by name, see
// InstallOptions.GrantRequested). The tool's manifest schemas are its
// contract: the input is validated against input_schema before the guest
// runs and the output against output_schema after (a *SchemaViolation
// naming the JSON path and the rule; policy.json tool_schemas: enforce,
// the default, warn or off), with schemas compiled once per loaded
// version (package internal/toolschema). A trap or timeout
// fails that call alone; the next call gets a fresh instance. Call is
// safe for concurrent use and, on a warm instance, costs a few hundred
// nanoseconds (BENCHMARKS.md); concurrent calls share no lock and no
// counter: the loaded skills are an immutable map swapped atomically,
// and a skill that is reloaded (upgrade, grants or config change) lets
// its calls in progress finish on the old version while later ones,
// including any it turned away, run on the new.
//
// Verification trusts nothing in an artifact before it has checked it. It
// runs every check of package internal/artifact (ZIP structure, entry set,
// integrity list, payload digest, Ed25519 signature, publisher), checks the
// manifest's [compat] range against Version and ProtocolMajor as Palyra's
// verify does (ErrIncompatible), evaluates the trust store read-only, and
// only when all of that passes does it record
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
// ErrPayloadDigestMismatch, ErrMalformedArchive, ErrIncompatible, ...
//
// Operator config (SetConfig, UnsetConfig) is what a guest's config_get
// returns over the defaults of the manifest's [operator.config]. When the
// manifest declares that table, a key must be one of its properties and
// the value must parse as its type (ErrConfigUndeclared, ErrConfigType);
// without it any key of [A-Za-z0-9._-] is taken, with a warning. Initial
// vars (SetVar) start every load's Extism vars. Both are kept in the
// journal per skill id, so they survive upgrades, and go with Remove; each
// load re-checks them against its version, and a value that version no
// longer accepts, or a required property with no value, fails the skill's
// calls with ErrConfigInvalid. Values of redacted properties, or of keys
// that look like a secret's, are never returned, logged or recorded in an
// event.
//
// Secrets (SetSecret, SecretReaders) are sealed with a master key kept
// outside <state>/secrets: <state>/identity/secrets.key by default,
// created on first use, or the existing file Options.SecretsKeyFile or
// $PALYRA_SECRETS_KEY_FILE names. A master.key an older version left in
// <state>/secrets is moved there when the state dir is opened.
//
// The same store keeps the state dir's identity (InitIdentity, Identity;
// docs/identity.md): the device identity, the internal CA and the
// Manager of pairing codes and paired devices, under a scope no skill can
// be granted. InitIdentity creates what is missing under the store's
// writer lock, so racing processes end with one identity and one CA;
// Identity creates nothing and fails with ErrNoIdentity until then.
//
// A client of a palyra daemon (docs/remote.md) pairs with PairRemote,
// which keeps the daemon's CA and its client certificate in that scope
// under "remote/<addr>" only once the daemon's certificate chains to the
// CA pairing returned; Dial then gives a *Remote whose Call, Run, List
// and Info have a Host's signatures and errors (ErrorFromRemote: the
// same sentinels), and which renews its certificate over the live
// connection before it expires.
package host
