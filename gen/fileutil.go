package gen

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// SourceDateEpoch returns the time in SOURCE_DATE_EPOCH
// (https://reproducible-builds.org/specs/source-date-epoch/), and false when
// the variable is unset or empty.
func SourceDateEpoch() (time.Time, bool, error) {
	v := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	if v == "" {
		return time.Time{}, false, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a non-negative integer of seconds since 1970", v)
	}
	return time.Unix(secs, 0).UTC(), true, nil
}

// checkEntryPath enforces the artifact reader's path rules on a file we
// are about to package, so a bad name fails here with the file named,
// not later in a verifier.
func checkEntryPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	for _, r := range p {
		if r < 0x20 || r > 0x7e || r == '\\' || r == ':' {
			return fmt.Errorf("%w: %q: only printable ASCII without '\\' or ':' is allowed", ErrBadPath, p)
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, '.' or '..' segment", ErrBadPath, p)
		}
	}
	return nil
}
