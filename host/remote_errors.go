package host

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/palyra/palyra-go/internal/egress"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// This file is the one place where a host error and its wire code meet:
// the daemon turns an error into a transport.RemoteError with RemoteCode
// (or RemoteErrorFor), and a remote client turns it back with
// ErrorFromRemote, so errors.Is on the client side tests the same
// sentinel as it would against a local Host, and a remote CLI prints the
// same message and exits with the same status.

// ErrNodeLost: the daemon routed the call to a joined node, and the node
// was lost (its connection closed or the call's stream was reset) before
// it answered. The call may have run, in part or in full, on the node: the
// daemon does not run it again, and neither should a caller, unless the
// tool is safe to repeat. Wire code "node_lost"; the message names the
// node.
var ErrNodeLost = errors.New("the node running the call was lost")

// remoteCodes maps wire codes to sentinels. Order matters: the first
// sentinel err matches gives its code, so the more specific come first
// (a fuel or memory trap is also a *TrapError; a schema violation may wrap
// a guest's output).
var remoteCodes = []struct {
	code string
	err  error
}{
	{"schema_violation", ErrSchemaViolation},
	{"fuel_exhausted", ErrFuelExhausted},
	{"memory_limit", ErrMemoryLimit},
	{"not_installed", ErrNotInstalled},
	{"not_eligible", ErrNotEligible},
	{"no_tool", ErrNoTool},
	{"host_closed", ErrClosed},
	{"capability_not_requested", ErrNotRequested},
	{"foreign_secret_scope", ErrForeignSecretScope},
	{"wildcard_not_allowed", ErrWildcardNotAllowed},
	{"secret_not_found", ErrSecretNotFound},
	{"secret_not_granted", ErrSecretNotGranted},
	{"no_secrets_key", ErrNoSecretsKey},
	{"secrets_key_conflict", ErrSecretsKeyConflict},
	{"config_undeclared", ErrConfigUndeclared},
	{"config_type", ErrConfigType},
	{"config_not_set", ErrConfigNotSet},
	{"config_invalid", ErrConfigInvalid},
	{"journal_corrupt", ErrJournalCorrupt},
	{"journal_missing", ErrJournalMissing},
	{"no_identity", ErrNoIdentity},
	{"recheck_failed", ErrRecheckFailed},
	{"audit_failed", ErrAuditFailed},
	{"incompatible", ErrIncompatible},
	{"downgrade", ErrDowngrade},
	{"version_conflict", ErrVersionConflict},
	{"invalid_transition", ErrInvalidTransition},
	{"insecure_permissions", ErrInsecurePermissions},
	{"untrusted_publisher", ErrUntrustedPublisher},
	{"key_mismatch", ErrKeyMismatch},
	{"key_revoked", ErrKeyRevoked},
	{"malformed_archive", ErrMalformedArchive},
	{"bad_signature", ErrBadSignature},
	{"payload_digest_mismatch", ErrPayloadDigestMismatch},
	{"integrity_mismatch", ErrIntegrityMismatch},
	{"publisher_mismatch", ErrPublisherMismatch},
	{"invalid_manifest", ErrInvalidManifest},
	{"invalid_metadata", ErrInvalidMetadata},
	{"too_large", ErrTooLarge},
	{"egress_invalid_request", egress.ErrInvalidRequest},
	{"egress_scheme_not_allowed", egress.ErrSchemeNotAllowed},
	{"egress_host_not_allowed", egress.ErrHostNotAllowed},
	{"egress_port_not_allowed", egress.ErrPortNotAllowed},
	{"egress_address_not_allowed", egress.ErrAddressNotAllowed},
	{"egress_too_many_redirects", egress.ErrTooManyRedirects},
	{"egress_request_too_large", egress.ErrRequestTooLarge},
	{"egress_response_too_large", egress.ErrResponseTooLarge},
	{"device_revoked", identity.ErrDeviceRevoked},
	{"certificate_revoked", identity.ErrCertificateRevoked},
	{"unknown_device", identity.ErrUnknownDevice},
	{"unknown_certificate", identity.ErrUnknownCertificate},
	{"invalid_certificate_request", identity.ErrInvalidRequest},
	{"node_lost", ErrNodeLost},
	{transport.CodeDeadlineExceeded, context.DeadlineExceeded},
	{transport.CodeCanceled, context.Canceled},
}

// Codes of the typed call errors, which carry their fields in Detail.
const (
	codeGuestError = "guest_error"
	codeTrap       = "trap"
	// codeFailed is any other error: the message alone crosses.
	codeFailed = "failed"
)

// exitFailure is the status every palyra command exits with when it ran
// and failed (internal/cmdline.ExitFailure): none of these errors is a
// wrong command line.
const exitFailure = 1

// RemoteCode returns the wire code for err and the exit status the local
// palyra command would have exited with. A nil err has no code ("", 0).
func RemoteCode(err error) (code string, exitCode int) {
	if err == nil {
		return "", 0
	}
	var re *transport.RemoteError
	if errors.As(err, &re) { // passed through (e.g. from a node): keep it
		exit := re.ExitCode
		if exit == 0 {
			exit = exitFailure
		}
		return re.Code, exit
	}
	for _, c := range remoteCodes {
		if errors.Is(err, c.err) {
			return c.code, exitFailure
		}
	}
	var ge *GuestError
	if errors.As(err, &ge) {
		return codeGuestError, exitFailure
	}
	var te *TrapError
	if errors.As(err, &te) {
		return codeTrap, exitFailure
	}
	return codeFailed, exitFailure
}

// remoteDetail is the Detail of an error RemoteErrorFor builds.
type remoteDetail struct {
	// Report is the call's report (host.Run's CallResult), when the call
	// started and the caller asked for it.
	Report *CallResult  `json:"report,omitempty"`
	Guest  *remoteGuest `json:"guest,omitempty"`
	Trap   *remoteTrap  `json:"trap,omitempty"`
}

type remoteGuest struct {
	Function string `json:"function"`
	Code     int32  `json:"code"`
	Message  string `json:"message,omitempty"`
}

type remoteTrap struct {
	Function string `json:"function"`
	Exited   bool   `json:"exited,omitempty"`
	ExitCode uint32 `json:"exit_code,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
	Err      string `json:"err,omitempty"`
}

// RemoteErrorFor is the RemoteError the daemon sends for err: RemoteCode's
// code and exit status, err's whole message, and in Detail the fields of
// a GuestError or TrapError in err's chain plus report when it is not nil
// (a call that started and failed, when the caller asked for the report).
func RemoteErrorFor(err error, report *CallResult) *transport.RemoteError {
	var passed *transport.RemoteError
	if errors.As(err, &passed) && report == nil {
		return passed
	}
	code, exit := RemoteCode(err)
	re := &transport.RemoteError{Code: code, Message: err.Error(), ExitCode: exit}
	d := remoteDetail{Report: report}
	var ge *GuestError
	if errors.As(err, &ge) {
		d.Guest = &remoteGuest{Function: ge.Function, Code: ge.Code, Message: ge.Message}
	}
	var te *TrapError
	if errors.As(err, &te) {
		d.Trap = &remoteTrap{Function: te.Function, Exited: te.Exited, ExitCode: te.ExitCode, Stderr: te.Stderr}
		if te.Err != nil {
			d.Trap.Err = te.Err.Error()
		}
	}
	if d.Report != nil || d.Guest != nil || d.Trap != nil {
		if b, mErr := json.Marshal(&d); mErr == nil {
			re.Detail = b
		}
	}
	return re
}

// RemoteReport returns the call report a RemoteError carries in its
// Detail (RemoteErrorFor's report), or nil.
func RemoteReport(re *transport.RemoteError) *CallResult {
	if re == nil || len(re.Detail) == 0 {
		return nil
	}
	var d remoteDetail
	if json.Unmarshal(re.Detail, &d) != nil {
		return nil
	}
	return d.Report
}

// remoteError is a RemoteError turned back into a host error: its message
// is the daemon's, and it unwraps to the sentinel of its code, the typed
// error its Detail describes, and the RemoteError itself.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.errs }

// ErrorFromRemote returns the error a remote call failed with, as the
// caller of a local Host would have seen it: errors.Is matches the same
// sentinel (ErrSchemaViolation, ErrNotInstalled, ErrFuelExhausted,
// context.DeadlineExceeded…), errors.As finds a *GuestError or *TrapError
// with the remote fields, and its message is the daemon's. errors.As also
// finds re itself (for its Code, ExitCode and Detail). A nil re is nil.
func ErrorFromRemote(re *transport.RemoteError) error {
	if re == nil {
		return nil
	}
	msg := re.Message
	if msg == "" {
		msg = re.Error()
	}
	e := &remoteError{msg: msg}
	var sentinel error
	for _, c := range remoteCodes {
		if c.code == re.Code {
			sentinel = c.err
			break
		}
	}
	var d remoteDetail
	if len(re.Detail) > 0 {
		_ = json.Unmarshal(re.Detail, &d) // a Detail of another shape is only the message's
	}
	if d.Guest != nil {
		e.errs = append(e.errs, &GuestError{Function: d.Guest.Function, Code: d.Guest.Code, Message: d.Guest.Message})
	}
	if d.Trap != nil {
		inner := sentinel
		if inner == nil {
			inner = errors.New(d.Trap.Err)
		}
		e.errs = append(e.errs, &TrapError{Function: d.Trap.Function, Exited: d.Trap.Exited, ExitCode: d.Trap.ExitCode, Stderr: d.Trap.Stderr, Err: inner})
	}
	if sentinel != nil {
		e.errs = append(e.errs, sentinel)
	}
	e.errs = append(e.errs, re)
	return e
}
