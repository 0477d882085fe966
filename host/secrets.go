package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/palyra/palyra-go/internal/journal"
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
	s, err := secrets.Open(h.secretsDir(), opts)
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

// SecretEntry is one secret and the installed skills that may read it.
type SecretEntry struct {
	Scope string `json:"scope"`
	// Key is the key name; for a granted pattern ('*') that matches no
	// stored key, the pattern.
	Key string `json:"key"`
	// Stored: a value is stored. A secret granted but not stored is
	// listed too: the skills will read it once it is set.
	Stored bool `json:"stored"`
	// Readers are the skills whose current version is granted the
	// secret, by skill id.
	Readers []SecretReader `json:"readers"`
}

// SecretReader is a skill granted a secret.
type SecretReader struct {
	SkillID string `json:"skill_id"`
	Version string `json:"version"`
	// State is the skill's lifecycle state: only an eligible skill runs,
	// and so reads; a quarantined one does again once enabled.
	State State `json:"state"`
}

// SecretReaders answers "which skill can read which secret": every stored
// secret, and every secret granted to a skill, with the installed skills
// granted it (another skill's skill:ID secrets are never granted, whatever
// an older version recorded). Values are never read. Sorted by scope, then
// key.
func (h *Host) SecretReaders(ctx context.Context) ([]SecretEntry, error) {
	store, err := h.secretStore()
	if err != nil {
		return nil, err
	}
	refs, err := store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	entries := map[SecretRef]*SecretEntry{}
	for _, r := range refs {
		entries[r] = &SecretEntry{Scope: r.Scope, Key: r.Key, Stored: true, Readers: []SecretReader{}}
	}
	skills, err := h.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, sk := range skills {
		if sk.State == StateRemoved {
			continue
		}
		g, err := h.storedGrants(ctx, journal.Status{SkillID: sk.SkillID, Version: sk.Version})
		if err != nil {
			return nil, err
		}
		reader := SecretReader{SkillID: sk.SkillID, Version: sk.Version, State: sk.State}
		for _, sg := range g.Secrets {
			if foreignSecretScope(sk.SkillID, sg.Scope) {
				continue
			}
			for _, k := range sg.KeyNames {
				grant := secrets.Grant{Scope: sg.Scope, KeyNames: []string{k}}
				matched := false
				for _, r := range refs {
					if grant.Covers(r) {
						entries[r].Readers = append(entries[r].Readers, reader)
						matched = true
					}
				}
				if !matched {
					r := SecretRef{Scope: sg.Scope, Key: k}
					if entries[r] == nil {
						entries[r] = &SecretEntry{Scope: r.Scope, Key: r.Key, Readers: []SecretReader{}}
					}
					entries[r].Readers = append(entries[r].Readers, reader)
				}
			}
		}
	}
	out := make([]SecretEntry, 0, len(entries))
	for _, e := range entries {
		// A skill granted a key by name and by pattern is one reader.
		e.Readers = slices.CompactFunc(e.Readers, func(a, b SecretReader) bool { return a.SkillID == b.SkillID })
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b SecretEntry) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}
