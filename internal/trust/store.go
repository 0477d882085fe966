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
// refused with a *DecisionError wrapping ErrKeyRevoked: the revocation
// stays in force until an operator lifts it with [Store.Reinstate].
func (s *Store) AddTrusted(ctx context.Context, publisher string, key ed25519.PublicKey) error {
	return s.addTrusted(ctx, publisher, key, false)
}

// Reinstate allowlists key for publisher like AddTrusted, lifting the
// key's revocation if it has one. The lifted revocation is kept in
// trust-revocations.json under lifted_revocations, with the time it was
// lifted, so the file still tells the key's history.
func (s *Store) Reinstate(ctx context.Context, publisher string, key ed25519.PublicKey) error {
	return s.addTrusted(ctx, publisher, key, true)
}

func (s *Store) addTrusted(ctx context.Context, publisher string, key ed25519.PublicKey, lift bool) error {
	if err := checkInput(publisher, key); err != nil {
		return err
	}
	return s.update(ctx, func(st *storeFile, rev *revocationsFile) (bool, bool, error) {
		id := signing.KeyID(key)
		revChanged := false
		if i := slices.IndexFunc(rev.Revoked, func(r Revocation) bool { return r.KeyID == id }); i >= 0 {
			if !lift {
				return false, false, &DecisionError{Publisher: publisher, KeyID: id,
					Detail: fmt.Sprintf("revoked at %s; a revoked key is allowlisted only when its revocation is lifted",
						time.UnixMilli(rev.Revoked[i].RevokedAtUnixMS).UTC().Format(time.RFC3339)),
					Err: ErrKeyRevoked}
			}
			rev.Lifted = append(rev.Lifted, LiftedRevocation{Revocation: rev.Revoked[i], LiftedAtUnixMS: time.Now().UnixMilli()})
			rev.Revoked = slices.Delete(rev.Revoked, i, i+1)
			revChanged = true
		}
		h := signing.PublicKeyHex(key)
		keys := st.Trusted[publisher]
		if slices.Contains(keys, h) {
			return false, revChanged, nil
		}
		keys = append(keys, h)
		slices.Sort(keys)
		st.Trusted[publisher] = keys
		return true, revChanged, nil
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

// Revoke marks the key with id keyID as revoked and takes it out of
// Palyra's lists: from every publisher's trusted_publishers entry and
// every TOFU pin, so that Palyra, reading the same trust-store.json, no
// longer trusts it either. From then on every decision about that key
// fails with ErrKeyRevoked, for publisher and for any other publisher
// name, and a publisher with a revoked key is not trusted on first use
// again (its next key must be allowlisted): otherwise removing the pin
// would let whoever holds the next key re-pin the publisher.
//
// The revocation is kept in trust-revocations.json, so a later AddTrusted
// of the key is refused until [Store.Reinstate] lifts it. Like Remove, it
// is an error wrapping ErrKeyNotFound when publisher has no such key in
// either list; revoking a key already revoked is a no-op (it only takes
// the key out of the lists again, should Palyra have re-added it).
func (s *Store) Revoke(ctx context.Context, publisher, keyID string) error {
	if err := validatePublisher(publisher); err != nil {
		return err
	}
	id, err := validateKeyID(keyID)
	if err != nil {
		return err
	}
	return s.update(ctx, func(st *storeFile, rev *revocationsFile) (bool, bool, error) {
		if rev.isRevoked(id) {
			return st.purge(id), false, nil
		}
		listed := slices.ContainsFunc(st.Trusted[publisher], func(h string) bool { return hexKeyID(h) == id })
		if h, ok := st.Tofu[publisher]; ok && hexKeyID(h) == id {
			listed = true
		}
		if !listed {
			return false, false, fmt.Errorf("%w: publisher %q has no key %s to revoke", ErrKeyNotFound, publisher, id)
		}
		st.purge(id)
		rev.Revoked = append(rev.Revoked, Revocation{Publisher: publisher, KeyID: id, RevokedAtUnixMS: time.Now().UnixMilli()})
		rev.sort()
		return true, true, nil
	})
}

// purge removes the key with id from every allowlist and pin, dropping a
// publisher left with no allowlisted key (Palyra refuses an empty list).
// It reports whether anything changed.
func (st *storeFile) purge(id string) bool {
	changed := false
	for pub, keys := range st.Trusted {
		kept := slices.DeleteFunc(keys, func(h string) bool { return hexKeyID(h) == id })
		if len(kept) == len(keys) {
			continue
		}
		changed = true
		if len(kept) == 0 {
			delete(st.Trusted, pub)
		} else {
			st.Trusted[pub] = kept
		}
	}
	for pub, h := range st.Tofu {
		if hexKeyID(h) == id {
			delete(st.Tofu, pub)
			changed = true
		}
	}
	return changed
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
	// Revocations are sorted by key id; revoked keys are not in Keys
	// (unless Palyra re-added one, which is then marked Revoked).
	Revocations []Revocation `json:"revocations"`
	// Lifted are the revocations lifted by Reinstate, oldest first.
	Lifted []LiftedRevocation `json:"lifted_revocations"`
}

// Snapshot reads the store. It writes nothing.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{Keys: []Key{}, Revocations: []Revocation{}, Lifted: []LiftedRevocation{}}
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
		snap.Lifted = append(snap.Lifted, rev.Lifted...)
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
	if revoked, ok := rev.revokedPublisher(publisher); ok {
		return fail(ErrUntrustedPublisher, fmt.Sprintf("publisher's key %s was revoked, so it is not trusted on first use again: allowlist its new key", revoked))
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
	case isBlank(data):
		// Palyra's SkillTrustStore::load takes an empty or whitespace-only
		// file as an empty store (a file created but never written).
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

// isBlank reports whether data is empty or only ASCII whitespace as Rust's
// u8::is_ascii_whitespace means it (space, \t, \n, \f, \r), which is
// what Palyra tests before parsing.
func isBlank(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\f', '\r':
		default:
			return false
		}
	}
	return true
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
	// The revocations are written first: should the process die between
	// the two writes, a revoked key is refused here although Palyra still
	// lists it, and revoking again finishes the job.
	if revChanged {
		data, err := rev.encode()
		if err != nil {
			return fmt.Errorf("trust revocations: encode: %w", err)
		}
		if err := atomicfile.WriteFile(s.revPath, data, 0o600); err != nil {
			return fmt.Errorf("trust revocations: %w", err)
		}
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
	return nil
}
