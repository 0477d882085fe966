package identity

// This file is the contract between the pairing protocol (pairing*.go:
// wire messages, CPace, key confirmation, Pair and ServePairing) and the
// registry (registry*.go: codes, devices, revocations, approval, rate
// limits, persistence). The lead wrote it before either side; bodies that
// still panic are filled in by the registry work.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ClientKind is what a paired device is: Palyra's cli, desktop or node.
type ClientKind string

// The client kinds Palyra knows.
const (
	KindCLI     ClientKind = "cli"
	KindDesktop ClientKind = "desktop"
	KindNode    ClientKind = "node"
)

// ParseClientKind accepts exactly "cli", "desktop" or "node".
func ParseClientKind(s string) (ClientKind, error) {
	switch k := ClientKind(s); k {
	case KindCLI, KindDesktop, KindNode:
		return k, nil
	}
	return "", fmt.Errorf("identity: unknown client kind %q (want cli, desktop or node)", s)
}

// Pairing code rules.
const (
	// DefaultCodeTTL is how long a minted code lasts unless told otherwise.
	DefaultCodeTTL = 10 * time.Minute
	// MinCodeTTL and MaxCodeTTL clamp a requested TTL.
	MinCodeTTL = 30 * time.Second
	MaxCodeTTL = 24 * time.Hour
	// MaxCodeAttempts is how many pairing attempts one code survives; an
	// attempt is counted when the daemon answers with its CPace share, so
	// the next attempt after this many is refused even with the right code.
	MaxCodeAttempts = 5
)

// Errors callers (transport code, the CLI) must tell apart.
var (
	// ErrPairingFailed: the handshake did not confirm a shared key (a
	// wrong code, a different channel binding, a tampered message). It
	// says nothing about which.
	ErrPairingFailed = errors.New("identity: pairing failed")
	// ErrNoActiveCode: no unexpired, unburnt code matches the attempt.
	ErrNoActiveCode = errors.New("identity: no active pairing code")
	// ErrRateLimited: a pairing start was refused by the per-peer or the
	// global rate limit, or the cap on concurrent sessions.
	ErrRateLimited = errors.New("identity: pairing rate limited")
	// ErrPairingRejected: the operator rejected the pending device.
	ErrPairingRejected = errors.New("identity: pairing rejected by the operator")
	// ErrDeviceRevoked: the device is revoked.
	ErrDeviceRevoked = errors.New("identity: device revoked")
	// ErrCertificateRevoked: the certificate's fingerprint is revoked.
	ErrCertificateRevoked = errors.New("identity: certificate revoked")
	// ErrUnknownDevice: no paired device has this id.
	ErrUnknownDevice = errors.New("identity: unknown device")
	// ErrPairingRefused: the registry refused a device that proved the
	// code: it declared a kind other than the code's, or claims a device
	// id already paired with another identity key, or a newer pairing of
	// the same device replaced this one while it waited for approval.
	ErrPairingRefused = errors.New("identity: pairing refused by the registry")
	// ErrUnknownCertificate: the certificate names a known device but is
	// not one the registry recorded as issued to it.
	ErrUnknownCertificate = errors.New("identity: certificate not issued by this registry")
	// ErrTooManyCodes: MintCode found MaxActiveCodes codes active already.
	ErrTooManyCodes = errors.New("identity: too many active pairing codes")
	// ErrProtocol: a handshake message is malformed, oversize, out of
	// order or of another protocol version.
	ErrProtocol = errors.New("identity: pairing protocol error")
)

// ManagerOptions configure NewManager. The zero value is usable.
type ManagerOptions struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives pairing and revocation events (never a code, a
	// token or a key); default slog.Default().
	Logger *slog.Logger
	// PeerRate and PeerBurst limit pairing starts per peer address;
	// default one every 2 s, burst 5.
	PeerRate  time.Duration
	PeerBurst int
	// GlobalRate and GlobalBurst limit pairing starts across all peers;
	// default one every 100 ms, burst 20.
	GlobalRate  time.Duration
	GlobalBurst int
	// MaxSessions caps pairing handshakes in progress; default 16.
	MaxSessions int
	// ApprovalPoll is how often a pending pairing re-reads the registry
	// for the operator's decision; default 250 ms.
	ApprovalPoll time.Duration
}

// CodeOptions configure Manager.MintCode.
type CodeOptions struct {
	// TTL of the code; 0 means DefaultCodeTTL, others are clamped to
	// [MinCodeTTL, MaxCodeTTL].
	TTL time.Duration
	// Kind the pairing device must declare; "" means KindCLI.
	Kind ClientKind
	// RequireApproval holds a device that proved the code as pending
	// until the operator approves or rejects it.
	RequireApproval bool
}

// PairingCode is a freshly minted code. Code and Token are secrets: show
// them once, to the operator who asked, and never log them.
type PairingCode struct {
	// ID names the code in listings; it is not secret.
	ID string `json:"id"`
	// Code is the 6-digit form a person types.
	Code string `json:"code"`
	// Token is the long form for QR codes and URLs; it names the code id,
	// so the daemon tries only that code.
	Token           string     `json:"token"`
	Kind            ClientKind `json:"kind"`
	RequireApproval bool       `json:"require_approval"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
}

// DeviceState is where a device is in pairing and revocation.
type DeviceState string

// Device states. A device that proved a code needing approval is pending
// until the operator approves (then completed once its certificate is
// issued) or rejects it.
const (
	DevicePending   DeviceState = "pending"
	DeviceApproved  DeviceState = "approved"
	DeviceRejected  DeviceState = "rejected"
	DeviceCompleted DeviceState = "completed"
	DeviceRevoked   DeviceState = "revoked"
)

// Device is a device in the registry, as listings show it.
type Device struct {
	ID                  string      `json:"device_id"`
	Kind                ClientKind  `json:"kind"`
	State               DeviceState `json:"state"`
	IdentityFingerprint string      `json:"identity_fingerprint"`
	// Peer is the transport address the device paired from.
	Peer         string       `json:"peer,omitempty"`
	PairedAt     time.Time    `json:"paired_at"`
	Certificates []CertRecord `json:"certificates"`
	RevokedAt    *time.Time   `json:"revoked_at,omitempty"`
	RevokeReason string       `json:"revoke_reason,omitempty"`
	// CodeID names the pairing code of the device's latest pairing; it
	// is not secret.
	CodeID string `json:"code_id,omitempty"`
	// RejectReason says why the latest pairing was rejected (by the
	// operator, or abandoned while pending).
	RejectReason string `json:"reject_reason,omitempty"`
}

// CertRecord is one client certificate issued to a device.
type CertRecord struct {
	// Fingerprint is lowercase hex(sha256(DER)).
	Fingerprint string    `json:"fingerprint"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
	Revoked     bool      `json:"revoked"`
}

// PairingRequest is what a device asks for once the shared key is
// confirmed: a certificate for its key, under its id and kind.
type PairingRequest struct {
	// CodeID is the code whose key was confirmed.
	CodeID   string
	DeviceID string
	Kind     ClientKind
	// IdentityKey is the device's Ed25519 identity public key; the device
	// signed the handshake transcript with it.
	IdentityKey []byte
	// CSR is a PKCS#10 request (DER) for the TLS client key.
	CSR []byte
	// Peer is the transport address, for the registry and logs.
	Peer string
	// OnPending, if set, is called once when the code requires approval,
	// before completePairing starts waiting for the operator: the
	// protocol tells the device it is pending. It must not block long.
	OnPending func()
}

// PairingGrant is what the daemon sends back: the client certificate and
// the CA certificate to pin.
type PairingGrant struct {
	Device     Device
	ClientCert []byte // DER
	CACert     []byte // DER
}

// candidateCode is an active code an attempt may be trying: its id and
// the password-related string for CPace.
type candidateCode struct {
	id  string
	prs []byte
}

// registry is what ServePairing needs from the Manager; the registry
// side implements it on *Manager.
type registry interface {
	// beginAttempt applies the rate limits and the session cap for peer,
	// then returns the candidate codes: the code named codeID (token
	// form), or every active code (6-digit form). It counts one attempt
	// on each candidate before returning, burning any that reach
	// MaxCodeAttempts, so an attempt that later fails needs no second
	// call. release frees the session slot.
	beginAttempt(ctx context.Context, peer, codeID string) (cands []candidateCode, release func(), err error)
	// completePairing consumes the confirmed code, records the device
	// (revoking the device's earlier certificates), waits for the
	// operator when the code requires approval, and issues the client
	// certificate.
	completePairing(ctx context.Context, req PairingRequest) (*PairingGrant, error)
}

var _ registry = (*Manager)(nil)

// Manager is the daemon's IdentityManager: it mints pairing codes, runs the
// server side of pairing, keeps the device registry and revocations, and
// checks every TLS handshake. Its state lives in the SecretStore, shared
// with other processes on the same state dir (the CLI approves and
// revokes while the daemon serves). Its methods are in registry.go.
type Manager struct {
	store SecretStore
	ca    *CertificateAuthority
	opts  ManagerOptions

	pool   *x509.CertPool // the CA alone, for VerifyConnection
	mu     sync.Mutex     // in-process half of the writer lock
	limits *limits        // rate limits and the session cap

	snapMu sync.Mutex               // serializes snapshot reloads and stores
	snap   atomic.Pointer[snapshot] // the registry as CheckCertificate sees it
}

// A pairing secret as a person or a QR code gives it to the client: either
// the 6-digit code, or the token "<code id>.<32 lowercase hex digits>".
// The two forms have distinct password-related strings, so a token never
// doubles as a PIN guess or the reverse.
const (
	pinPRSPrefix   = "palyra-pin:"
	tokenPRSPrefix = "palyra-token:"
)

// pinPRS is the CPace password-related string of a 6-digit code.
func pinPRS(code string) []byte { return []byte(pinPRSPrefix + code) }

// tokenPRS is the CPace password-related string of a token's secret part.
func tokenPRS(secret string) []byte { return []byte(tokenPRSPrefix + secret) }

// parsePairingSecret reads what the user typed or scanned: 6 digits give
// no code id and the PIN's PRS; a token gives its code id and the token's
// PRS. Anything else is an error that does not echo the input.
func parsePairingSecret(s string) (codeID string, prs []byte, err error) {
	if len(s) == 6 && isDigits(s) {
		return "", pinPRS(s), nil
	}
	id, secret, ok := cutLast(s, '.')
	if ok && isCanonicalULID(id) && len(secret) == 32 && isLowerHex(secret) {
		return id, tokenPRS(secret), nil
	}
	return "", nil, fmt.Errorf("identity: a pairing secret is 6 digits or a token <code id>.<32 hex digits> (%d characters given)", len(s))
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return s != ""
}
