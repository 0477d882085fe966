package identity

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/oklog/ulid/v2"
)

// DeviceKey is the SecretStore key a device identity is kept under.
const DeviceKey = "device/identity"

// ErrCorrupt: a stored value cannot be decoded or fails validation.
var ErrCorrupt = errors.New("identity: stored value corrupt")

// DeviceIdentity is this machine's identity: a device id and the Ed25519
// key that proves it.
type DeviceIdentity struct {
	id  string
	key ed25519.PrivateKey
}

// ID returns the device id, a canonical ULID (26 upper-case Crockford
// base32 characters).
func (d *DeviceIdentity) ID() string { return d.id }

// PublicKey returns the Ed25519 public key.
func (d *DeviceIdentity) PublicKey() ed25519.PublicKey {
	return d.key.Public().(ed25519.PublicKey)
}

// Signer returns the signing key. It is the secret half of the identity:
// never log or print it.
func (d *DeviceIdentity) Signer() ed25519.PrivateKey { return d.key }

// Fingerprint returns lowercase hex(sha256(public key)), as Palyra does.
func (d *DeviceIdentity) Fingerprint() string {
	sum := sha256.Sum256(d.PublicKey())
	return hex.EncodeToString(sum[:])
}

// NewDeviceIdentity makes a fresh identity: a ULID drawn from the current
// time and crypto/rand, and an Ed25519 key from crypto/rand.
func NewDeviceIdentity() (*DeviceIdentity, error) {
	id, err := ulid.New(ulid.Now(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: device id: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: device key: %w", err)
	}
	return &DeviceIdentity{id: id.String(), key: key}, nil
}

// deviceRecord is the stored form: strict JSON
//
//	{"version":1,"device_id":"<ULID>","signing_key":"<base64 std>"}
//
// where signing_key is the 64-byte Ed25519 private key (seed followed by
// public key). Unknown fields, trailing data, another version, a
// non-canonical id, a key of another length, or a public half that does
// not match the seed are all ErrCorrupt.
type deviceRecord struct {
	Version    int    `json:"version"`
	DeviceID   string `json:"device_id"`
	SigningKey []byte `json:"signing_key"`
}

func (d *DeviceIdentity) marshal() []byte {
	b, err := json.Marshal(deviceRecord{Version: 1, DeviceID: d.id, SigningKey: d.key})
	if err != nil {
		panic(err) // a struct of string, int and []byte always marshals
	}
	return b
}

func unmarshalDevice(data []byte) (*DeviceIdentity, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r deviceRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the record", ErrCorrupt)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, want 1", ErrCorrupt, r.Version)
	}
	if !isCanonicalULID(r.DeviceID) {
		return nil, fmt.Errorf("%w: device id %q is not a canonical ULID", ErrCorrupt, r.DeviceID)
	}
	if len(r.SigningKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: signing key is %d bytes, want %d", ErrCorrupt, len(r.SigningKey), ed25519.PrivateKeySize)
	}
	key := ed25519.PrivateKey(r.SigningKey)
	if !bytes.Equal(ed25519.NewKeyFromSeed(key.Seed()), key) {
		return nil, fmt.Errorf("%w: signing key's public half does not match its seed", ErrCorrupt)
	}
	return &DeviceIdentity{id: r.DeviceID, key: key}, nil
}

// isCanonicalULID reports whether s is a ULID in the form ulid.String
// writes: 26 upper-case Crockford characters, first at most '7'.
func isCanonicalULID(s string) bool {
	id, err := ulid.ParseStrict(s)
	return err == nil && id.String() == s
}

// LoadOrCreate returns the device identity kept in store under DeviceKey,
// creating and storing one the first time. A stored value that does not
// decode is an error naming the key and wrapping ErrCorrupt; it is never
// replaced, since replacing it would silently change the device's
// identity and orphan its certificates.
//
// Concurrent callers on one store end with one identity when store
// implements Creator (SecretsStore does, across processes too): the
// loser of the create sees ErrExists and loads the winner's. A store
// without Creator gets Put followed by a re-read, which returns whatever
// was last written but cannot rule out two racers each keeping its own.
func LoadOrCreate(ctx context.Context, store SecretStore) (*DeviceIdentity, error) {
	d, err := loadDevice(ctx, store)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return d, err
	}
	fresh, err := NewDeviceIdentity()
	if err != nil {
		return nil, err
	}
	if c, ok := store.(Creator); ok {
		err := c.Create(ctx, DeviceKey, fresh.marshal())
		if err == nil {
			return fresh, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("identity: store %q: %w", DeviceKey, err)
		}
		return loadDevice(ctx, store)
	}
	if err := store.Put(ctx, DeviceKey, fresh.marshal()); err != nil {
		return nil, fmt.Errorf("identity: store %q: %w", DeviceKey, err)
	}
	return loadDevice(ctx, store)
}

func loadDevice(ctx context.Context, store SecretStore) (*DeviceIdentity, error) {
	data, err := store.Get(ctx, DeviceKey)
	if err != nil {
		return nil, fmt.Errorf("identity: load %q: %w", DeviceKey, err)
	}
	d, err := unmarshalDevice(data)
	if err != nil {
		return nil, fmt.Errorf("identity: load %q: %w", DeviceKey, err)
	}
	return d, nil
}
