package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when the requested skill or version has no row.
var ErrNotFound = errors.New("journal: not found")

// busyTimeout bounds how long a writer waits for another process's write
// transaction. Journal transactions are a handful of small statements, so
// reaching it means a stuck process, not contention.
const busyTimeout = 30 * time.Second

// Event kinds the journal writes itself. [Journal.Note] takes any other
// non-empty kind.
const (
	KindInstall    = "install"    // Record: a new lifecycle starts at installed
	KindTransition = "transition" // Transition between states
	KindReverify   = "reverify"   // quarantined → eligible after a fresh verify + audit
	KindRemove     = "remove"     // Remove or Transition to removed
	KindGrants     = "grants"     // SetGrants or Install.Grants
)

// Status is the current row of one skill version in skill_status.
type Status struct {
	SkillID string
	Version string
	State   State
	// Reason and OperatorPrincipal belong to the latest change of State.
	Reason            string
	OperatorPrincipal string
	Publisher         string
	KeyID             string
	ArtifactSHA256    string    // digest of the whole .palyra-skill file
	PayloadSHA256     string    // Palyra payload digest (signed)
	TrustDecision     string    // e.g. allowlisted, tofu_pinned, tofu_newly_pinned
	DetectedAt        time.Time // when State was last decided
	CreatedAt         time.Time // first install of this version
	UpdatedAt         time.Time // last write to the row
}

// Event is one row of the append-only skill_events table.
type Event struct {
	Seq     int64  // append order; equals commit order
	ID      string // ULID
	SkillID string
	Version string
	At      time.Time
	Kind    string
	// From and To are the states before and after. From is empty for the
	// first install of a version; a note has From == To (both empty when
	// the version has no row).
	From, To  State
	Reason    string
	Principal string
	Details   json.RawMessage // nil when none was given
}

// Install describes an accepted artifact for [Journal.Record].
type Install struct {
	SkillID        string
	Version        string
	Publisher      string
	KeyID          string
	ArtifactSHA256 string
	PayloadSHA256  string
	TrustDecision  string
	Reason         string
	Principal      string          // who installed: operator or system principal
	Details        json.RawMessage // optional JSON kept with the event
	// Grants, when not nil, are stored for this version in the same
	// transaction (see SetGrants).
	Grants json.RawMessage
	// Then are changes applied after the install in the same transaction
	// (e.g. verified, then eligible), each checked and recorded as its
	// own event: a crash leaves all of them or none.
	Then []Change
}

// Change is a requested state change for [Journal.Transition].
type Change struct {
	To        State
	Reason    string
	Principal string
	// Reverified attests that a fresh verify + audit of this exact version
	// passed just now. It is required to go from quarantined to eligible
	// and recorded as a "reverify" event.
	Reverified bool
	Details    json.RawMessage
}

// Note is a decision that does not change state (a passing re-check, a
// refused install) for [Journal.Note]. The version need not have a row.
type Note struct {
	SkillID   string
	Version   string
	Kind      string
	Reason    string
	Principal string
	Details   json.RawMessage
}

// Journal is an open skill journal. It is safe for concurrent use by
// multiple goroutines, and several processes may open the same file.
type Journal struct {
	db *sql.DB
	// writeSlot serializes this process's write transactions so that they
	// queue here, cheaply and cancellably, instead of in SQLite's busy
	// handler; the busy handler then only arbitrates between processes.
	writeSlot chan struct{}
}

// Open opens the journal database at path, conventionally
// <state>/skills/journal.sqlite3, creating it (and its directory, 0700;
// the file 0600) if it does not exist, and brings its schema up to date.
// It fails with [ErrSchemaTooNew] if a newer build has already migrated
// the file, and with [ErrCorrupt], naming the file and changing nothing,
// if the file exists but is empty, unreadable, not a SQLite database or
// fails SQLite's quick_check.
func Open(ctx context.Context, path string) (*Journal, error) {
	if path == "" {
		return nil, errors.New("journal: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	exists, err := checkFile(abs)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if err := create(ctx, abs); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", abs, err)
	}
	// A read, but SQLite may still answer SQLITE_BUSY while another
	// process's last connection checkpoints the WAL (see retryBusy).
	if err := retryBusy(ctx, func() error { return integrity(ctx, db, abs) }); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, wrapCorrupt(abs, err)
	}
	return &Journal{db: db, writeSlot: make(chan struct{}, 1)}, nil
}

// dsn builds a file: URI (so any byte in the path is escaped rather than
// read as a parameter) with the settings every pooled connection needs.
func dsn(abs string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a recorded quarantine must survive power loss, not only a crash.
	q.Add("_pragma", "synchronous(FULL)")
	// Every transaction the journal opens is a write; taking the write lock
	// at BEGIN lets a second process wait in the busy handler instead of
	// failing with SQLITE_BUSY when its read lock cannot be upgraded.
	q.Set("_txlock", "immediate")
	return u.String() + "?" + q.Encode()
}

// Close closes the database.
func (j *Journal) Close() error { return j.db.Close() }

// Record starts (or restarts) the lifecycle of a skill version at
// installed, storing its provenance, and appends an "install" event. An
// existing row, in any state, is reset: a re-install is a fresh start, and
// the version becomes the skill's current one.
func (j *Journal) Record(ctx context.Context, in Install) (Status, error) {
	if err := required(in.SkillID, in.Version, in.Principal); err != nil {
		return Status{}, err
	}
	for _, d := range []string{in.ArtifactSHA256, in.PayloadSHA256} {
		if d != "" && !isSHA256Hex(d) {
			return Status{}, fmt.Errorf("journal: %q is not a lowercase hex SHA-256 digest", d)
		}
	}
	details, err := normalizeDetails(in.Details)
	if err != nil {
		return Status{}, err
	}
	type change struct {
		Change
		details json.RawMessage
	}
	then := make([]change, len(in.Then))
	for i, c := range in.Then {
		if c.Principal == "" {
			return Status{}, errors.New("journal: a change needs a principal")
		}
		if then[i].details, err = normalizeDetails(c.Details); err != nil {
			return Status{}, err
		}
		then[i].Change = c
	}
	var st Status
	err = j.write(ctx, func(tx *sql.Tx, now int64) error {
		prev, err := getStatus(ctx, tx, in.SkillID, in.Version)
		var from State
		switch {
		case err == nil:
			from = prev.State
			_, err = tx.ExecContext(ctx, `
UPDATE skill_status SET
	status = 'installed', reason = ?, detected_at_ms = ?, operator_principal = ?,
	updated_at_unix_ms = ?, publisher = ?, key_id = ?, artifact_sha256 = ?,
	payload_sha256 = ?, trust_decision = ?,
	install_seq = (SELECT MAX(install_seq) + 1 FROM skill_status)
WHERE skill_id = ? AND version = ?`,
				nullable(in.Reason), now, in.Principal, now, in.Publisher, in.KeyID,
				in.ArtifactSHA256, in.PayloadSHA256, in.TrustDecision, in.SkillID, in.Version)
		case errors.Is(err, ErrNotFound):
			_, err = tx.ExecContext(ctx, `
INSERT INTO skill_status (
	skill_id, version, status, reason, detected_at_ms, operator_principal,
	created_at_unix_ms, updated_at_unix_ms, publisher, key_id,
	artifact_sha256, payload_sha256, trust_decision, install_seq)
VALUES (?, ?, 'installed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
	(SELECT COALESCE(MAX(install_seq), 0) + 1 FROM skill_status))`,
				in.SkillID, in.Version, nullable(in.Reason), now, in.Principal, now, now,
				in.Publisher, in.KeyID, in.ArtifactSHA256, in.PayloadSHA256, in.TrustDecision)
		}
		if err != nil {
			return fmt.Errorf("journal: record %s@%s: %w", in.SkillID, in.Version, err)
		}
		if err := appendEvent(ctx, tx, now, Event{
			SkillID: in.SkillID, Version: in.Version, Kind: KindInstall,
			From: from, To: StateInstalled, Reason: in.Reason, Principal: in.Principal, Details: details,
		}); err != nil {
			return err
		}
		if in.Grants != nil {
			if err := putGrants(ctx, tx, now, StateInstalled, in.SkillID, in.Version, in.Grants, in.Principal, "granted at install"); err != nil {
				return err
			}
		}
		st, err = getStatus(ctx, tx, in.SkillID, in.Version)
		for _, c := range then {
			if err != nil {
				return err
			}
			if err := applyChange(ctx, tx, now, st, c.Change, c.details); err != nil {
				return err
			}
			st, err = getStatus(ctx, tx, in.SkillID, in.Version)
		}
		return err
	})
	return st, err
}

// Transition moves one skill version to c.To in a single transaction:
// it reads the current state, checks the change against the lifecycle,
// updates the row and appends the event. A change the lifecycle forbids
// fails with a [*TransitionError] (errors.Is ErrInvalidTransition) and
// writes nothing; an unknown version fails with [ErrNotFound].
func (j *Journal) Transition(ctx context.Context, skillID, version string, c Change) (Status, error) {
	if err := required(skillID, version, c.Principal); err != nil {
		return Status{}, err
	}
	details, err := normalizeDetails(c.Details)
	if err != nil {
		return Status{}, err
	}
	var st Status
	err = j.write(ctx, func(tx *sql.Tx, now int64) error {
		prev, err := getStatus(ctx, tx, skillID, version)
		if err != nil {
			return err
		}
		if err := applyChange(ctx, tx, now, prev, c, details); err != nil {
			return err
		}
		st, err = getStatus(ctx, tx, skillID, version)
		return err
	})
	return st, err
}

// applyChange checks and applies one change to the row prev, inside tx.
func applyChange(ctx context.Context, tx *sql.Tx, now int64, prev Status, c Change, details json.RawMessage) error {
	if hint, ok := checkTransition(prev.State, c.To, c.Reverified); !ok {
		return &TransitionError{SkillID: prev.SkillID, Version: prev.Version, From: prev.State, To: c.To, Hint: hint}
	}
	kind := KindTransition
	switch {
	case c.To == StateRemoved:
		kind = KindRemove
	case prev.State == StateQuarantined && c.To == StateEligible:
		kind = KindReverify
	}
	if _, err := tx.ExecContext(ctx, `
UPDATE skill_status SET status = ?, reason = ?, detected_at_ms = ?,
	operator_principal = ?, updated_at_unix_ms = ?
WHERE skill_id = ? AND version = ?`,
		string(c.To), nullable(c.Reason), now, c.Principal, now, prev.SkillID, prev.Version); err != nil {
		return fmt.Errorf("journal: transition %s@%s: %w", prev.SkillID, prev.Version, err)
	}
	return appendEvent(ctx, tx, now, Event{
		SkillID: prev.SkillID, Version: prev.Version, Kind: kind,
		From: prev.State, To: c.To, Reason: c.Reason, Principal: c.Principal, Details: details,
	})
}

// Remove marks every version of skillID that is not already removed as
// removed, appending one "remove" event per version, in one transaction.
// It returns [ErrNotFound] if there was nothing to remove. Rows and events
// stay: the journal never forgets what was installed. The skill's operator
// config and initial vars go (see [Journal.SetConfig]), each with an
// unset event, so that a later install starts from the manifest's
// defaults.
func (j *Journal) Remove(ctx context.Context, skillID, principal string) error {
	if strings.TrimSpace(skillID) == "" || strings.TrimSpace(principal) == "" {
		return errors.New("journal: skill id and principal are required")
	}
	return j.write(ctx, func(tx *sql.Tx, now int64) error {
		live, err := queryStatuses(ctx, tx,
			`WHERE skill_id = ? AND status <> 'removed' ORDER BY install_seq`, skillID)
		if err != nil {
			return err
		}
		if len(live) == 0 {
			return fmt.Errorf("%w: no installed version of %s", ErrNotFound, skillID)
		}
		if err := clearConfig(ctx, tx, now, live[len(live)-1], principal); err != nil {
			return err
		}
		for _, st := range live {
			if err := applyChange(ctx, tx, now, st, Change{To: StateRemoved, Reason: "removed", Principal: principal}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Note appends an event that changes no state: a decision worth keeping,
// such as a re-check that passed or an install that was refused. Kind must
// be non-empty and not one of the kinds the journal writes itself.
func (j *Journal) Note(ctx context.Context, n Note) error {
	if err := required(n.SkillID, n.Version, n.Principal); err != nil {
		return err
	}
	switch n.Kind {
	case "":
		return errors.New("journal: note kind is required")
	case KindInstall, KindTransition, KindReverify, KindRemove, KindGrants, KindConfig, KindVar:
		return fmt.Errorf("journal: note kind %q is reserved", n.Kind)
	}
	details, err := normalizeDetails(n.Details)
	if err != nil {
		return err
	}
	return j.write(ctx, func(tx *sql.Tx, now int64) error {
		var state State
		switch st, err := getStatus(ctx, tx, n.SkillID, n.Version); {
		case err == nil:
			state = st.State
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return appendEvent(ctx, tx, now, Event{
			SkillID: n.SkillID, Version: n.Version, Kind: n.Kind,
			From: state, To: state, Reason: n.Reason, Principal: n.Principal, Details: details,
		})
	})
}

// Get returns the row of one skill version, removed or not, or
// [ErrNotFound].
func (j *Journal) Get(ctx context.Context, skillID, version string) (st Status, err error) {
	err = retryBusy(ctx, func() error {
		st, err = getStatus(ctx, j.db, skillID, version)
		return err
	})
	return st, err
}

// Current returns the skill's current version: the one most recently
// recorded (installed) and not removed, whatever its state. Quarantining
// the current version does not make an older one current — that would be
// a silent rollback — so callers must check State.Runnable before running.
func (j *Journal) Current(ctx context.Context, skillID string) (Status, error) {
	var sts []Status
	err := retryBusy(ctx, func() (err error) {
		sts, err = queryStatuses(ctx, j.db,
			`WHERE skill_id = ? AND status <> 'removed' ORDER BY install_seq DESC LIMIT 1`, skillID)
		return err
	})
	if err != nil {
		return Status{}, err
	}
	if len(sts) == 0 {
		return Status{}, fmt.Errorf("%w: no installed version of %s", ErrNotFound, skillID)
	}
	return sts[0], nil
}

// List returns every skill version that is not removed, ordered by skill
// id and, within a skill, most recently installed first.
func (j *Journal) List(ctx context.Context) (sts []Status, err error) {
	err = retryBusy(ctx, func() error {
		sts, err = queryStatuses(ctx, j.db, `WHERE status <> 'removed' ORDER BY skill_id, install_seq DESC`)
		return err
	})
	return sts, err
}

// SkillIDs returns, sorted, every skill id that has ever had a version
// recorded, removed ones included.
func (j *Journal) SkillIDs(ctx context.Context) (ids []string, err error) {
	err = retryBusy(ctx, func() error {
		ids = ids[:0]
		rows, err := j.db.QueryContext(ctx, `SELECT DISTINCT skill_id FROM skill_status ORDER BY skill_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("journal: skill ids: %w", err)
	}
	return ids, nil
}

// LastEventSeq returns the sequence number of the latest event recorded
// for skillID (0 if none). Every change to a skill (install, state,
// grants, removal) appends an event, so a cache keyed by it notices
// changes made by other processes with one indexed query.
func (j *Journal) LastEventSeq(ctx context.Context, skillID string) (seq int64, err error) {
	err = retryBusy(ctx, func() error {
		return j.db.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(id), 0) FROM skill_events WHERE skill_id = ?`, skillID).Scan(&seq)
	})
	if err != nil {
		return 0, fmt.Errorf("journal: events of %s: %w", skillID, err)
	}
	return seq, nil
}

// Events returns every event recorded for skillID, all versions, in the
// order they were appended.
func (j *Journal) Events(ctx context.Context, skillID string) (evs []Event, err error) {
	err = retryBusy(ctx, func() error {
		evs, err = queryEvents(ctx, j.db, skillID)
		return err
	})
	return evs, err
}

func queryEvents(ctx context.Context, q querier, skillID string) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `
SELECT id, event_id, skill_id, version, at_unix_ms, kind,
	COALESCE(from_state, ''), COALESCE(to_state, ''), COALESCE(reason, ''),
	principal, details
FROM skill_events WHERE skill_id = ? ORDER BY id`, skillID)
	if err != nil {
		return nil, fmt.Errorf("journal: events of %s: %w", skillID, err)
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var (
			e       Event
			at      int64
			details sql.NullString
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.SkillID, &e.Version, &at, &e.Kind,
			&e.From, &e.To, &e.Reason, &e.Principal, &details); err != nil {
			return nil, fmt.Errorf("journal: events of %s: %w", skillID, err)
		}
		e.At = time.UnixMilli(at)
		if details.Valid {
			e.Details = json.RawMessage(details.String)
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: events of %s: %w", skillID, err)
	}
	return evs, nil
}

// write runs fn in one write transaction (BEGIN IMMEDIATE) and commits it
// if fn returns nil. now is the timestamp every row written by fn shares.
func (j *Journal) write(ctx context.Context, fn func(tx *sql.Tx, now int64) error) (err error) {
	select {
	case j.writeSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-j.writeSlot }()
	var tx *sql.Tx
	if err := retryBusy(ctx, func() (err error) {
		tx, err = j.db.BeginTx(ctx, nil)
		return err
	}); err != nil {
		return fmt.Errorf("journal: begin: %w", err)
	}
	if err := fn(tx, time.Now().UnixMilli()); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: commit: %w", err)
	}
	return nil
}

func appendEvent(ctx context.Context, tx *sql.Tx, now int64, e Event) error {
	var details any
	if e.Details != nil {
		details = string(e.Details)
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO skill_events (event_id, skill_id, version, at_unix_ms, kind,
	from_state, to_state, reason, principal, details)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ulid.Make().String(), e.SkillID, e.Version, now, e.Kind,
		nullable(string(e.From)), nullable(string(e.To)), nullable(e.Reason), e.Principal, details)
	if err != nil {
		return fmt.Errorf("journal: append %s event for %s@%s: %w", e.Kind, e.SkillID, e.Version, err)
	}
	return nil
}

const statusColumns = `skill_id, version, status, COALESCE(reason, ''), operator_principal,
	publisher, key_id, artifact_sha256, payload_sha256, trust_decision,
	detected_at_ms, created_at_unix_ms, updated_at_unix_ms`

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getStatus(ctx context.Context, q querier, skillID, version string) (Status, error) {
	sts, err := queryStatuses(ctx, q, `WHERE skill_id = ? AND version = ?`, skillID, version)
	if err != nil {
		return Status{}, err
	}
	if len(sts) == 0 {
		return Status{}, fmt.Errorf("%w: %s@%s", ErrNotFound, skillID, version)
	}
	return sts[0], nil
}

// queryStatuses selects skill_status rows; where is a constant clause
// written in this file, never caller input.
func queryStatuses(ctx context.Context, q querier, where string, args ...any) ([]Status, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+statusColumns+" FROM skill_status "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: query status: %w", err)
	}
	defer rows.Close()
	var sts []Status
	for rows.Next() {
		var (
			s                   Status
			det, created, updat int64
		)
		if err := rows.Scan(&s.SkillID, &s.Version, &s.State, &s.Reason, &s.OperatorPrincipal,
			&s.Publisher, &s.KeyID, &s.ArtifactSHA256, &s.PayloadSHA256, &s.TrustDecision,
			&det, &created, &updat); err != nil {
			return nil, fmt.Errorf("journal: scan status: %w", err)
		}
		s.DetectedAt, s.CreatedAt, s.UpdatedAt = time.UnixMilli(det), time.UnixMilli(created), time.UnixMilli(updat)
		sts = append(sts, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: query status: %w", err)
	}
	return sts, nil
}

func required(skillID, version, principal string) error {
	switch {
	case strings.TrimSpace(skillID) == "":
		return errors.New("journal: skill id is required")
	case strings.TrimSpace(version) == "":
		return errors.New("journal: version is required")
	case strings.TrimSpace(principal) == "":
		return errors.New("journal: principal is required")
	}
	return nil
}

// normalizeDetails rejects invalid JSON up front (the table's CHECK would
// too, with a less helpful message) and maps empty to nil (SQL NULL).
func normalizeDetails(d json.RawMessage) (json.RawMessage, error) {
	if len(d) == 0 {
		return nil, nil
	}
	if !json.Valid(d) {
		return nil, errors.New("journal: details are not valid JSON")
	}
	return d, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ErrNoGrants: no grants were ever stored for the version.
var ErrNoGrants = errors.New("journal: no grants recorded")

// SetGrants stores the operator's grants (a JSON document) for a skill
// version that has a row, and appends a "grants" event holding them.
func (j *Journal) SetGrants(ctx context.Context, skillID, version string, grants json.RawMessage, principal, reason string) error {
	if err := required(skillID, version, principal); err != nil {
		return err
	}
	return j.write(ctx, func(tx *sql.Tx, now int64) error {
		st, err := getStatus(ctx, tx, skillID, version)
		if err != nil {
			return err
		}
		return putGrants(ctx, tx, now, st.State, skillID, version, grants, principal, reason)
	})
}

// putGrants upserts the grants row and appends the event; the event's from
// and to are the version's unchanged state, as for a note.
func putGrants(ctx context.Context, tx *sql.Tx, now int64, state State, skillID, version string, grants json.RawMessage, principal, reason string) error {
	g, err := normalizeDetails(grants)
	if err != nil || g == nil {
		return fmt.Errorf("journal: grants for %s@%s: not a JSON document", skillID, version)
	}
	if _, err := tx.ExecContext(ctx, `
INSERT INTO skill_grants (skill_id, version, grants, granted_by, updated_at_unix_ms)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (skill_id, version) DO UPDATE SET
	grants = excluded.grants, granted_by = excluded.granted_by, updated_at_unix_ms = excluded.updated_at_unix_ms`,
		skillID, version, string(g), principal, now); err != nil {
		return fmt.Errorf("journal: grants for %s@%s: %w", skillID, version, err)
	}
	return appendEvent(ctx, tx, now, Event{
		SkillID: skillID, Version: version, Kind: KindGrants, From: state, To: state,
		Reason: reason, Principal: principal, Details: g,
	})
}

// Grants returns the grants stored for a skill version, or ErrNoGrants.
func (j *Journal) Grants(ctx context.Context, skillID, version string) (json.RawMessage, error) {
	var g string
	err := retryBusy(ctx, func() error {
		return j.db.QueryRowContext(ctx, `SELECT grants FROM skill_grants WHERE skill_id = ? AND version = ?`,
			skillID, version).Scan(&g)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s@%s: %w", skillID, version, ErrNoGrants)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: grants for %s@%s: %w", skillID, version, err)
	}
	return json.RawMessage(g), nil
}
