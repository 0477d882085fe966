package host

import "github.com/palyra/palyra-go/internal/identity"

// IdentityStoreOf is h's secret store as identity sees it, for tests that
// stand in for a daemon's registry.
func IdentityStoreOf(h *Host) (*identity.SecretsStore, error) { return h.remoteStore() }
