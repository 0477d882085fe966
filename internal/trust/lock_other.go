//go:build !unix

package trust

import (
	"context"
	"errors"
	"os"
)

// errNoLocking is returned where flock(2) does not exist: writing the store
// without a cross-process lock could lose a TOFU pin race, so it is refused.
var errNoLocking = errors.New("trust store locking is not supported on this platform")

func flock(context.Context, *os.File, bool) error { return errNoLocking }

func funlock(*os.File) error { return nil }
