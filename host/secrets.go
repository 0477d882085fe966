package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/internal/secrets"
)

// EnvSecretsKeyFile names the environment variable with which an operator
// keeps the secrets' master key elsewhere than the default
// <state>/identity/secrets.key: the path of an existing file holding the
// key (32 raw bytes, or 64 hex digits), mode 0600, in a directory group
// and others cannot write. Options.SecretsKeyFile, when set, wins.
const EnvSecretsKeyFile = "PALYRA_SECRETS_KEY_FILE"

// The secrets' master key lives apart from the secrets it seals, so that
// a copy of <state>/secrets alone (a backup, a synced folder) decrypts
// nothing.
const (
	identityDirName    = "identity"
	secretsKeyFileName = "secrets.key"
)

// SecretsKeyPath returns where a state dir keeps the secrets' master key
// by default: <state>/identity/secrets.key (0600, in a 0700 directory),
// created with a random key on first use.
func SecretsKeyPath(stateDir string) string {
	return filepath.Join(stateDir, identityDirName, secretsKeyFileName)
}

// SecretRef names one secret: a scope (global, principal:ID, channel:ID
// or skill:ID) and a key.
type SecretRef = secrets.Ref

// ParseSecretRef parses "scope/key".
func ParseSecretRef(s string) (SecretRef, error) { return secrets.ParseRef(s) }

// Secret store errors callers tell apart with errors.Is.
var (
	ErrSecretNotFound   = secrets.ErrNotFound
	ErrSecretNotGranted = secrets.ErrSecretNotGranted
	// ErrInsecurePermissions: a secret file, the secret store or the
	// master key file is accessible to group or others (the key's
	// directory: writable by them); the error names the path and mode.
	ErrInsecurePermissions = secrets.ErrInsecurePermissions
	// ErrNoSecretsKey: the master key file named by
	// Options.SecretsKeyFile or $PALYRA_SECRETS_KEY_FILE does not exist.
	ErrNoSecretsKey = secrets.ErrNoMasterKey
	// ErrSecretsKeyConflict: <state>/secrets/master.key, left by an older
	// version, holds another key than the master key file.
	ErrSecretsKeyConflict = secrets.ErrMasterKeyConflict
)

// openSecretStore opens <state>/secrets with its master key from
// Options.SecretsKeyFile, else $PALYRA_SECRETS_KEY_FILE (both must exist),
// else SecretsKeyPath (created on first use). A master.key an older
// version left inside <state>/secrets is moved to the key file.
func (h *Host) openSecretStore() (*secrets.Store, error) {
	opts := secrets.Options{MasterKeyFile: h.opts.SecretsKeyFile}
	if opts.MasterKeyFile == "" {
		opts.MasterKeyFile = os.Getenv(EnvSecretsKeyFile)
	}
	if opts.MasterKeyFile == "" {
		opts.MasterKeyFile, opts.CreateMasterKey = SecretsKeyPath(h.dir), true
	}
	s, err := secrets.Open(filepath.Join(h.dir, secretsDirName), opts)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return s, nil
}

// hasLegacySecretsKey reports whether <state>/secrets still holds the
// master key an older version kept there; Open then moves it at once
// rather than on the first use of a secret.
func hasLegacySecretsKey(stateDir string) bool {
	_, err := os.Lstat(filepath.Join(stateDir, secretsDirName, secrets.LegacyMasterKeyFile))
	return !errors.Is(err, fs.ErrNotExist)
}

// SetSecret stores a secret in the state dir's encrypted secret store
// (<state>/secrets), where skills granted scope/key can read it.
func (h *Host) SetSecret(ctx context.Context, scope, key string, value []byte) error {
	s, err := h.secretStore()
	if err != nil {
		return err
	}
	if err := s.Set(ctx, scope, key, value); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	h.log.Info("secret set", "scope", scope, "key", key)
	return nil
}

// DeleteSecret removes a secret.
func (h *Host) DeleteSecret(ctx context.Context, scope, key string) error {
	s, err := h.secretStore()
	if err != nil {
		return err
	}
	if err := s.Delete(ctx, scope, key); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	h.log.Info("secret deleted", "scope", scope, "key", key)
	return nil
}

// ListSecrets lists the stored secrets' refs (never their values).
func (h *Host) ListSecrets(ctx context.Context) ([]SecretRef, error) {
	s, err := h.secretStore()
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}
