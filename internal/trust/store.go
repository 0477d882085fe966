package trust

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/lockfile"
	"github.com/palyra/palyra-go/internal/signing"
)

// File names in <state>/skills/.
const (
	// FileName is Palyra's trust store.
	FileName = "trust-store.json"
	// RevocationsFileName is palyra-go's list of revoked keys, kept apart
	// because Palyra rejects unknown fields in FileName.
	RevocationsFileName = "trust-revocations.json"
)

// Decision is how a publisher key came to be trusted. The values are
// Palyra's TrustDecision names.
type Decision string

const (
	Allowlisted     Decision = "allowlisted"
	TofuPinned      Decision = "tofu_pinned"
	TofuNewlyPinned Decision = "tofu_newly_pinned"
)

// Errors a caller tells apart with errors.Is. Decision failures come as a
// *DecisionError wrapping one of the first three.
var (
	// ErrUntrustedPublisher: the publisher is neither allowlisted nor
	// pinned, and trust on first use was not allowed.
	ErrUntrustedPublisher = errors.New("untrusted publisher")
	// ErrKeyMismatch: the publisher is known, but not with this key.
	ErrKeyMismatch = errors.New("publisher key mismatch")
	// ErrKeyRevoked: the key has been revoked.
	ErrKeyRevoked = errors.New("publisher key revoked")
	// ErrInvalidPublisher: a publisher id breaks Palyra's rule [a-z0-9._:-].
	ErrInvalidPublisher = errors.New("invalid publisher id")
	// ErrInvalidKeyID: a key id is not "ed25519:" + 16 hex digits.
	ErrInvalidKeyID = errors.New("invalid key id")
	// ErrKeyNotFound: Remove matched no key.
	ErrKeyNotFound = errors.New("key not in trust store")
)

// DecisionError says which publisher and key a trust failure is about.
type DecisionError struct {
	Publisher string
	KeyID     string // the presented key's id
	Detail    string // what the store holds instead, for the operator
	Err       error  // ErrUntrustedPublisher, ErrKeyMismatch or ErrKeyRevoked
}

func (e *DecisionError) Error() string {
	s := fmt.Sprintf("%v: publisher %q, key %s", e.Err, e.Publisher, e.KeyID)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *DecisionError) Unwrap() error { return e.Err }

// DecideOptions tune a trust decision.
type DecideOptions struct {
	// AllowTOFU lets an unknown publisher be pinned to the presented key.
	AllowTOFU bool
}

// Store is a trust store on disk. It holds no contents in memory: every
// call reads the files under a lock, so several Stores, in one process or
// many, on the same files see each other's changes. A Store is safe for
// concurrent use.
type Store struct {
	path     string // trust-store.json
	revPath  string // trust-revocations.json
	lockPath string // trust-store.json.lock
	// writer serializes this Store's writers before they contend for the
	// flock; it is a channel so that waiting honours a context.
	writer chan struct{}
}

// Open returns the store whose Palyra file is path; the revocations file is
// RevocationsFileName in the same directory. Missing files are an empty
// store (nothing is created until the first write). Files that exist must
// parse: the error names the file and the problem.
func Open(path string) (*Store, error) {
	path = filepath.Clean(path)
	dir := filepath.Dir(path)
	s := &Store{
		path:     path,
		revPath:  filepath.Join(dir, RevocationsFileName),
		lockPath: path + ".lock",
		writer:   make(chan struct{}, 1),
	}
	if _, _, err := s.read(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the trust-store.json path the store was opened with.
func (s *Store) Path() string { return s.path }

// Evaluate applies the decision rules without writing anything, not even
// the lock file: for an unknown publisher with opts.AllowTOFU it returns
// TofuNewlyPinned but pins nothing.
func (s *Store) Evaluate(ctx context.Context, publisher string, key ed25519.PublicKey, opts DecideOptions) (Decision, error) {
	if err := checkInput(publisher, key); err != nil {
		return "", err
	}
	var d Decision
	err := s.withReadLock(ctx, func(st *storeFile, rev *revocationsFile) error {
		var err error
		d, err = decide(st, rev, publisher, key, opts)
		return err
	})
	return d, err
}

// Decide applies the decision rules and, on TofuNewlyPinned, pins key for
// publisher. The read, the decision and the write happen under one
// exclusive lock, so of several processes pinning different keys for one
// publisher at once exactly one gets TofuNewlyPinned and the others
// ErrKeyMismatch.
func (s *Store) Decide(ctx context.Context, publisher string, key ed25519.PublicKey, opts DecideOptions) (Decision, error) {
	if err := checkInput(publisher, key); err != nil {
		return "", err
	}
	var d Decision
	err := s.update(ctx, func(st *storeFile, rev *revocationsFile) (bool, bool, error) {
		var err error
		d, err = decide(st, rev, publisher, key, opts)
		if err != nil || d != TofuNewlyPinned {
			return false, false, err
		}
		st.Tofu[publisher] = signing.PublicKeyHex(key)
		return true, false, nil
	})
	if err != nil {
		return "", err
	}
	return d, nil
}

// AddTrusted allowlists key for publisher (Palyra's add_trusted_key). It is
// idempotent; a publisher's keys stay sorted and unique. A revoked key is
// refused, since it could never be used.
func (s *Store) AddTrusted(ctx context.Context, publisher string, key ed25519.PublicKey) error {
	if err := checkInput(publisher, key); err != nil {
		return err
	}
	return s.update(ctx, func(st *storeFile, rev *revocationsFile) (bool, bool, error) {
		id := signing.KeyID(key)
		if rev.isRevoked(id) {
			return false, false, &DecisionError{Publisher: publisher, KeyID: id, Detail: "revoked keys cannot be allowlisted", Err: ErrKeyRevoked}
		}
		h := signing.PublicKeyHex(key)
		keys := st.Trusted[publisher]
		if slices.Contains(keys, h) {
			return false, false, nil
		}
		keys = append(keys, h)
		slices.Sort(keys)
		st.Trusted[publisher] = keys
		return true, false, nil
	})
}

// Remove deletes the key with Palyra key id keyID from publisher's
// allowlist and TOFU pin. A publisher left with no allowlisted key leaves
// the allowlist (Palyra refuses an empty list). It is an error, wrapping
// ErrKeyNotFound, when nothing matched.
func (s *Store) Remove(ctx context.Context, publisher, keyID string) error {
	if err := validatePublisher(publisher); err != nil {
		return err
	}
	id, err := validateKeyID(keyID)
	if err != nil {
		return err
	}
	return s.update(ctx, func(st *storeFile, _ *revocationsFile) (bool, bool, error) {
		changed := false
		if keys, ok := st.Trusted[publisher]; ok {
			kept := slices.DeleteFunc(keys, func(h string) bool { return hexKeyID(h) == id })
			if len(kept) != len(keys) {
				changed = true
			}
			if len(kept) == 0 {
				delete(st.Trusted, publisher)
			} else {
				st.Trusted[publisher] = kept
			}
		}
		if h, ok := st.Tofu[publisher]; ok && hexKeyID(h) == id {
			delete(st.Tofu, publisher)
			changed = true
		}
		if !changed {
			return false, false, fmt.Errorf("%w: publisher %q has no key %s", ErrKeyNotFound, publisher, id)
		}
		return true, false, nil
	})
}

// Revoke marks the key with id keyID as revoked. From then on every
// decision about that key fails with ErrKeyRevoked, for publisher and for
// any other publisher name. The key stays in the lists, so a TOFU-pinned
// publisher stays pinned and cannot be re-pinned to whatever key comes
// next. The key need not be in the store yet (a publisher may announce a
// leaked key before anyone has seen it); revoking twice is a no-op.
func (s *Store) Revoke(ctx context.Context, publisher, keyID string) error {
	if err := validatePublisher(publisher); err != nil {
		return err
	}
	id, err := validateKeyID(keyID)
	if err != nil {
		return err
	}
	return s.update(ctx, func(_ *storeFile, rev *revocationsFile) (bool, bool, error) {
		if rev.isRevoked(id) {
			return false, false, nil
		}
		rev.Revoked = append(rev.Revoked, Revocation{Publisher: publisher, KeyID: id, RevokedAtUnixMS: time.Now().UnixMilli()})
		rev.sort()
		return false, true, nil
	})
}

// KeyKind says which list a key is in.
type KeyKind string

const (
	KindAllowlisted KeyKind = "allowlisted"
	KindTofu        KeyKind = "tofu"
)

// Key is one publisher key as listed by Snapshot.
type Key struct {
	Publisher    string  `json:"publisher"`
	Kind         KeyKind `json:"kind"`
	KeyID        string  `json:"key_id"`
	PublicKeyHex string  `json:"public_key_hex"`
	Revoked      bool    `json:"revoked"`
}

// Snapshot is the whole store at one moment, for listing.
type Snapshot struct {
	// Keys are sorted by publisher, allowlisted before TOFU, then by key.
	Keys []Key `json:"keys"`
	// Revocations are sorted by key id; some may name keys not in Keys.
	Revocations []Revocation `json:"revocations"`
}

// Snapshot reads the store. It writes nothing.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{Keys: []Key{}, Revocations: []Revocation{}}
	err := s.withReadLock(ctx, func(st *storeFile, rev *revocationsFile) error {
		add := func(pub string, kind KeyKind, h string) {
			id := hexKeyID(h)
			snap.Keys = append(snap.Keys, Key{Publisher: pub, Kind: kind, KeyID: id, PublicKeyHex: h, Revoked: rev.isRevoked(id)})
		}
		for pub, keys := range st.Trusted {
			for _, h := range keys {
				add(pub, KindAllowlisted, h)
			}
		}
		for pub, h := range st.Tofu {
			add(pub, KindTofu, h)
		}
		snap.Revocations = append(snap.Revocations, rev.Revoked...)
		return nil
	})
	slices.SortFunc(snap.Keys, func(a, b Key) int {
		if a.Publisher != b.Publisher {
			return cmp.Compare(a.Publisher, b.Publisher)
		}
		if a.Kind != b.Kind {
			return cmp.Compare(string(a.Kind), string(b.Kind)) // "allowlisted" < "tofu"
		}
		return cmp.Compare(a.PublicKeyHex, b.PublicKeyHex)
	})
	return snap, err
}

func checkInput(publisher string, key ed25519.PublicKey) error {
	if err := validatePublisher(publisher); err != nil {
		return err
	}
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", signing.ErrInvalidKey, len(key), ed25519.PublicKeySize)
	}
	return nil
}

// hexKeyID is the key id of a normalized hex key from the store; keys in a
// storeFile were validated when parsed or added.
func hexKeyID(h string) string {
	b, _ := hex.DecodeString(h)
	return signing.KeyID(b)
}

// decide is the decision rule of the package doc, on parsed contents.
func decide(st *storeFile, rev *revocationsFile, publisher string, key ed25519.PublicKey, opts DecideOptions) (Decision, error) {
	id := signing.KeyID(key)
	h := signing.PublicKeyHex(key)
	fail := func(err error, detail string) (Decision, error) {
		return "", &DecisionError{Publisher: publisher, KeyID: id, Detail: detail, Err: err}
	}
	if rev.isRevoked(id) {
		return fail(ErrKeyRevoked, "")
	}
	if keys, ok := st.Trusted[publisher]; ok {
		if slices.Contains(keys, h) {
			return Allowlisted, nil
		}
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = hexKeyID(k)
		}
		return fail(ErrKeyMismatch, fmt.Sprintf("publisher is allowlisted with keys %v only", ids))
	}
	if pinned, ok := st.Tofu[publisher]; ok {
		if pinned == h {
			return TofuPinned, nil
		}
		return fail(ErrKeyMismatch, fmt.Sprintf("publisher is pinned to key %s", hexKeyID(pinned)))
	}
	if opts.AllowTOFU {
		return TofuNewlyPinned, nil
	}
	return fail(ErrUntrustedPublisher, "publisher is neither allowlisted nor pinned, and trust on first use is off")
}

// read loads both files without locking.
func (s *Store) read() (*storeFile, *revocationsFile, error) {
	st := newStoreFile()
	rev := &revocationsFile{}
	data, err := readLimited(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("trust store: %w", err)
	default:
		if st, err = parseStoreFile(data); err != nil {
			return nil, nil, fmt.Errorf("trust store %s: %w", s.path, err)
		}
	}
	data, err = readLimited(s.revPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("trust store: %w", err)
	default:
		if rev, err = parseRevocationsFile(data); err != nil {
			return nil, nil, fmt.Errorf("trust revocations %s: %w", s.revPath, err)
		}
	}
	return st, rev, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// withReadLock reads both files under a shared lock, so that a reader sees
// them as one writer left them. The lock file is opened read-only and not
// created: when it does not exist no writer has run, and a reader must work
// on a read-only state directory.
func (s *Store) withReadLock(ctx context.Context, fn func(*storeFile, *revocationsFile) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lf, err := os.Open(s.lockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("trust store lock: %w", err)
	default:
		defer lf.Close()
		if err := lockfile.LockFile(ctx, lf, false); err != nil {
			return fmt.Errorf("trust store: %w", err)
		}
		defer lockfile.UnlockFile(lf)
	}
	st, rev, err := s.read()
	if err != nil {
		return err
	}
	return fn(st, rev)
}

// update runs fn on freshly read contents under the in-process writer slot
// and the exclusive file lock, then writes back whichever files fn reports
// changed.
func (s *Store) update(ctx context.Context, fn func(*storeFile, *revocationsFile) (storeChanged, revChanged bool, err error)) error {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return fmt.Errorf("trust store: %w", context.Cause(ctx))
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	lf, err := os.OpenFile(s.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("trust store lock: %w", err)
	}
	defer lf.Close()
	if err := lockfile.LockFile(ctx, lf, true); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	defer lockfile.UnlockFile(lf)

	st, rev, err := s.read()
	if err != nil {
		return err
	}
	storeChanged, revChanged, err := fn(st, rev)
	if err != nil {
		return err
	}
	if storeChanged {
		data, err := st.encode()
		if err != nil {
			return fmt.Errorf("trust store: encode: %w", err)
		}
		if err := atomicfile.WriteFile(s.path, data, 0o600); err != nil {
			return fmt.Errorf("trust store: %w", err)
		}
	}
	if revChanged {
		data, err := rev.encode()
		if err != nil {
			return fmt.Errorf("trust revocations: encode: %w", err)
		}
		if err := atomicfile.WriteFile(s.revPath, data, 0o600); err != nil {
			return fmt.Errorf("trust revocations: %w", err)
		}
	}
	return nil
}
