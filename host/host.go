package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/internal/trust"
)

// EnvStateDir names the environment variable that overrides the default
// state directory.
const EnvStateDir = "PALYRA_HOME"

// DefaultStateDir returns $PALYRA_HOME, or "palyra" under the user's config
// directory.
func DefaultStateDir() (string, error) {
	if d := os.Getenv(EnvStateDir); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("host: no state dir: set %s: %w", EnvStateDir, err)
	}
	return filepath.Join(cfg, "palyra"), nil
}

// Options configure a Host.
type Options struct{}

// Host is an opened state directory. It is safe for concurrent use.
type Host struct {
	dir   string
	trust *trust.Store
}

// Open opens (creating if needed, mode 0700) the state directory dir.
func Open(dir string, opts Options) (*Host, error) {
	if dir == "" {
		return nil, errors.New("host: empty state dir")
	}
	if err := os.MkdirAll(filepath.Join(dir, "skills"), 0o700); err != nil {
		return nil, fmt.Errorf("host: state dir: %w", err)
	}
	ts, err := trust.Open(TrustStorePath(dir))
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return &Host{dir: dir, trust: ts}, nil
}

// TrustStorePath is where a state dir keeps Palyra's trust-store.json.
func TrustStorePath(stateDir string) string {
	return filepath.Join(stateDir, "skills", "trust-store.json")
}

// Dir returns the state directory.
func (h *Host) Dir() string { return h.dir }

// TrustStore returns the publisher trust store of the state dir.
func (h *Host) TrustStore() *TrustStore { return h.trust }

// Close releases the host's resources.
func (h *Host) Close() error { return nil }
