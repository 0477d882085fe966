package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/palyra/palyra-go/internal/identity"
)

// ErrNoIdentity: the state dir has no device identity or CA yet;
// InitIdentity (palyra identity init) makes them.
var ErrNoIdentity = errors.New("no device identity in the state dir (run 'palyra identity init')")

// Identity is the state dir's identity layer (docs/identity.md): this
// machine's device identity, the internal CA that certifies paired
// devices, and the Manager that mints pairing codes and keeps the device
// registry and its revocations. All of it lives in the state dir's secret
// store, under the reserved identity scope no skill can be granted.
type Identity struct {
	Device  *identity.DeviceIdentity
	CA      *identity.CertificateAuthority
	Manager *identity.Manager
}

// CAFingerprint returns lowercase hex(sha256(DER)) of the CA's root
// certificate: what a device pins, and what an operator compares.
func (id *Identity) CAFingerprint() string {
	sum := sha256.Sum256(id.CA.Root().Raw)
	return hex.EncodeToString(sum[:])
}

// InitIdentity returns the state dir's identity, creating the device
// identity and the CA first where they are absent; created reports
// whether it made either. It is idempotent, and processes racing on a
// fresh state dir end with one identity and one CA.
func (h *Host) InitIdentity(ctx context.Context) (id *Identity, created bool, err error) {
	return h.identity(ctx, true)
}

// Identity returns the state dir's identity, or an error wrapping
// ErrNoIdentity if InitIdentity has not made it. One Host hands out one
// Identity, so the Manager's rate limits span every caller.
func (h *Host) Identity(ctx context.Context) (*Identity, error) {
	id, _, err := h.identity(ctx, false)
	return id, err
}

func (h *Host) identity(ctx context.Context, create bool) (*Identity, bool, error) {
	h.idMu.Lock()
	defer h.idMu.Unlock()
	if h.ident != nil {
		return h.ident, false, nil
	}
	s, err := h.secretStore()
	if err != nil {
		return nil, false, err
	}
	store := identity.NewSecretsStore(s)
	// The lock makes check-then-create one step for every process on the
	// state dir, so that exactly one reports creating. (LoadOrCreate and
	// NewCA agree on one identity and one CA without it.)
	unlock, err := store.Lock(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("host: identity: %w", err)
	}
	defer unlock()
	missing := false
	for _, key := range []string{identity.DeviceKey, identity.CAKeyName, identity.CACertName} {
		_, err := store.Get(ctx, key)
		if errors.Is(err, identity.ErrNotFound) {
			missing = true
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("host: identity: %w", err)
		}
	}
	if missing && !create {
		return nil, false, fmt.Errorf("host: %w", ErrNoIdentity)
	}
	dev, err := identity.LoadOrCreate(ctx, store)
	if err != nil {
		return nil, false, fmt.Errorf("host: %w", err)
	}
	ca, err := identity.NewCA(ctx, store, identity.CAOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("host: %w", err)
	}
	// NewManager takes the store lock itself when it writes; holding it
	// here would deadlock, so it is released first.
	unlock()
	mgr, err := identity.NewManager(ctx, store, ca, identity.ManagerOptions{Logger: h.log})
	if err != nil {
		return nil, false, fmt.Errorf("host: %w", err)
	}
	if missing {
		h.log.Info("identity initialized", "device_id", dev.ID(), "fingerprint", dev.Fingerprint())
	}
	h.ident = &Identity{Device: dev, CA: ca, Manager: mgr}
	return h.ident, missing, nil
}
