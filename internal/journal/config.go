package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ConfigKind names one of a skill's operator stores.
type ConfigKind string

// The operator stores. The values are stored verbatim in skill_config.kind
// and are the kinds of the events that record their changes.
const (
	// ConfigKindConfig: the values a guest reads with Extism's config_get.
	ConfigKindConfig ConfigKind = "config"
	// ConfigKindVar: the initial values of the guest's Extism vars
	// (var_get), which every load of the skill starts from.
	ConfigKindVar ConfigKind = "var"
)

// Valid reports whether k is one of the defined kinds.
func (k ConfigKind) Valid() bool { return k == ConfigKindConfig || k == ConfigKindVar }

// Event kinds of operator config changes (see [Journal.SetConfig]).
const (
	KindConfig = string(ConfigKindConfig) // a config value set or unset
	KindVar    = string(ConfigKindVar)    // an initial var set or unset
)

// ConfigEntry is one value the operator set for a skill.
type ConfigEntry struct {
	Kind  ConfigKind
	Key   string
	Value string
	// Redacted values are stored so that the skill receives them, but
	// neither their events nor anything that prints them may show them.
	Redacted  bool
	SetBy     string
	UpdatedAt time.Time
}

// ConfigChange is one set or unset for [Journal.SetConfig].
type ConfigChange struct {
	Kind ConfigKind
	Key  string
	// Value is the new value; ignored when Unset.
	Value string
	Unset bool
	// Redacted keeps Value out of the event (and marks the row so that
	// nothing prints it).
	Redacted  bool
	Principal string
}

// configDetails is the JSON of a config event. Value is omitted for a
// redacted value and for an unset.
type configDetails struct {
	Key      string  `json:"key"`
	Action   string  `json:"action"` // set, unset
	Value    *string `json:"value,omitempty"`
	Redacted bool    `json:"redacted,omitempty"`
}

// SetConfig sets or unsets one operator value of skillID, keyed by skill
// id (not version: it survives upgrades), and appends an event of kind
// c.Kind ("config" or "var") in the same transaction. The event names
// who, when and the key; it holds the value only when it is not redacted.
// The event is recorded against the skill's current version, so the skill
// must have one that is not removed ([ErrNotFound] otherwise); unsetting a
// key that has no value fails with [ErrNotFound] and writes nothing.
//
// The journal checks only the shape of the change; what keys and values a
// skill accepts is the host's business.
func (j *Journal) SetConfig(ctx context.Context, skillID string, c ConfigChange) error {
	switch {
	case strings.TrimSpace(skillID) == "":
		return errors.New("journal: skill id is required")
	case strings.TrimSpace(c.Principal) == "":
		return errors.New("journal: principal is required")
	case !c.Kind.Valid():
		return fmt.Errorf("journal: unknown config kind %q", c.Kind)
	case c.Key == "":
		return errors.New("journal: config key is required")
	}
	d := configDetails{Key: c.Key, Action: "set", Redacted: c.Redacted && !c.Unset}
	if c.Unset {
		d.Action = "unset"
	} else if !c.Redacted {
		d.Value = &c.Value
	}
	details, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("journal: config %s of %s: %w", c.Key, skillID, err)
	}
	return j.write(ctx, func(tx *sql.Tx, now int64) error {
		cur, err := currentIn(ctx, tx, skillID)
		if err != nil {
			return err
		}
		if c.Unset {
			res, err := tx.ExecContext(ctx, `DELETE FROM skill_config WHERE skill_id = ? AND kind = ? AND key = ?`,
				skillID, string(c.Kind), c.Key)
			if err != nil {
				return fmt.Errorf("journal: unset %s %s of %s: %w", c.Kind, c.Key, skillID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return fmt.Errorf("%w: %s has no %s value for %q", ErrNotFound, skillID, c.Kind, c.Key)
			}
		} else if _, err := tx.ExecContext(ctx, `
INSERT INTO skill_config (skill_id, kind, key, value, redacted, set_by, updated_at_unix_ms)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (skill_id, kind, key) DO UPDATE SET
	value = excluded.value, redacted = excluded.redacted,
	set_by = excluded.set_by, updated_at_unix_ms = excluded.updated_at_unix_ms`,
			skillID, string(c.Kind), c.Key, c.Value, c.Redacted, c.Principal, now); err != nil {
			return fmt.Errorf("journal: set %s %s of %s: %w", c.Kind, c.Key, skillID, err)
		}
		return appendEvent(ctx, tx, now, Event{
			SkillID: skillID, Version: cur.Version, Kind: string(c.Kind), From: cur.State, To: cur.State,
			Reason: d.Action + " " + c.Key, Principal: c.Principal, Details: details,
		})
	})
}

// Config returns every operator value of skillID, of both kinds, ordered
// by kind and key. Redacted values are returned too: the host passes them
// to the skill; it is the caller's duty not to print them.
func (j *Journal) Config(ctx context.Context, skillID string) (es []ConfigEntry, err error) {
	err = retryBusy(ctx, func() error {
		es, err = queryConfig(ctx, j.db, skillID)
		return err
	})
	return es, err
}

func queryConfig(ctx context.Context, q querier, skillID string) ([]ConfigEntry, error) {
	rows, err := q.QueryContext(ctx, `
SELECT kind, key, value, redacted, set_by, updated_at_unix_ms
FROM skill_config WHERE skill_id = ? ORDER BY kind, key`, skillID)
	if err != nil {
		return nil, fmt.Errorf("journal: config of %s: %w", skillID, err)
	}
	defer rows.Close()
	var es []ConfigEntry
	for rows.Next() {
		var (
			e  ConfigEntry
			at int64
		)
		if err := rows.Scan(&e.Kind, &e.Key, &e.Value, &e.Redacted, &e.SetBy, &at); err != nil {
			return nil, fmt.Errorf("journal: config of %s: %w", skillID, err)
		}
		e.UpdatedAt = time.UnixMilli(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: config of %s: %w", skillID, err)
	}
	return es, nil
}

// currentIn is Current inside a transaction.
func currentIn(ctx context.Context, q querier, skillID string) (Status, error) {
	sts, err := queryStatuses(ctx, q,
		`WHERE skill_id = ? AND status <> 'removed' ORDER BY install_seq DESC LIMIT 1`, skillID)
	if err != nil {
		return Status{}, err
	}
	if len(sts) == 0 {
		return Status{}, fmt.Errorf("%w: no installed version of %s", ErrNotFound, skillID)
	}
	return sts[0], nil
}

// clearConfig deletes every operator value of skillID, inside Remove's
// transaction, appending an unset event for each against version (whose
// row is in state; Remove marks it removed after). An operator removing a
// skill expects it gone; a later install starts from the manifest's
// defaults, as it starts with no grants.
func clearConfig(ctx context.Context, tx *sql.Tx, now int64, st Status, principal string) error {
	es, err := queryConfig(ctx, tx, st.SkillID)
	if err != nil || len(es) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM skill_config WHERE skill_id = ?`, st.SkillID); err != nil {
		return fmt.Errorf("journal: clear config of %s: %w", st.SkillID, err)
	}
	for _, e := range es {
		details, _ := json.Marshal(configDetails{Key: e.Key, Action: "unset"})
		if err := appendEvent(ctx, tx, now, Event{
			SkillID: st.SkillID, Version: st.Version, Kind: string(e.Kind), From: st.State, To: st.State,
			Reason: "unset " + e.Key + " (skill removed)", Principal: principal, Details: details,
		}); err != nil {
			return err
		}
	}
	return nil
}
