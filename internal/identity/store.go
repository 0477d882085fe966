package identity

import (
	"context"
	"errors"
)

// ErrNotFound: the store holds no value under the key.
var ErrNotFound = errors.New("identity: not found")

// SecretStore keeps identity material (keys, certificates, CA state) by
// name. Implementations must write atomically and keep values private to
// the owner; internal/secrets' filesystem store is the production one.
type SecretStore interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key, replacing any previous value.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Locker is implemented by a SecretStore that can serialize
// read-modify-write cycles across processes (the daemon pairing while the
// CLI approves or revokes). The Manager holds the lock around every
// registry update; a store without Locker gets an in-process mutex only.
type Locker interface {
	// Lock blocks until the store's writer lock is held or ctx is done,
	// and returns the function that releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}
