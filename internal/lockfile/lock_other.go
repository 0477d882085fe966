//go:build !unix

package lockfile

import (
	"context"
	"errors"
	"os"
)

// errNoLocking is returned where flock(2) does not exist: writing shared state
// without a cross-process lock could lose a TOFU pin race, so it is refused.
var errNoLocking = errors.New("file locking is not supported on this platform")

func LockFile(context.Context, *os.File, bool) error { return errNoLocking }

// UnlockFile releases a lock taken with LockFile.
func UnlockFile(*os.File) error { return nil }
