package secrets

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/palyra/palyra-go/internal/atomicfile"
)

// keyFromFile reads the master key from path, first moving a legacy key
// out of the store directory dir into path if path does not exist yet;
// with create, a missing key with no legacy one is made from crypto/rand.
// The key file is linked into place whole, so concurrent openers see no
// key file or the whole key, and of two racing creators the second adopts
// the first one's key.
func keyFromFile(dir, path string, create bool) ([]byte, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: master key file: %w", err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	keyDir := filepath.Dir(path)
	if keyDir == absDir || strings.HasPrefix(keyDir, absDir+string(filepath.Separator)) {
		return nil, fmt.Errorf("secrets: master key file %s is inside the store directory %s: a copy of the directory would carry the key", path, dir)
	}
	if create {
		if err := os.MkdirAll(keyDir, 0o700); err != nil {
			return nil, fmt.Errorf("secrets: master key directory: %w", err)
		}
	}
	if err := checkKeyDir(keyDir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secrets: %w: %s does not exist", ErrNoMasterKey, path)
		}
		return nil, err
	}
	for range 3 {
		key, err := readKey(path)
		if err == nil {
			if err := dropLegacyKey(dir, key, path); err != nil {
				return nil, err
			}
			return key, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secrets: master key: %w", err)
		}
		// No key file yet: move the legacy key there, or make one.
		key, err = readKey(filepath.Join(dir, LegacyMasterKeyFile))
		switch {
		case err == nil:
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("secrets: legacy master key: %w", err)
		case !create:
			return nil, fmt.Errorf("secrets: %w: %s does not exist", ErrNoMasterKey, path)
		default:
			key = make([]byte, chacha20poly1305.KeySize)
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
		}
		if err := createOnce(keyDir, path, key); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("secrets: writing master key %s: %w", path, err)
		}
		// Read back what is in place (another opener's key if it won),
		// and only then remove the legacy copy.
	}
	return nil, fmt.Errorf("secrets: master key %s keeps appearing and vanishing", path)
}

// dropLegacyKey removes the legacy master key from the store directory
// dir if it holds key (where is what holds key now, for messages), and
// fails with ErrMasterKeyConflict if it holds another.
func dropLegacyKey(dir string, key []byte, where string) error {
	legacy := filepath.Join(dir, LegacyMasterKeyFile)
	old, err := readKey(legacy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets: legacy master key: %w", err)
	}
	if subtle.ConstantTimeCompare(old, key) != 1 {
		return fmt.Errorf("secrets: %w: %s and %s hold different keys; keep the one that opens the secrets and delete the other", ErrMasterKeyConflict, legacy, where)
	}
	if err := os.Remove(legacy); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("secrets: removing legacy master key: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// readKey reads a master key file: 32 raw bytes, or 64 hex digits with
// an optional trailing newline.
func readKey(path string) ([]byte, error) {
	data, err := readPrivate(path, 2*chacha20poly1305.KeySize+2)
	if err != nil {
		return nil, err
	}
	if len(data) == chacha20poly1305.KeySize {
		return data, nil
	}
	text := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(text) == 2*chacha20poly1305.KeySize {
		if key, err := hex.DecodeString(text); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: master key %s is %d bytes, want %d raw bytes or %d hex digits", ErrCorrupt, path, len(data), chacha20poly1305.KeySize, 2*chacha20poly1305.KeySize)
}

// checkKeyDir refuses a key file's directory that group or others may
// write: they could swap the key for one they know.
func checkKeyDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &PermissionError{Path: dir, Mode: fi.Mode(), Reason: "the master key's directory is not a directory"}
	}
	if checkModes && fi.Mode().Perm()&0o022 != 0 {
		return &PermissionError{Path: dir, Mode: fi.Mode(), Reason: "group or others may write the master key's directory and replace the key (want 0700)"}
	}
	return nil
}
