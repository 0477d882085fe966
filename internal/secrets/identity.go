package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// IdentityScope is the reserved scope identity material (device keys, CA
// state) is kept under. It is not a Palyra secret scope: ParseRef and
// Set/Get/Delete refuse it, List skips it, and no grant can name it, so a
// skill can never be granted identity material. Only the *Identity
// methods reach it; internal/identity adapts them to its SecretStore.
const IdentityScope = "identity"

// ErrExists: CreateIdentity found a value already stored under the key.
var ErrExists = errors.New("secret already exists")

// SetIdentity stores identity material under key (a key as Ref allows),
// replacing any previous value atomically, sealed like every secret.
func (s *Store) SetIdentity(ctx context.Context, key string, value []byte) error {
	r, err := s.beginIdentity(ctx, key)
	if err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("secrets: set %s: %w: %d bytes, limit %d", r, ErrTooLarge, len(value), MaxValueBytes)
	}
	return s.writeSealed(r, value)
}

// CreateIdentity stores identity material under key only if nothing is
// stored there yet; otherwise it fails with an error wrapping ErrExists.
// The file is linked into place whole (link(2) fails if the name exists),
// so of several goroutines or processes creating one key, exactly one
// succeeds and the rest see ErrExists.
func (s *Store) CreateIdentity(ctx context.Context, key string, value []byte) error {
	r, err := s.beginIdentity(ctx, key)
	if err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("secrets: create %s: %w: %d bytes, limit %d", r, ErrTooLarge, len(value), MaxValueBytes)
	}
	if err := createOnce(s.dir, filepath.Join(s.dir, fileName(r)), s.seal(r, value)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("secrets: create %s: %w", r, ErrExists)
		}
		return fmt.Errorf("secrets: create %s: %w", r, err)
	}
	return nil
}

// GetIdentity returns the identity material stored under key, or an error
// wrapping ErrNotFound.
func (s *Store) GetIdentity(ctx context.Context, key string) ([]byte, error) {
	r, err := s.beginIdentity(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.readSealed(r)
}

// DeleteIdentity removes the identity material under key, or returns an
// error wrapping ErrNotFound.
func (s *Store) DeleteIdentity(ctx context.Context, key string) error {
	r, err := s.beginIdentity(ctx, key)
	if err != nil {
		return err
	}
	return s.remove(r)
}

// beginIdentity is begin for the reserved scope: the key follows the
// usual key rule, the scope is IdentityScope, which validate refuses.
func (s *Store) beginIdentity(ctx context.Context, key string) (Ref, error) {
	if err := ctx.Err(); err != nil {
		return Ref{}, err
	}
	r := Ref{Scope: IdentityScope, Key: key}
	if msg := keyProblem(key); msg != "" {
		return Ref{}, fmt.Errorf("secrets: %w: key %q %s", ErrInvalidRef, key, msg)
	}
	if err := s.checkDir(); err != nil {
		return Ref{}, err
	}
	return r, nil
}
