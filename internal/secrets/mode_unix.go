//go:build unix

package secrets

import (
	"errors"
	"syscall"
)

// checkModes: Unix permission bits are meaningful, so they are enforced.
const checkModes = true

// oNoFollow makes opening a symlink fail (ELOOP) instead of following it.
const oNoFollow = syscall.O_NOFOLLOW

func isSymlinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }

// flockAvailable: Store.Lock takes flock(2) on its lock file, so that it
// serializes processes too.
const flockAvailable = true
