package gen

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/internal/signing"
)

// Key file names Keygen writes.
const (
	PrivateKeyFile = "publisher.key"
	PublicKeyFile  = "publisher.pub"
)

// KeygenResult describes a generated publisher key pair.
type KeygenResult struct {
	PrivateKeyFile string `json:"private_key_file"`
	PublicKeyFile  string `json:"public_key_file"`
	KeyID          string `json:"key_id"`
	// PublicKeyHex is the key as trust-store files list it.
	PublicKeyHex string            `json:"public_key_hex"`
	PublicKey    ed25519.PublicKey `json:"-"`
}

// Keygen writes a new Ed25519 publisher key pair into dir:
// publisher.key (PKCS#8 PEM, mode 0600) and publisher.pub (SPKI PEM). It
// refuses to overwrite either file (ErrExists). dir is created (0700) when
// missing. rand is the entropy source (crypto/rand when nil).
func Keygen(dir string, rand io.Reader) (*KeygenResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	privFile := filepath.Join(dir, PrivateKeyFile)
	pubFile := filepath.Join(dir, PublicKeyFile)
	for _, f := range []string{privFile, pubFile} {
		if _, err := os.Lstat(f); err == nil {
			return nil, fmt.Errorf("keygen: %s: %w (refusing to overwrite a key)", f, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keygen: %w", err)
		}
	}
	pub, priv, err := signing.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	privPEM, err := signing.MarshalPrivateKeyPEM(priv)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	pubPEM, err := signing.MarshalPublicKeyPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	// O_EXCL closes the race between the check above and the write.
	if err := writeExclusive(privFile, privPEM, 0o600); err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	if err := writeExclusive(pubFile, pubPEM, 0o644); err != nil {
		os.Remove(privFile)
		return nil, fmt.Errorf("keygen: %w", err)
	}
	return &KeygenResult{PrivateKeyFile: privFile, PublicKeyFile: pubFile,
		KeyID: signing.KeyID(pub), PublicKeyHex: signing.PublicKeyHex(pub), PublicKey: pub}, nil
}

func writeExclusive(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", name, ErrExists)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	return f.Close()
}
