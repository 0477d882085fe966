package host

import (
	"context"
	"fmt"

	"github.com/palyra/palyra-go/internal/secrets"
)

// SecretRef names one secret: a scope (global, principal:ID, channel:ID
// or skill:ID) and a key.
type SecretRef = secrets.Ref

// ParseSecretRef parses "scope/key".
func ParseSecretRef(s string) (SecretRef, error) { return secrets.ParseRef(s) }

// Secret store errors callers tell apart with errors.Is.
var (
	ErrSecretNotFound   = secrets.ErrNotFound
	ErrSecretNotGranted = secrets.ErrSecretNotGranted
)

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
