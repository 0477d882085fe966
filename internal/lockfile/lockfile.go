// Package lockfile takes advisory flock(2) locks on lock files, so that
// several processes sharing a state directory serialize their writes.
// Waiting honours a context.
package lockfile

import (
	"context"
	"fmt"
	"os"
)

// Lock is a held lock; Unlock releases it and closes its file.
type Lock struct{ f *os.File }

// Acquire opens (creating, mode 0600) the lock file at path and takes an
// exclusive or shared lock on it, waiting until ctx is done.
func Acquire(ctx context.Context, path string, exclusive bool) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := LockFile(ctx, f, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	err := UnlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.f.Name(), err)
	}
	return nil
}
