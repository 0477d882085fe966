package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/palyra/palyra-go/internal/secrets"
)

// ErrExists: a Creator found a value already stored under the key.
var ErrExists = errors.New("identity: already exists")

// Creator is implemented by a SecretStore that can store a value only if
// the key is absent, atomically with respect to other writers (other
// processes included). LoadOrCreate uses it so that racing creators end
// with one identity; SecretsStore implements it.
type Creator interface {
	// Create stores value under key, or fails with an error wrapping
	// ErrExists if a value is already there.
	Create(ctx context.Context, key string, value []byte) error
}

// SecretsStore keeps identity material in internal/secrets' encrypted
// filesystem store, under its reserved scope secrets.IdentityScope, which
// no skill grant can name and secrets.Store.List does not show.
//
// Identity keys are [A-Za-z0-9._/-]+ (at most secrets.MaxKeyLen bytes);
// '/' is stored as ':' (which identity keys may not contain), so the
// mapping onto secrets' key names is injective and "device/identity"
// becomes the file "identity@device=identity".
type SecretsStore struct {
	s *secrets.Store
}

// NewSecretsStore adapts s to SecretStore, Creator and Locker.
func NewSecretsStore(s *secrets.Store) *SecretsStore { return &SecretsStore{s: s} }

var (
	_ SecretStore = (*SecretsStore)(nil)
	_ Creator     = (*SecretsStore)(nil)
	_ Locker      = (*SecretsStore)(nil)
)

// Lock implements Locker with the secret store's writer lock
// (secrets.Store.Lock): an exclusive flock(2) on the store directory's
// lock file on Unix, so the daemon and the CLI serialize their registry
// updates. Get, Put, Create and Delete take no lock and may be called
// while it is held.
func (a *SecretsStore) Lock(ctx context.Context) (unlock func(), err error) {
	return a.s.Lock(ctx)
}

func secretsKey(key string) (string, error) {
	if strings.Contains(key, ":") {
		return "", fmt.Errorf("identity: key %q: %w: ':' is reserved", key, secrets.ErrInvalidRef)
	}
	return strings.ReplaceAll(key, "/", ":"), nil
}

// Get implements SecretStore.
func (a *SecretsStore) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := secretsKey(key)
	if err != nil {
		return nil, err
	}
	v, err := a.s.GetIdentity(ctx, k)
	if errors.Is(err, secrets.ErrNotFound) {
		return nil, fmt.Errorf("identity: %q: %w", key, ErrNotFound)
	}
	return v, err
}

// Put implements SecretStore.
func (a *SecretsStore) Put(ctx context.Context, key string, value []byte) error {
	k, err := secretsKey(key)
	if err != nil {
		return err
	}
	return a.s.SetIdentity(ctx, k, value)
}

// Create implements Creator.
func (a *SecretsStore) Create(ctx context.Context, key string, value []byte) error {
	k, err := secretsKey(key)
	if err != nil {
		return err
	}
	err = a.s.CreateIdentity(ctx, k, value)
	if errors.Is(err, secrets.ErrExists) {
		return fmt.Errorf("identity: %q: %w", key, ErrExists)
	}
	return err
}

// Delete implements SecretStore; a missing key is not an error.
func (a *SecretsStore) Delete(ctx context.Context, key string) error {
	k, err := secretsKey(key)
	if err != nil {
		return err
	}
	if err := a.s.DeleteIdentity(ctx, k); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	return nil
}
