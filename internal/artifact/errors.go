package artifact

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per class of failure a caller may need to tell apart
// (with errors.Is). Every error Open returns is a *CheckError wrapping exactly
// one of them, except context cancellation and I/O errors from the
// io.ReaderAt, which are wrapped as they are.
var (
	// ErrMalformedArchive reports a ZIP that breaks a structural rule: the
	// layout, headers, names, modes, methods, flags or the entry set.
	ErrMalformedArchive = errors.New("malformed artifact archive")
	// ErrTooLarge reports an archive, entry or metadata file over a cap,
	// too many entries, or a compression ratio over the cap.
	ErrTooLarge = errors.New("artifact too large")
	// ErrInvalidMetadata reports signature.json, sbom.cdx.json or
	// provenance.json that is not strict JSON or lacks what Palyra requires.
	ErrInvalidMetadata = errors.New("invalid artifact metadata")
	// ErrInvalidManifest reports a skill.toml that does not parse or validate.
	ErrInvalidManifest = errors.New("invalid skill manifest")
	// ErrIntegrityMismatch reports an integrity list in skill.toml that does
	// not name exactly the payload entries with their SHA-256.
	ErrIntegrityMismatch = errors.New("integrity list does not match artifact entries")
	// ErrPayloadDigestMismatch reports a payload digest in signature.json
	// that differs from the digest of the entries.
	ErrPayloadDigestMismatch = errors.New("payload digest mismatch")
	// ErrBadSignature reports a missing signature.json, a signature document
	// whose fields are malformed or inconsistent, or an Ed25519 signature that
	// does not verify with the embedded key.
	ErrBadSignature = errors.New("bad artifact signature")
	// ErrPublisherMismatch reports a signature.json publisher that differs
	// from the manifest's publisher.
	ErrPublisherMismatch = errors.New("signature publisher does not match manifest publisher")
)

// CheckError is a failed check: which rule (one of the Check* names listed
// in the package documentation), on which entry ("" for the archive as a
// whole), and why. Err wraps the sentinel error of the check's class.
type CheckError struct {
	Check string // e.g. CheckCRC
	Entry string // entry name, or "" when the check is about the archive
	Err   error
}

func (e *CheckError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("artifact: check %s: %v", e.Check, e.Err)
	}
	return fmt.Sprintf("artifact: check %s: %q: %v", e.Check, e.Entry, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }

// fail builds a *CheckError whose Err wraps class with a detail message.
func fail(check, entry string, class error, format string, args ...any) *CheckError {
	return &CheckError{Check: check, Entry: entry, Err: fmt.Errorf("%w: "+format, append([]any{class}, args...)...)}
}
