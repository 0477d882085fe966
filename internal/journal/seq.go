package journal

import (
	"context"
	"fmt"
)

// LastSeq returns the sequence number of the latest event recorded for
// any skill (0 if none). Every change to any skill (install, state,
// grants, config, removal) appends an event, so a poller that compares it
// with the value it saw last notices a change made by any process with
// one query on the primary key.
func (j *Journal) LastSeq(ctx context.Context) (seq int64, err error) {
	err = retryBusy(ctx, func() error {
		return j.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM skill_events`).Scan(&seq)
	})
	if err != nil {
		return 0, fmt.Errorf("journal: last event: %w", err)
	}
	return seq, nil
}
