package host

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palyra/palyra-go/internal/audit"
	"github.com/palyra/palyra-go/internal/egress"
	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/lockfile"
	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/internal/secrets"
	"github.com/palyra/palyra-go/internal/trust"
)

// EnvStateDir names the environment variable that overrides the default
// state directory.
const EnvStateDir = "PALYRA_HOME"

// Version is the palyra version this host reports to a skill's
// [compat] table, and ProtocolMajor the skill protocol it speaks.
const (
	Version       = "0.1.0"
	ProtocolMajor = 1
)

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

// AuditPolicy is the operator's limits for the static audit; its zero value
// is the safe default (see DefaultAuditPolicy).
type AuditPolicy = audit.Policy

// DefaultAuditPolicy returns the default audit limits.
func DefaultAuditPolicy() AuditPolicy { return audit.DefaultPolicy() }

// Options configure a Host. The zero value is ready to use.
type Options struct {
	// Logger receives the host's decisions; nil discards them.
	Logger *slog.Logger
	// Policy is the operator's policy (quotas, network, audit limits); nil
	// reads <state>/policy.json, and a missing file means the defaults.
	Policy *Policy
	// Principal names who acts when an operation does not say (recorded in
	// the journal); default "host".
	Principal string

	// CompilationCacheDir keeps skills' compiled machine code, so that a
	// restart does not recompile them (default <state>/cache/wazero,
	// created with mode 0700). Hosts may share one.
	CompilationCacheDir string

	// SecretsKeyFile is the file holding the secrets' master key (default
	// $PALYRA_SECRETS_KEY_FILE, else <state>/identity/secrets.key, which
	// is created on first use; a file named here must exist). It must be
	// mode 0600 and outside <state>/secrets.
	SecretsKeyFile string

	// JournalPollInterval bounds how long a change another process makes
	// to a skill (quarantine, removal, upgrade, grants) takes to reach
	// this host's calls (0: DefaultJournalPollInterval). Changes made
	// through this Host apply at once.
	JournalPollInterval time.Duration

	// resolver and rootCAs, in tests, replace DNS and the system roots
	// for skills' HTTP egress.
	resolver egress.Resolver
	rootCAs  *x509.CertPool

	// crashPoint, in tests, is called at each step of an install so that
	// a child process can kill itself there.
	crashPoint func(step string)
	// loadHook, in tests, is called when a skill's load starts, in the
	// goroutine that loads it, with the load's context.
	loadHook func(ctx context.Context, skillID string)
}

// Host is an opened state directory. It is safe for concurrent use by
// goroutines, and several processes may open the same state dir: installs
// serialize on a lock file, the trust store and the journal lock
// themselves.
type Host struct {
	dir     string
	opts    Options
	policy  Policy
	log     *slog.Logger
	trust   *trust.Store
	journal *journal.Journal

	// Running skills (run.go). skills is the loaded skills by id, a map
	// never changed once stored (changes store a new one), so that a call
	// looks its skill up with one atomic load and no lock: a read lock
	// taken by every call was a counter every call wrote. runMu
	// serializes the changes and the setting of runClosed; loadMu guards
	// loading and loadCtx, the loads in progress by skill id (one at most
	// per skill; a load never holds a host-wide lock while it compiles);
	// loads counts them for Close; rtMu guards the lazily made rt and
	// secrets.
	runMu      sync.Mutex
	skills     atomic.Pointer[map[string]*loadedSkill]
	runClosed  atomic.Bool
	loadMu     sync.Mutex
	loading    map[string]*pendingLoad
	loadCtx    context.Context
	loadCancel context.CancelFunc
	loads      sync.WaitGroup
	rtMu       sync.Mutex
	rt         *runtime.Runtime
	secrets    *secrets.Store
	callSeq    atomic.Uint64

	// idMu guards ident, the identity layer made on first use (identity.go).
	idMu  sync.Mutex
	ident *Identity
}

// Open opens (creating if needed, mode 0700) the state directory dir and
// finishes or rolls back any install a crash interrupted. A state dir in
// the legacy layout (skills beside the state files) is moved to the
// current one (layout.go).
//
// Open refuses, with a *PermissionError (ErrInsecurePermissions) and
// before it changes anything, a state dir, skills dirs, policy.json, trust
// store, journal or compilation cache dir that its group or other users
// can write, and a secrets dir they can read; and, with an error wrapping
// ErrJournalCorrupt, a journal file that is empty, unreadable or corrupt,
// and with ErrJournalMissing a missing one while skills are installed.
func Open(ctx context.Context, dir string, opts Options) (*Host, error) {
	if dir == "" {
		return nil, errors.New("host: empty state dir")
	}
	if opts.Principal == "" {
		opts.Principal = "host"
	}
	h := &Host{dir: dir, opts: opts, log: opts.Logger}
	h.skills.Store(new(map[string]*loadedSkill))
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if err := h.checkPermissions(opts.Policy == nil); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if err := os.MkdirAll(h.stagingDir(), 0o700); err != nil {
		return nil, fmt.Errorf("host: state dir: %w", err)
	}
	var err error
	if opts.Policy != nil {
		h.policy = *opts.Policy
	} else if h.policy, err = readPolicy(dir); err != nil {
		return nil, fmt.Errorf("host: policy: %w", err)
	}
	if err := checkSchemaMode(h.policy.ToolSchemas); err != nil {
		return nil, fmt.Errorf("host: policy: %w", err)
	}
	// The layout upgrade runs before the trust store is read: a legacy
	// skill dir may sit where the trust store's files belong.
	if err := h.withInstallLock(ctx, h.openJournal); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.trust, err = trust.Open(TrustStorePath(dir)); err != nil {
		h.journal.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	if hasLegacySecretsKey(dir) {
		// Move the key out of the secrets dir now, not at first use.
		if _, err := h.secretStore(); err != nil {
			h.journal.Close()
			return nil, err
		}
	}
	return h, nil
}

// ErrJournalCorrupt: the journal file exists but is empty, unreadable or
// corrupt; Open changed nothing.
var ErrJournalCorrupt = journal.ErrCorrupt

// ErrJournalMissing: the journal file is gone while skills are installed;
// Open changed nothing.
var ErrJournalMissing = errors.New("journal missing while skills are installed")

// checkJournalNotLost refuses to start a fresh journal beside installed
// skills: recovery deletes every skill dir the journal does not name.
func (h *Host) checkJournalNotLost() error {
	if _, err := os.Lstat(h.journalPath()); !errors.Is(err, fs.ErrNotExist) {
		return nil // present (journal.Open checks it) or unreadable (and says so)
	}
	entries, err := os.ReadDir(h.installedDir())
	if err != nil || len(entries) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s does not exist but %s holds %d skill(s); restore the journal from a backup, or remove %s to start over",
		ErrJournalMissing, h.journalPath(), h.installedDir(), len(entries), h.installedDir())
}

// openJournal, under the install lock, opens the journal, moves a legacy
// state dir to the current layout and recovers from interrupted installs.
func (h *Host) openJournal(ctx context.Context) (err error) {
	if err := h.upgradeJournalSideDirs(); err != nil {
		return fmt.Errorf("upgrade state dir layout: %w", err)
	}
	if err := h.checkJournalNotLost(); err != nil {
		return err
	}
	if h.journal, err = journal.Open(ctx, h.journalPath()); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			h.journal.Close()
		}
	}()
	if err := os.MkdirAll(h.installedDir(), 0o700); err != nil {
		return err
	}
	if err := h.upgradeLayout(ctx); err != nil {
		return fmt.Errorf("upgrade state dir layout: %w", err)
	}
	if err := h.recover(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	return nil
}

// Dir returns the state directory.
func (h *Host) Dir() string { return h.dir }

// TrustStore returns the publisher trust store of the state dir.
func (h *Host) TrustStore() *TrustStore { return h.trust }

// Close stops the calls in progress (they fail with ErrClosed) and
// releases the host's resources.
func (h *Host) Close() error {
	err := h.closeRuntime()
	if jerr := h.journal.Close(); err == nil {
		err = jerr
	}
	return err
}

// withInstallLock runs fn holding the state dir's install lock, which
// serializes installs, removals and recovery across processes.
func (h *Host) withInstallLock(ctx context.Context, fn func(context.Context) error) error {
	l, err := lockfile.Acquire(ctx, filepath.Join(h.skillsDir(), installLockName), true)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return fn(ctx)
}

func (h *Host) principal(p string) string {
	if p != "" {
		return p
	}
	return h.opts.Principal
}

func (h *Host) crash(step string) {
	if h.opts.crashPoint != nil {
		h.opts.crashPoint(step)
	}
}

// auditPolicy is the policy's audit limits (zero fields: defaults).
func (h *Host) auditPolicy() audit.Policy {
	if h.policy.Audit != nil {
		return *h.policy.Audit
	}
	return audit.Policy{}
}
