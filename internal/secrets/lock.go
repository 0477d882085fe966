package secrets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/palyra/palyra-go/internal/lockfile"
)

// LockFileName is the store's writer lock file in its directory. No
// secret's file name starts with '.', so it is never taken for one.
const LockFileName = ".lock"

// Lock takes the store's writer lock and returns the function that
// releases it (calling it more than once is harmless). It serializes
// read-modify-write cycles — read a value, change it, write it back —
// between goroutines and between processes sharing the directory (the
// daemon pairing a device while the CLI revokes another). Single writes
// need no lock, being atomic already, and take none: Set, Delete and the
// *Identity methods may be called while the lock is held. The lock is not
// reentrant: a goroutine holding it that calls Lock again waits forever
// (or until its ctx is done).
//
// On Unix it is an exclusive flock(2) on LockFileName (0600, refused like
// a secret file if group or others can use it or it is a symlink), polled
// without blocking so that ctx cancels the wait; the kernel releases it
// when the holder exits, crashes included. Elsewhere it serializes the
// users of this *Store only.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("secrets: lock: %w", context.Cause(ctx))
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	// The in-process half first: goroutines queue on a channel, which
	// wakes them at once, rather than on flock, which is polled.
	select {
	case s.lockCh <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("secrets: lock: %w", context.Cause(ctx))
	}
	var f *os.File
	if flockAvailable {
		if f, err = s.lockFile(ctx); err != nil {
			<-s.lockCh
			return nil, err
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if f != nil {
				// Closing the file releases the flock even if the
				// explicit unlock failed.
				_ = lockfile.UnlockFile(f)
				_ = f.Close()
			}
			<-s.lockCh
		})
	}, nil
}

// lockFile opens LockFileName, checks it like a secret file and takes the
// exclusive flock on it.
func (s *Store) lockFile(ctx context.Context) (*os.File, error) {
	path := filepath.Join(s.dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
	if err != nil {
		if isSymlinkErr(err) {
			return nil, &PermissionError{Path: path, Mode: os.ModeSymlink, Reason: "a symlink, not a regular file"}
		}
		return nil, fmt.Errorf("secrets: lock: %w", err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("secrets: lock: %w", err)
	case !fi.Mode().IsRegular():
		err = &PermissionError{Path: path, Mode: fi.Mode(), Reason: "not a regular file"}
	case checkModes && fi.Mode().Perm()&0o077 != 0:
		err = &PermissionError{Path: path, Mode: fi.Mode(), Reason: "accessible to group or others (want 0600)"}
	default:
		if err = lockfile.LockFile(ctx, f, true); err != nil {
			err = fmt.Errorf("secrets: %w", err)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
