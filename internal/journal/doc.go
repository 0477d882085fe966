// Package journal records the lifecycle of installed skills in a SQLite
// database, conventionally <state>/skills/journal.sqlite3: the current
// state of every installed skill version, and an append-only log of every
// decision taken about them.
//
// # State machine
//
// Each (skill id, version) pair moves through
//
//	installed ──> verified ──> eligible
//	    │             │            │
//	    └─────────────┴────────────┴──> quarantined ──(Reverified)──> eligible
//
//	any state but removed ──> removed
//
// Only eligible versions may run ([State.Runnable]). A quarantined version
// goes back to eligible only when the caller attests, with
// [Change.Reverified], that a fresh verify + audit just passed; the event
// is then recorded as kind "reverify". Quarantining an already quarantined
// version is an invalid transition, so concurrent checkers cannot pile up
// duplicate decisions. Nothing transitions to installed: [Journal.Record]
// (re)starts a lifecycle there, for a new version, a re-install of a
// quarantined one, or one that was removed. Every refused change is a
// [*TransitionError] naming both states, matched by
// errors.Is(err, [ErrInvalidTransition]).
//
// Removal marks rows removed instead of deleting them, so that what was
// installed — publisher, key, digests, trust decision — stays queryable
// next to its events. [Journal.Current] is the most recently recorded
// version that is not removed, whatever its state: quarantining it does not
// fall back to an older version, which would be a silent rollback.
//
// # Schema
//
// skill_status, one row per (skill_id, version), primary key on both. Its
// first columns are Palyra's: status (the State), reason,
// detected_at_ms (when the state was decided), operator_principal (who
// decided), created_at_unix_ms, updated_at_unix_ms. palyra-go adds
// publisher, key_id, artifact_sha256 (SHA-256 of the whole .palyra-skill
// file), payload_sha256 (the signed payload digest), trust_decision, and
// install_seq (a journal-wide counter bumped by every Record, which defines
// the current version). A CHECK constraint limits status to the five
// states; a trigger refuses DELETE.
//
// skill_events, append-only: id (INTEGER AUTOINCREMENT, append order, which
// is commit order because writers serialize), event_id (ULID), skill_id,
// version, at_unix_ms, kind (install, transition, reverify, remove, grants,
// config, var, or a caller's note kind), from_state, to_state, reason, principal, details
// (JSON, checked with json_valid). Triggers RAISE on every UPDATE and
// DELETE, so the log cannot be rewritten through SQL either. Every write
// method changes skill_status and appends its event in the same
// transaction; [Journal.Note] appends decisions that change no state, and
// may name a version that has no row (a refused install).
//
// skill_grants (migration 2): skill_id, version, grants (a JSON document
// the host defines: what the operator let that version do), granted_by,
// updated_at_unix_ms. [Journal.SetGrants] and [Install.Grants] replace the
// row and append a "grants" event carrying the document.
//
// skill_config (migration 3): skill_id, kind ("config": what the guest's
// Extism config_get returns; "var": the initial Extism vars), key, value,
// redacted, set_by, updated_at_unix_ms, keyed by (skill_id, kind, key) and
// not by version, so the operator's values survive upgrades.
// [Journal.SetConfig] replaces or deletes a row and appends a "config" or
// "var" event against the skill's current version, naming the key and,
// unless the value is redacted, the value; [Journal.Remove] deletes the
// skill's rows with an unset event each, so a reinstall starts from the
// manifest's defaults. Which keys and values a skill accepts is the
// host's business.
//
// schema_migrations lists the applied migrations; PRAGMA user_version holds
// the schema version. Each migration runs in its own write transaction that
// re-reads user_version, so concurrent openers apply it once. A database
// whose user_version is beyond what this build knows is refused with
// [ErrSchemaTooNew].
//
// # The file
//
// A missing journal is created whole: built and migrated in a temporary
// file beside it, then hard-linked into place, so no process ever sees a
// half-made one (the file is 0600). A journal file that exists but is
// empty (0 bytes), unreadable, not a SQLite database, or fails SQLite's
// quick_check is refused with [ErrCorrupt], naming the file, before
// anything is written: the journal is the record of what is installed,
// and reading a damaged one as empty would let the host's recovery delete
// every installed skill.
//
// # Concurrency
//
// The database runs in WAL mode with synchronous=FULL (a recorded
// quarantine survives power loss; it costs one fsync per write, a few
// milliseconds), foreign keys on (skill_events deliberately has no foreign
// key: a refused install is recorded for a version that has no row) and a
// 30 s busy timeout. Every write is one BEGIN IMMEDIATE transaction, so
// writers from several processes queue on SQLite's write lock instead of
// failing with SQLITE_BUSY when a read lock cannot be upgraded; within one
// process, writers queue on a channel first, which honours context
// cancellation. Readers never block writers.
package journal
