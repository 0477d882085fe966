package host

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/signing"
	"github.com/palyra/palyra-go/internal/trust"
)

// TrustDecision says how a publisher key was accepted.
type TrustDecision = trust.Decision

// The trust decisions, as Palyra spells them.
const (
	Allowlisted     = trust.Allowlisted
	TofuPinned      = trust.TofuPinned
	TofuNewlyPinned = trust.TofuNewlyPinned
)

// TrustStore is the publisher allowlist and TOFU pins of a state dir.
type TrustStore = trust.Store

// OpenTrustStore opens the trust store file at path (see TrustStorePath).
func OpenTrustStore(path string) (*TrustStore, error) { return trust.Open(path) }

// Manifest is a parsed skill.toml.
type Manifest = manifest.Manifest

// Signature is an artifact's signature.json.
type Signature = artifact.Signature

// Errors a caller can tell apart with errors.Is.
var (
	ErrUntrustedPublisher    = trust.ErrUntrustedPublisher
	ErrKeyMismatch           = trust.ErrKeyMismatch
	ErrKeyRevoked            = trust.ErrKeyRevoked
	ErrMalformedArchive      = artifact.ErrMalformedArchive
	ErrBadSignature          = artifact.ErrBadSignature
	ErrPayloadDigestMismatch = artifact.ErrPayloadDigestMismatch
	ErrIntegrityMismatch     = artifact.ErrIntegrityMismatch
	ErrPublisherMismatch     = artifact.ErrPublisherMismatch
	ErrInvalidManifest       = artifact.ErrInvalidManifest
	ErrInvalidMetadata       = artifact.ErrInvalidMetadata
	ErrTooLarge              = artifact.ErrTooLarge
)

// VerifyOptions control VerifyArtifact.
type VerifyOptions struct {
	// AllowTOFU lets an unknown publisher's key be pinned on first use.
	AllowTOFU bool
	// MetadataOnly checks everything the same but keeps only the metadata
	// entries' bytes in Verification.Files (artifact.ReadOptions
	// MetadataOnly): for a caller that verifies without extracting, it
	// saves holding the uncompressed modules and assets in memory.
	MetadataOnly bool
}

// Verification is the result of a successful VerifyArtifact.
type Verification struct {
	Decision      TrustDecision
	Manifest      *Manifest
	Signature     Signature
	KeyID         string
	PayloadSHA256 string
	// Files are the artifact's entries, checked, in path order (with
	// VerifyOptions.MetadataOnly, the metadata entries only).
	Files []artifact.File
	// Entries describe every entry, in path order: path, size, SHA-256.
	Entries []artifact.Entry
}

// VerifyArtifact checks the artifact of the given size read from r and
// returns how its publisher key is trusted. It runs every check of the
// artifact format first, then the manifest's [compat] range against
// ProtocolMajor and Version (as Palyra's verify does; a failure wraps
// ErrIncompatible and names the field and both values), then evaluates
// store; only when everything passed
// does it pin a new publisher key (tofu_newly_pinned). On any error the
// store is unchanged.
func VerifyArtifact(ctx context.Context, r io.ReaderAt, size int64, store *TrustStore, opts VerifyOptions) (*Verification, error) {
	a, err := artifact.Open(ctx, r, size, opts.readOptions())
	if err != nil {
		return nil, err
	}
	return decide(ctx, a, store, opts)
}

func decide(ctx context.Context, a *artifact.Artifact, store *TrustStore, opts VerifyOptions) (*Verification, error) {
	// Palyra's verify (inspect_skill_artifact) asserts [compat] before the
	// trust decision, so an artifact this host cannot run never pins a key.
	if err := manifest.CheckCompat(a.Manifest.Compat, ProtocolMajor, Version); err != nil {
		return nil, fmt.Errorf("%s %s: %w", a.Manifest.SkillID, a.Manifest.Version, err)
	}
	pub := ed25519.PublicKey(a.PublicKey)
	dopts := trust.DecideOptions{AllowTOFU: opts.AllowTOFU}
	// Evaluate before Decide: a refusal must be reported without taking the
	// store's write lock or touching the file.
	if _, err := store.Evaluate(ctx, a.Manifest.Publisher, pub, dopts); err != nil {
		return nil, err
	}
	d, err := store.Decide(ctx, a.Manifest.Publisher, pub, dopts)
	if err != nil {
		return nil, err
	}
	return &Verification{
		Decision:      d,
		Manifest:      a.Manifest,
		Signature:     a.Signature,
		KeyID:         signing.KeyID(pub),
		PayloadSHA256: a.PayloadSHA256,
		Files:         a.Files,
		Entries:       a.Entries,
	}, nil
}

func (o VerifyOptions) readOptions() *artifact.ReadOptions {
	if !o.MetadataOnly {
		return nil
	}
	return &artifact.ReadOptions{MetadataOnly: true}
}

// VerifyFile is VerifyArtifact on the file at path. With MetadataOnly the
// file is not read into memory whole: every byte streams, read once, from
// the file through the checks (artifact.Open on the file), so neither the
// archive nor its uncompressed payload is ever held whole.
func (h *Host) VerifyFile(ctx context.Context, path string, opts VerifyOptions) (*Verification, error) {
	var a *artifact.Artifact
	if opts.MetadataOnly {
		f, size, err := openArtifactFile(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if a, err = artifact.Open(ctx, f, size, opts.readOptions()); err != nil {
			return nil, err
		}
	} else {
		data, err := readArtifactFile(path)
		if err != nil {
			return nil, err
		}
		if a, err = artifact.OpenBytes(ctx, data, nil); err != nil {
			return nil, err
		}
	}
	return decide(ctx, a, h.trust, opts)
}

// openArtifactFile opens an artifact file and returns its size, refusing
// what is not a regular file or is larger than the format allows.
func openArtifactFile(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	switch {
	case err != nil:
	case !st.Mode().IsRegular():
		err = fmt.Errorf("%s: not a regular file", path)
	case st.Size() > artifact.MaxArtifactBytes:
		err = fmt.Errorf("%s: %w: %d bytes, limit %d", path, ErrTooLarge, st.Size(), artifact.MaxArtifactBytes)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// readArtifactFile reads an artifact into memory, refusing files larger than
// the format allows before reading them. It reads the file once, into a
// buffer of the size Stat reports (plus one byte, to notice a file that
// grew): io.ReadAll would grow its buffer a score of times at 10 MB,
// copying and faulting in each, which was most of a verify's time. It is
// not mmap'd: another process writing the file would change bytes under
// the checks, and what was checked must be what is used.
func readArtifactFile(path string) ([]byte, error) {
	f, size, err := openArtifactFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, size+1)
	n, err := io.ReadFull(f, data)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%s: grew past %d bytes while being read", path, size)
	case err != io.ErrUnexpectedEOF && err != io.EOF:
		return nil, err
	case int64(n) != size:
		return nil, fmt.Errorf("%s: shrank to %d bytes from %d while being read", path, n, size)
	}
	return data[:n:n], nil
}

// ParsePublicKey reads a publisher's public key in any form Palyra accepts:
// SPKI PEM (as palyra-gen keygen writes it), or 32 bytes raw, hex or base64.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) { return signing.ParsePublicKey(data) }

// KeyID returns Palyra's id of a publisher key, "ed25519:" + 16 hex digits.
func KeyID(pub ed25519.PublicKey) string { return signing.KeyID(pub) }
