package journal

import (
	"context"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// retryBusy runs fn again while it fails with SQLITE_BUSY, for up to
// busyTimeout. The busy timeout set on every connection already makes
// SQLite wait for other writers; what is left are the cases where SQLite
// returns SQLITE_BUSY without consulting it (see "Sometimes Queries Return
// SQLITE_BUSY In WAL Mode" in the SQLite documentation): another process
// converting a new file to WAL, or checkpointing and deleting the WAL as
// its last connection closes. Those windows are short, so backing off and
// trying again is correct; fn must have no effect when it fails with
// SQLITE_BUSY (a BEGIN, or a read).
func retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(busyTimeout)
	delay := time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
