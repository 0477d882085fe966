package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/palyra/palyra-go/internal/secrets"
	"github.com/palyra/palyra-go/internal/trust"
)

// ErrInsecurePermissions: a state file or directory can be written (or,
// for secrets and keys, read) by users other than its owner. palyra
// refuses to use it, since whoever can write it can make the host trust a
// publisher, run a skill or execute their own machine code. The secret
// store's own checks (a secret file, the store, the master key file) fail
// with the same error.
var ErrInsecurePermissions = secrets.ErrInsecurePermissions

// PermissionError is an ErrInsecurePermissions for one path.
type PermissionError struct {
	Path string
	Mode fs.FileMode
	// Problem says what is wrong, e.g. "writable by group and others".
	Problem string
	// Fix is the chmod that makes the path acceptable.
	Fix string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s is %s (mode %s): %v; fix with: %s", e.Path, e.Problem, e.Mode, ErrInsecurePermissions, e.Fix)
}

func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

// checkNotWritableByOthers refuses a path (file or directory, symlinks
// followed) that its group or other users may write. A missing path is
// fine: palyra creates its files and directories owner-only.
func checkNotWritableByOthers(path string) error {
	return checkMode(path, 0o022, "go-w")
}

// checkPrivateDir refuses a directory that its group or other users may
// read, write or enter — for secrets and keys. A missing directory is fine.
func checkPrivateDir(path string) error {
	return checkMode(path, 0o077, "go-rwx")
}

func checkMode(path string, forbidden fs.FileMode, chmod string) error {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return nil // no POSIX permission bits to check
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	bad := st.Mode().Perm() & forbidden
	if bad == 0 {
		return nil
	}
	return &PermissionError{Path: path, Mode: st.Mode(), Problem: describe(bad), Fix: "chmod " + chmod + " " + path}
}

// describe says what the permission bits in bad allow, and to whom.
func describe(bad fs.FileMode) string {
	who := func(group, other fs.FileMode) string {
		switch {
		case bad&group != 0 && bad&other != 0:
			return "group and others"
		case bad&group != 0:
			return "group"
		default:
			return "others"
		}
	}
	var parts []string
	if bad&0o022 != 0 {
		parts = append(parts, "writable by "+who(0o020, 0o002))
	}
	if bad&0o055 != 0 {
		parts = append(parts, "accessible to "+who(0o050, 0o005))
	}
	return strings.Join(parts, " and ")
}

// checkPermissions refuses a state dir whose security-relevant parts
// others can change (see Open); readsPolicy says whether Open reads
// policy.json. It runs before Open creates or changes anything. The
// secrets dir is checked with checkPrivateDir; the master key file and its
// directory are checked by the secret store when it opens.
func (h *Host) checkPermissions(readsPolicy bool) error {
	writable := []string{
		h.dir, h.skillsDir(), h.installedDir(), h.stagingDir(),
		TrustStorePath(h.dir), filepath.Join(h.skillsDir(), trust.RevocationsFileName),
		h.journalPath(), h.cacheDir(),
	}
	if h.opts.CompilationCacheDir == "" {
		writable = append(writable, filepath.Dir(h.cacheDir()))
	}
	if readsPolicy {
		writable = append(writable, filepath.Join(h.dir, policyFileName))
	}
	for _, p := range writable {
		if err := checkNotWritableByOthers(p); err != nil {
			return err
		}
	}
	return checkPrivateDir(h.secretsDir())
}
