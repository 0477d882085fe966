package secrets

import (
	"cmp"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/palyra/palyra-go/internal/atomicfile"
)

const (
	// LegacyMasterKeyFile is where stores made before the key moved out
	// kept their master key: inside the store directory, so that a copy
	// of the directory held the key to everything in it. Open moves it to
	// Options.MasterKeyFile.
	LegacyMasterKeyFile = "master.key"
	// MaxValueBytes bounds one secret value.
	MaxValueBytes = 1 << 20

	// fileMagic starts every secret file and is authenticated with it.
	fileMagic = "PLYSEC\x00\x01"
	// overhead is what sealing adds to a value: magic, nonce, tag.
	overhead  = len(fileMagic) + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	tmpPrefix = ".tmp-"
)

// Options configure Open. One of MasterKey and MasterKeyFile is required:
// the store never keeps its key in its own directory.
type Options struct {
	// MasterKey is the 32-byte key that seals the secrets.
	MasterKey []byte
	// MasterKeyFile is the path of a file holding the master key (32
	// bytes, or 64 hex digits and an optional newline), outside the
	// store directory. It must be a regular file accessible to its owner
	// only, in a directory that group and others cannot write.
	MasterKeyFile string
	// CreateMasterKey lets Open create MasterKeyFile (0600, its directory
	// 0700) with a random key when it does not exist and there is no
	// legacy key to move there.
	CreateMasterKey bool
}

// Store is a FilesystemSecretStore. It is safe for concurrent use, by
// several goroutines and by several processes sharing the directory.
type Store struct {
	dir  string
	aead cipher.AEAD
	// lockCh is the in-process half of Lock: a one-slot semaphore.
	lockCh chan struct{}
}

// Open opens the store in dir, creating dir (0700) if it does not exist.
//
// A master key left in dir by an older store (LegacyMasterKeyFile) is
// moved out: with MasterKeyFile, to that file when it does not exist yet
// (written and synced before the old one is removed, so a crash leaves
// the key in one place or both, never in none); then, or with MasterKey,
// the legacy file is removed if it holds the same key, and Open fails
// with ErrMasterKeyConflict if it holds another.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MasterKey == nil && opts.MasterKeyFile == "" {
		return nil, fmt.Errorf("secrets: %w: neither a key nor a key file was given", ErrNoMasterKey)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	s := &Store{dir: dir, lockCh: make(chan struct{}, 1)}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	key := opts.MasterKey
	if key == nil {
		var err error
		if key, err = keyFromFile(dir, opts.MasterKeyFile, opts.CreateMasterKey); err != nil {
			return nil, err
		}
	} else if len(key) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("secrets: master key is %d bytes, want %d", len(key), chacha20poly1305.KeySize)
	} else if err := dropLegacyKey(dir, key, "the given master key"); err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	s.aead = aead
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Set stores value under scope/key, replacing any previous value
// atomically.
func (s *Store) Set(ctx context.Context, scope, key string, value []byte) error {
	r, err := s.begin(ctx, scope, key)
	if err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("secrets: set %s: %w: %d bytes, limit %d", r, ErrTooLarge, len(value), MaxValueBytes)
	}
	return s.writeSealed(r, value)
}

func (s *Store) writeSealed(r Ref, value []byte) error {
	if err := atomicfile.WriteFile(filepath.Join(s.dir, fileName(r)), s.seal(r, value), 0o600); err != nil {
		return fmt.Errorf("secrets: set %s: %w", r, err)
	}
	return nil
}

// Get returns the value stored under scope/key, or an error wrapping
// ErrNotFound.
func (s *Store) Get(ctx context.Context, scope, key string) ([]byte, error) {
	r, err := s.begin(ctx, scope, key)
	if err != nil {
		return nil, err
	}
	return s.readSealed(r)
}

func (s *Store) readSealed(r Ref) ([]byte, error) {
	data, err := readPrivate(filepath.Join(s.dir, fileName(r)), MaxValueBytes+overhead)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secrets: get %s: %w", r, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: get %s: %w", r, err)
	}
	value, err := s.open(r, data)
	if err != nil {
		return nil, fmt.Errorf("secrets: get %s: %w", r, err)
	}
	return value, nil
}

// Delete removes the secret under scope/key, or returns an error wrapping
// ErrNotFound.
func (s *Store) Delete(ctx context.Context, scope, key string) error {
	r, err := s.begin(ctx, scope, key)
	if err != nil {
		return err
	}
	return s.remove(r)
}

func (s *Store) remove(r Ref) error {
	if err := os.Remove(filepath.Join(s.dir, fileName(r))); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("secrets: delete %s: %w", r, ErrNotFound)
		}
		return fmt.Errorf("secrets: delete %s: %w", r, err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("secrets: delete %s: %w", r, err)
	}
	return nil
}

// List returns the refs of all stored secrets, sorted by scope then key.
// It reads no values. Files in the directory that no ref names are
// ignored.
func (s *Store) List(ctx context.Context) ([]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	var refs []Ref
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if r, ok := parseFileName(e.Name()); ok {
			refs = append(refs, r)
		}
	}
	slices.SortFunc(refs, func(a, b Ref) int {
		return cmp.Or(strings.Compare(a.Scope, b.Scope), strings.Compare(a.Key, b.Key))
	})
	return refs, nil
}

// begin is what every single-secret operation does first.
func (s *Store) begin(ctx context.Context, scope, key string) (Ref, error) {
	if err := ctx.Err(); err != nil {
		return Ref{}, err
	}
	r := Ref{Scope: scope, Key: key}
	if err := r.validate(); err != nil {
		return Ref{}, fmt.Errorf("secrets: %w", err)
	}
	// The directory is re-checked each time: loosening it after Open must
	// not go unnoticed by a long-running daemon.
	if err := s.checkDir(); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// aad binds a sealed value to its ref, so that a file copied over another
// key's file fails authentication instead of yielding the wrong secret.
func aad(r Ref) []byte {
	return []byte(fileMagic + r.String())
}

func (s *Store) seal(r Ref, value []byte) []byte {
	out := make([]byte, len(fileMagic)+chacha20poly1305.NonceSizeX, overhead+len(value))
	copy(out, fileMagic)
	nonce := out[len(fileMagic):]
	// XChaCha20-Poly1305's 24-byte nonces can be drawn at random for every
	// write without any risk of reuse under one key.
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s.aead.Seal(out, nonce, value, aad(r))
}

func (s *Store) open(r Ref, data []byte) ([]byte, error) {
	if len(data) < overhead || string(data[:len(fileMagic)]) != fileMagic {
		return nil, fmt.Errorf("%w: not a palyra secret file", ErrCorrupt)
	}
	nonce := data[len(fileMagic) : len(fileMagic)+chacha20poly1305.NonceSizeX]
	value, err := s.aead.Open(nil, nonce, data[len(fileMagic)+chacha20poly1305.NonceSizeX:], aad(r))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (modified, copied from another key, or sealed with another master key)", ErrCorrupt)
	}
	return value, nil
}

func (s *Store) checkDir() error {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if !fi.IsDir() {
		return &PermissionError{Path: s.dir, Mode: fi.Mode(), Reason: "not a directory"}
	}
	if checkModes && fi.Mode().Perm()&0o077 != 0 {
		return &PermissionError{Path: s.dir, Mode: fi.Mode(), Reason: "the store directory must be accessible to its owner only (0700)"}
	}
	return nil
}

// readPrivate reads a file that must be a regular file (not a symlink)
// accessible to its owner only, and at most max bytes long.
func readPrivate(path string, max int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		if isSymlinkErr(err) {
			mode := fs.ModeSymlink
			if fi, lerr := os.Lstat(path); lerr == nil {
				mode = fi.Mode()
			}
			return nil, &PermissionError{Path: path, Mode: mode, Reason: "a symlink, not a regular file"}
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &PermissionError{Path: path, Mode: fi.Mode(), Reason: "not a regular file"}
	}
	if checkModes && fi.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: path, Mode: fi.Mode(), Reason: "readable or writable by group or others (want 0600)"}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, max)
	}
	return data, nil
}

func createOnce(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Link(tmp, path); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}
