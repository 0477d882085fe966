package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrSchemaTooNew means the database was written by a newer build whose
// schema this code does not know; opening it could silently misread or
// damage it, so Open refuses.
var ErrSchemaTooNew = errors.New("journal: database schema is newer than this build")

// migration is one schema step. version n brings PRAGMA user_version from
// n-1 to n; steps are never edited once released, only appended.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the schema history in order. It is a function rather
// than a package variable so that nothing can alter it at run time.
func migrations() []migration {
	return []migration{{
		version: 1,
		name:    "create_skill_status_and_events",
		sql: `
CREATE TABLE schema_migrations (
	version            INTEGER PRIMARY KEY,
	name               TEXT    NOT NULL,
	applied_at_unix_ms INTEGER NOT NULL
);

-- Palyra's skill_status columns first, then palyra-go's additions.
CREATE TABLE skill_status (
	skill_id           TEXT    NOT NULL,
	version            TEXT    NOT NULL,
	status             TEXT    NOT NULL CHECK (status IN
		('installed', 'verified', 'eligible', 'quarantined', 'removed')),
	reason             TEXT,
	detected_at_ms     INTEGER NOT NULL,
	operator_principal TEXT    NOT NULL,
	created_at_unix_ms INTEGER NOT NULL,
	updated_at_unix_ms INTEGER NOT NULL,
	publisher          TEXT    NOT NULL DEFAULT '',
	key_id             TEXT    NOT NULL DEFAULT '',
	artifact_sha256    TEXT    NOT NULL DEFAULT '',
	payload_sha256     TEXT    NOT NULL DEFAULT '',
	trust_decision     TEXT    NOT NULL DEFAULT '',
	install_seq        INTEGER NOT NULL,
	PRIMARY KEY (skill_id, version)
);
CREATE INDEX idx_skill_status_skill_detected
	ON skill_status (skill_id, detected_at_ms DESC, version DESC);
CREATE INDEX idx_skill_status_state
	ON skill_status (status, detected_at_ms DESC);
CREATE INDEX idx_skill_status_current
	ON skill_status (skill_id, install_seq DESC);

CREATE TABLE skill_events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   TEXT    NOT NULL UNIQUE,
	skill_id   TEXT    NOT NULL,
	version    TEXT    NOT NULL,
	at_unix_ms INTEGER NOT NULL,
	kind       TEXT    NOT NULL,
	from_state TEXT,
	to_state   TEXT,
	reason     TEXT,
	principal  TEXT    NOT NULL,
	details    TEXT    CHECK (details IS NULL OR json_valid(details))
);
CREATE INDEX idx_skill_events_skill ON skill_events (skill_id, id);

CREATE TRIGGER skill_events_append_only_update BEFORE UPDATE ON skill_events
BEGIN
	SELECT RAISE(ABORT, 'skill_events is append-only');
END;
CREATE TRIGGER skill_events_append_only_delete BEFORE DELETE ON skill_events
BEGIN
	SELECT RAISE(ABORT, 'skill_events is append-only');
END;
CREATE TRIGGER skill_status_no_delete BEFORE DELETE ON skill_status
BEGIN
	SELECT RAISE(ABORT, 'skill_status rows are never deleted; mark them removed');
END;
`,
	}, {
		version: 2,
		name:    "create_skill_grants",
		sql: `
-- What the operator granted each installed version: a JSON document the
-- host defines. Rows are replaced on change; every change is also an event.
CREATE TABLE skill_grants (
	skill_id           TEXT    NOT NULL,
	version            TEXT    NOT NULL,
	grants             TEXT    NOT NULL CHECK (json_valid(grants)),
	granted_by         TEXT    NOT NULL,
	updated_at_unix_ms INTEGER NOT NULL,
	PRIMARY KEY (skill_id, version)
);
`,
	}, {
		version: 3,
		name:    "create_skill_config",
		sql: `
-- The operator's config values (Extism config_get) and initial vars
-- (var_get) of each skill, keyed by skill id, not version, so that they
-- survive upgrades. Rows are replaced or deleted on change; every change
-- is also an event. redacted rows are never printed.
CREATE TABLE skill_config (
	skill_id           TEXT    NOT NULL,
	kind               TEXT    NOT NULL CHECK (kind IN ('config', 'var')),
	key                TEXT    NOT NULL CHECK (length(key) > 0),
	value              TEXT    NOT NULL,
	redacted           INTEGER NOT NULL DEFAULT 0 CHECK (redacted IN (0, 1)),
	set_by             TEXT    NOT NULL,
	updated_at_unix_ms INTEGER NOT NULL,
	PRIMARY KEY (skill_id, kind, key)
);
`,
	}}
}

// SchemaVersion is the schema version this build creates and understands.
func SchemaVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// migrate brings the database up to SchemaVersion, one transaction per
// step. Every step re-reads user_version inside its own write transaction,
// so processes opening a fresh journal at the same time apply each step
// exactly once: the loser of the race sees the step done and moves on.
func migrate(ctx context.Context, db *sql.DB) error {
	known := SchemaVersion()
	for _, m := range migrations() {
		if err := applyMigration(ctx, db, m, known); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, known int) (err error) {
	var tx *sql.Tx
	err = retryBusy(ctx, func() (err error) {
		tx, err = db.BeginTx(ctx, nil) // BEGIN IMMEDIATE, see dsn
		return err
	})
	if err != nil {
		return fmt.Errorf("journal: migration %d: begin: %w", m.version, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	current, err := userVersion(ctx, tx)
	if err != nil {
		return err
	}
	if current > known {
		return fmt.Errorf("%w: database is at version %d, this build knows up to %d", ErrSchemaTooNew, current, known)
	}
	if current >= m.version {
		return tx.Rollback()
	}
	if current != m.version-1 {
		return fmt.Errorf("journal: migration %d: database is at version %d", m.version, current)
	}
	if _, err = tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("journal: migration %d (%s): %w", m.version, m.name, err)
	}
	if _, err = tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at_unix_ms) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("journal: migration %d: record: %w", m.version, err)
	}
	// PRAGMA takes no bound parameters; m.version is an int from code.
	if _, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return fmt.Errorf("journal: migration %d: set user_version: %w", m.version, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("journal: migration %d: commit: %w", m.version, err)
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("journal: read schema version: %w", err)
	}
	return v, nil
}
