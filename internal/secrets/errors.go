package secrets

import (
	"errors"
	"fmt"
	"io/fs"
)

// Errors a caller tells apart with errors.Is.
var (
	// ErrNotFound: no secret is stored under the ref.
	ErrNotFound = errors.New("secret not found")
	// ErrSecretNotGranted: the skill's grants do not cover the ref.
	ErrSecretNotGranted = errors.New("secret not granted")
	// ErrInvalidRef: a scope or key breaks the naming rules.
	ErrInvalidRef = errors.New("invalid secret ref")
	// ErrInsecurePermissions: the store directory, one of its files or
	// the master key file is accessible to group or others (the key's
	// directory: writable by them), or is not what it should be (a
	// symlink, a directory). Comes as a *PermissionError.
	ErrInsecurePermissions = errors.New("insecure permissions")
	// ErrCorrupt: a secret file failed authentication (modified, copied
	// from another key, truncated, or sealed with another master key).
	ErrCorrupt = errors.New("secret file corrupt or tampered with")
	// ErrTooLarge: a value exceeds MaxValueBytes.
	ErrTooLarge = errors.New("secret value too large")
	// ErrNoMasterKey: Open was given no master key, or a key file that
	// does not exist and may not be created.
	ErrNoMasterKey = errors.New("no secrets master key")
	// ErrMasterKeyConflict: a legacy master key in the store directory
	// differs from the key Open was given; neither is touched.
	ErrMasterKeyConflict = errors.New("two different secrets master keys")
)

// PermissionError names a file or directory the store refuses to use.
type PermissionError struct {
	Path   string
	Mode   fs.FileMode
	Reason string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%v: %s has mode %v: %s", ErrInsecurePermissions, e.Path, e.Mode, e.Reason)
}

func (e *PermissionError) Is(target error) bool { return target == ErrInsecurePermissions }
