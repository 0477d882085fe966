package identity

// The registry side of the Manager: pairing codes, devices, revocations,
// approval, rate limits and persistence. The protocol (pairing*.go) calls
// beginAttempt and completePairing; the CLI calls MintCode, Codes,
// Devices, Approve, Reject and Revoke; transport code calls
// VerifyConnection on every handshake.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"
)

// RegistryKey is the SecretStore key of the registry document (codes,
// devices, revoked certificates); see the package documentation for its
// form.
const RegistryKey = "pairing/registry"

// Registry limits.
const (
	// MaxActiveCodes caps the codes that can still start an attempt.
	MaxActiveCodes = 16
	// SnapshotMaxAge bounds how stale the registry CheckCertificate reads
	// may be: a revocation written by another process takes effect on
	// the next handshake at most this long after it was stored.
	SnapshotMaxAge = 200 * time.Millisecond
	// burntGrace is how long a code whose last attempt was counted is kept
	// so the handshake that counted it can still complete.
	burntGrace = 2 * time.Minute
	// certRetention is how long after NotAfter a certificate record (and
	// its revocation) is kept; past NotAfter the chain no longer verifies.
	certRetention = 24 * time.Hour
	// maxPeers bounds the per-peer limiter map; idle peers are evicted
	// first, and a start is refused when every tracked peer is busy.
	maxPeers = 1024
	// registryVersion is the version of the stored document.
	registryVersion = 1
)

// codeRecord is a stored pairing code. Code and TokenSecret are secrets;
// they live only in the encrypted store.
type codeRecord struct {
	ID              string     `json:"id"`
	Code            string     `json:"code"`
	TokenSecret     string     `json:"token_secret"`
	Kind            ClientKind `json:"kind"`
	RequireApproval bool       `json:"require_approval"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Attempts        int        `json:"attempts"`
	BurntAt         *time.Time `json:"burnt_at,omitempty"`
}

// startable reports whether the code can start another attempt.
func (c *codeRecord) startable(now time.Time) bool {
	return now.Before(c.ExpiresAt) && c.Attempts < MaxCodeAttempts
}

// revokedCert is an entry of the revoked certificate set.
type revokedCert struct {
	DeviceID  string    `json:"device_id"`
	RevokedAt time.Time `json:"revoked_at"`
	NotAfter  time.Time `json:"not_after"`
}

// registryDoc is the stored registry; see the package documentation.
type registryDoc struct {
	Version             int                    `json:"version"`
	Generation          uint64                 `json:"generation"`
	Codes               []codeRecord           `json:"codes"`
	Devices             map[string]*Device     `json:"devices"`
	RevokedCertificates map[string]revokedCert `json:"revoked_certificates"`
}

func newRegistryDoc() *registryDoc {
	return &registryDoc{
		Version:             registryVersion,
		Codes:               []codeRecord{},
		Devices:             map[string]*Device{},
		RevokedCertificates: map[string]revokedCert{},
	}
}

func (d *registryDoc) encode() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings, ints, bools, times and maps of them always marshal
	}
	return b
}

// decodeRegistry parses and validates a stored registry document. Errors
// wrap ErrCorrupt.
func decodeRegistry(data []byte) (*registryDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d registryDoc
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrCorrupt)
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if d.Codes == nil {
		d.Codes = []codeRecord{}
	}
	if d.Devices == nil {
		d.Devices = map[string]*Device{}
	}
	if d.RevokedCertificates == nil {
		d.RevokedCertificates = map[string]revokedCert{}
	}
	return &d, nil
}

func isFingerprint(s string) bool { return len(s) == 64 && isLowerHex(s) }

func validKind(k ClientKind) bool { _, err := ParseClientKind(string(k)); return err == nil }

func (d *registryDoc) validate() error {
	if d.Version != registryVersion {
		return fmt.Errorf("version %d, want %d", d.Version, registryVersion)
	}
	seen := map[string]bool{}
	for i, c := range d.Codes {
		switch {
		case !isCanonicalULID(c.ID):
			return fmt.Errorf("code %d: id is not a canonical ULID", i)
		case seen[c.ID]:
			return fmt.Errorf("code %s listed twice", c.ID)
		case len(c.Code) != 6 || !isDigits(c.Code):
			return fmt.Errorf("code %s: the code is not 6 digits", c.ID)
		case len(c.TokenSecret) != 32 || !isLowerHex(c.TokenSecret):
			return fmt.Errorf("code %s: the token secret is not 32 lowercase hex digits", c.ID)
		case !validKind(c.Kind):
			return fmt.Errorf("code %s: unknown kind %q", c.ID, c.Kind)
		case c.Attempts < 0 || c.Attempts > MaxCodeAttempts:
			return fmt.Errorf("code %s: %d attempts, want 0-%d", c.ID, c.Attempts, MaxCodeAttempts)
		case !c.ExpiresAt.After(c.CreatedAt):
			return fmt.Errorf("code %s: expires before it was created", c.ID)
		case (c.BurntAt != nil) != (c.Attempts == MaxCodeAttempts):
			return fmt.Errorf("code %s: burnt_at disagrees with %d attempts", c.ID, c.Attempts)
		}
		seen[c.ID] = true
	}
	for id, dev := range d.Devices {
		if dev == nil {
			return fmt.Errorf("device %q: null record", id)
		}
		switch {
		case dev.ID != id:
			return fmt.Errorf("device %q: record names %q", id, dev.ID)
		case !isCanonicalULID(id):
			return fmt.Errorf("device %q: id is not a canonical ULID", id)
		case !validKind(dev.Kind):
			return fmt.Errorf("device %s: unknown kind %q", id, dev.Kind)
		case !isFingerprint(dev.IdentityFingerprint):
			return fmt.Errorf("device %s: identity fingerprint is not 64 lowercase hex digits", id)
		case dev.CodeID != "" && !isCanonicalULID(dev.CodeID):
			return fmt.Errorf("device %s: code id is not a canonical ULID", id)
		}
		switch dev.State {
		case DevicePending, DeviceApproved, DeviceRejected, DeviceCompleted:
			if dev.RevokedAt != nil {
				return fmt.Errorf("device %s: %s but has revoked_at", id, dev.State)
			}
		case DeviceRevoked:
			if dev.RevokedAt == nil {
				return fmt.Errorf("device %s: revoked without revoked_at", id)
			}
		default:
			return fmt.Errorf("device %s: unknown state %q", id, dev.State)
		}
		for _, c := range dev.Certificates {
			if !isFingerprint(c.Fingerprint) || c.Serial == "" {
				return fmt.Errorf("device %s: certificate record without a valid fingerprint and serial", id)
			}
		}
	}
	for fp, r := range d.RevokedCertificates {
		if !isFingerprint(fp) || !isCanonicalULID(r.DeviceID) {
			return fmt.Errorf("revoked certificate %q: bad fingerprint or device id", fp)
		}
	}
	return nil
}

// prune drops what no longer matters: expired codes, codes burnt more
// than burntGrace ago, and certificate records and revocations
// certRetention past their NotAfter.
func (d *registryDoc) prune(now time.Time) {
	d.Codes = slices.DeleteFunc(d.Codes, func(c codeRecord) bool {
		return !now.Before(c.ExpiresAt) || c.BurntAt != nil && now.Sub(*c.BurntAt) > burntGrace
	})
	for _, dev := range d.Devices {
		dev.Certificates = slices.DeleteFunc(dev.Certificates, func(c CertRecord) bool {
			return now.Sub(c.NotAfter) > certRetention
		})
	}
	for fp, r := range d.RevokedCertificates {
		if now.Sub(r.NotAfter) > certRetention {
			delete(d.RevokedCertificates, fp)
		}
	}
}

func (d *registryDoc) code(id string) *codeRecord {
	for i := range d.Codes {
		if d.Codes[i].ID == id {
			return &d.Codes[i]
		}
	}
	return nil
}

// revokeCerts marks every certificate of dev revoked and adds it to the
// revoked set.
func (d *registryDoc) revokeCerts(dev *Device, now time.Time) {
	for i := range dev.Certificates {
		c := &dev.Certificates[i]
		c.Revoked = true
		if _, ok := d.RevokedCertificates[c.Fingerprint]; !ok {
			d.RevokedCertificates[c.Fingerprint] = revokedCert{DeviceID: dev.ID, RevokedAt: now, NotAfter: c.NotAfter}
		}
	}
}

// snapshot is the registry as CheckCertificate last loaded it.
type snapshot struct {
	doc      *registryDoc
	loadedAt time.Time // time.Now, monotonic
}

// NewManager returns a Manager over store and ca. It reads the registry
// once, so a corrupt registry fails here (wrapping ErrCorrupt and naming
// RegistryKey) instead of on the first handshake.
func NewManager(ctx context.Context, store SecretStore, ca *CertificateAuthority, opts ManagerOptions) (*Manager, error) {
	if store == nil || ca == nil {
		return nil, errors.New("identity: NewManager needs a store and a CA")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PeerRate <= 0 {
		opts.PeerRate = 2 * time.Second
	}
	if opts.PeerBurst <= 0 {
		opts.PeerBurst = 5
	}
	if opts.GlobalRate <= 0 {
		opts.GlobalRate = 100 * time.Millisecond
	}
	if opts.GlobalBurst <= 0 {
		opts.GlobalBurst = 20
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 16
	}
	if opts.ApprovalPoll <= 0 {
		opts.ApprovalPoll = 250 * time.Millisecond
	}
	m := &Manager{
		store:  store,
		ca:     ca,
		opts:   opts,
		pool:   ca.Pool(),
		limits: newLimits(opts),
	}
	d, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	m.setSnapshot(d)
	return m, nil
}

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

// lock takes the in-process mutex, then the store's Locker when it has one.
func (m *Manager) lock(ctx context.Context) (func(), error) {
	m.mu.Lock()
	l, ok := m.store.(Locker)
	if !ok {
		return m.mu.Unlock, nil
	}
	unlock, err := l.Lock(ctx)
	if err != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("identity: lock the registry: %w", err)
	}
	return func() { unlock(); m.mu.Unlock() }, nil
}

// load reads the registry from the store; a missing one is empty.
func (m *Manager) load(ctx context.Context) (*registryDoc, error) {
	data, err := m.store.Get(ctx, RegistryKey)
	if errors.Is(err, ErrNotFound) {
		return newRegistryDoc(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read %q: %w", RegistryKey, err)
	}
	d, err := decodeRegistry(data)
	if err != nil {
		return nil, fmt.Errorf("identity: load %q: %w", RegistryKey, err)
	}
	return d, nil
}

// update is the one read-modify-write path: under the lock it reloads the
// registry, prunes it, applies fn and stores the result. fn returning an
// error stores nothing; errNoWrite stores nothing and is not an error.
func (m *Manager) update(ctx context.Context, fn func(d *registryDoc, now time.Time) error) error {
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := m.load(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	d.prune(now)
	if err := fn(d, now); err != nil {
		if errors.Is(err, errNoWrite) {
			return nil
		}
		return err
	}
	d.Generation++
	if err := m.store.Put(ctx, RegistryKey, d.encode()); err != nil {
		return fmt.Errorf("identity: write %q: %w", RegistryKey, err)
	}
	m.setSnapshot(d)
	return nil
}

var errNoWrite = errors.New("identity: nothing to write")

func (m *Manager) setSnapshot(d *registryDoc) {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if s := m.snap.Load(); s != nil && s.doc.Generation > d.Generation {
		return // a read that raced a write must not bring back the older registry
	}
	m.snap.Store(&snapshot{doc: d, loadedAt: time.Now()})
}

// current returns the registry as of at most maxAge ago. The returned
// document is shared: callers must not modify it.
func (m *Manager) current(ctx context.Context, maxAge time.Duration) (*registryDoc, error) {
	if s := m.snap.Load(); s != nil && time.Since(s.loadedAt) < maxAge {
		return s.doc, nil
	}
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if s := m.snap.Load(); s != nil && time.Since(s.loadedAt) < maxAge {
		return s.doc, nil
	}
	d, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	m.snap.Store(&snapshot{doc: d, loadedAt: time.Now()})
	return d, nil
}

// clampTTL applies DefaultCodeTTL and the [MinCodeTTL, MaxCodeTTL] clamp.
func clampTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl == 0:
		return DefaultCodeTTL
	case ttl < MinCodeTTL:
		return MinCodeTTL
	case ttl > MaxCodeTTL:
		return MaxCodeTTL
	}
	return ttl
}

var million = big.NewInt(1_000_000)

// newCode draws 6 digits uniformly from crypto/rand (rand.Int rejects
// rather than reduces, so there is no modulo bias); leading zeros stay.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, million)
	if err != nil {
		return "", fmt.Errorf("identity: draw a pairing code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// MintCode mints a one-time pairing code. At most MaxActiveCodes codes can
// be active at once (ErrTooManyCodes). The code's digits differ from every
// other stored code's, so a 6-digit attempt names one code.
func (m *Manager) MintCode(ctx context.Context, opts CodeOptions) (*PairingCode, error) {
	kind := opts.Kind
	if kind == "" {
		kind = KindCLI
	}
	if !validKind(kind) {
		return nil, fmt.Errorf("identity: unknown client kind %q (want cli, desktop or node)", kind)
	}
	ttl := clampTTL(opts.TTL)
	var pc *PairingCode
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		active := 0
		for i := range d.Codes {
			if d.Codes[i].startable(now) {
				active++
			}
		}
		if active >= MaxActiveCodes {
			return fmt.Errorf("identity: %d pairing codes active: %w", active, ErrTooManyCodes)
		}
		id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
		if err != nil {
			return fmt.Errorf("identity: code id: %w", err)
		}
		var code string
		for taken := true; taken; {
			if code, err = newCode(); err != nil {
				return err
			}
			taken = slices.ContainsFunc(d.Codes, func(c codeRecord) bool { return c.Code == code })
		}
		var secret [16]byte
		if _, err := rand.Read(secret[:]); err != nil {
			return fmt.Errorf("identity: draw a pairing token: %w", err)
		}
		rec := codeRecord{
			ID:              id.String(),
			Code:            code,
			TokenSecret:     hex.EncodeToString(secret[:]),
			Kind:            kind,
			RequireApproval: opts.RequireApproval,
			CreatedAt:       now,
			ExpiresAt:       now.Add(ttl),
		}
		d.Codes = append(d.Codes, rec)
		pc = &PairingCode{
			ID:              rec.ID,
			Code:            rec.Code,
			Token:           rec.ID + "." + rec.TokenSecret,
			Kind:            kind,
			RequireApproval: rec.RequireApproval,
			CreatedAt:       rec.CreatedAt,
			ExpiresAt:       rec.ExpiresAt,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.opts.Logger.Info("pairing code minted", "code_id", pc.ID, "kind", pc.Kind,
		"require_approval", pc.RequireApproval, "expires_at", pc.ExpiresAt)
	return pc, nil
}

// CodeInfo is a pairing code as listings show it: no code, no token.
type CodeInfo struct {
	ID              string     `json:"id"`
	Kind            ClientKind `json:"kind"`
	RequireApproval bool       `json:"require_approval"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Attempts        int        `json:"attempts"`
	// Burnt: the code has used up its attempts and starts no more.
	Burnt bool `json:"burnt"`
}

// Codes lists the stored, unexpired codes, oldest first, without secrets.
func (m *Manager) Codes(ctx context.Context) ([]CodeInfo, error) {
	d, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	d.prune(now)
	out := []CodeInfo{}
	for _, c := range d.Codes {
		out = append(out, CodeInfo{ID: c.ID, Kind: c.Kind, RequireApproval: c.RequireApproval,
			CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, Attempts: c.Attempts, Burnt: c.Attempts >= MaxCodeAttempts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func cloneDevice(dev *Device) Device {
	c := *dev
	c.Certificates = slices.Clone(dev.Certificates)
	if c.Certificates == nil {
		c.Certificates = []CertRecord{}
	}
	if dev.RevokedAt != nil {
		t := *dev.RevokedAt
		c.RevokedAt = &t
	}
	return c
}

// Devices lists the registry, sorted by id. The registry it read becomes
// the snapshot CheckCertificate uses, so a caller that finds a device
// revoked (the daemon's revocation watcher) knows the next handshake of
// that device is refused.
func (m *Manager) Devices(ctx context.Context) ([]Device, error) {
	d, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	m.setSnapshot(d)
	out := make([]Device, 0, len(d.Devices))
	for _, dev := range d.Devices {
		out = append(out, cloneDevice(dev))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// decide moves a pending device to approved or rejected.
func (m *Manager) decide(ctx context.Context, deviceID string, to DeviceState, reason string) error {
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		dev := d.Devices[deviceID]
		if dev == nil {
			return fmt.Errorf("identity: device %q: %w", deviceID, ErrUnknownDevice)
		}
		if dev.State != DevicePending {
			return fmt.Errorf("identity: device %s is %s, not pending", deviceID, dev.State)
		}
		dev.State = to
		if to == DeviceRejected {
			dev.RejectReason = reason
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.opts.Logger.Info("pairing "+string(to), "device_id", deviceID, "reason", reason)
	return nil
}

// Approve lets a pending device complete pairing. A device that is not
// pending is an error; an unknown one wraps ErrUnknownDevice.
func (m *Manager) Approve(ctx context.Context, deviceID string) error {
	return m.decide(ctx, deviceID, DeviceApproved, "")
}

// Reject refuses a pending device; its pairing fails with
// ErrPairingRejected. Certificates from an earlier pairing stay valid:
// Revoke is what takes a device's access away.
func (m *Manager) Reject(ctx context.Context, deviceID, reason string) error {
	return m.decide(ctx, deviceID, DeviceRejected, reason)
}

// Revoke revokes a device and every certificate issued to it. Revoking a
// revoked device changes nothing; an unknown one wraps ErrUnknownDevice.
// Other processes' CheckCertificate see it within SnapshotMaxAge.
func (m *Manager) Revoke(ctx context.Context, deviceID, reason string) error {
	already := false
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		dev := d.Devices[deviceID]
		if dev == nil {
			return fmt.Errorf("identity: device %q: %w", deviceID, ErrUnknownDevice)
		}
		if dev.State == DeviceRevoked {
			already = true
			return errNoWrite
		}
		dev.State = DeviceRevoked
		dev.RevokedAt = &now
		dev.RevokeReason = reason
		d.revokeCerts(dev, now)
		return nil
	})
	if err != nil {
		return err
	}
	if !already {
		m.opts.Logger.Info("device revoked", "device_id", deviceID, "reason", reason)
	}
	return nil
}

// MaxLiveCertificates bounds the unexpired, unrevoked certificates one
// device holds: Renew refuses more, so a stolen certificate cannot mint an
// unbounded supply before it is revoked.
const MaxLiveCertificates = 8

// Renew issues a new client certificate for a paired device's CSR (DER,
// PKCS#10, its signature proving the new key) and records it as pairing
// does, without revoking the earlier ones: the certificate being renewed
// keeps working until it expires. The caller (the daemon's renew request)
// has verified the device's current certificate on the connection. A
// revoked device wraps ErrDeviceRevoked, an unknown one or one that never
// completed pairing ErrUnknownDevice, a bad CSR ErrInvalidRequest. It
// returns the new certificate's DER.
func (m *Manager) Renew(ctx context.Context, deviceID string, csr []byte) ([]byte, error) {
	var der []byte
	var cert *x509.Certificate
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		dev := d.Devices[deviceID]
		if dev == nil {
			return fmt.Errorf("identity: renew for device %q: %w", deviceID, ErrUnknownDevice)
		}
		switch dev.State {
		case DeviceRevoked:
			return fmt.Errorf("identity: renew for device %s: %w", deviceID, ErrDeviceRevoked)
		case DeviceCompleted:
		default:
			return fmt.Errorf("identity: renew for device %s (%s, never paired): %w", deviceID, dev.State, ErrUnknownDevice)
		}
		live := 0
		for _, c := range dev.Certificates {
			if !c.Revoked && now.Before(c.NotAfter) {
				live++
			}
		}
		if live >= MaxLiveCertificates {
			return fmt.Errorf("identity: renew for device %s: it holds %d live certificates, the limit", deviceID, live)
		}
		var err error
		cert, der, err = m.ca.IssueClientFromCSR(dev.ID, csr)
		if err != nil {
			return fmt.Errorf("identity: renew for device %s: %w", deviceID, err)
		}
		dev.Certificates = append(dev.Certificates, CertRecord{
			Fingerprint: certFingerprint(der),
			Serial:      cert.SerialNumber.Text(16),
			NotAfter:    cert.NotAfter.UTC(),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.opts.Logger.Info("certificate renewed", "device_id", deviceID, "serial", cert.SerialNumber.Text(16), "not_after", cert.NotAfter)
	return der, nil
}

func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// CheckCertificate is the revocation hook: it refuses a client
// certificate of an unknown device (ErrUnknownDevice), of a revoked device
// (ErrDeviceRevoked), with a revoked fingerprint (ErrCertificateRevoked),
// or one the registry did not record as issued to the device
// (ErrUnknownCertificate). It does not verify the chain (VerifyConnection
// does). It reads an in-memory snapshot of the registry at most
// SnapshotMaxAge old, so it costs no I/O on most handshakes; a registry
// that cannot be read refuses every certificate. A certificate the
// snapshot does not know makes it look again in a snapshot at most 20 ms
// old, so a device paired by another process is accepted at once.
func (m *Manager) CheckCertificate(ctx context.Context, cert *x509.Certificate) error {
	id, err := DeviceIDFromCert(cert)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnknownDevice, err)
	}
	fp := certFingerprint(cert.Raw)
	d, err := m.current(ctx, SnapshotMaxAge)
	if err != nil {
		return err
	}
	err = checkCert(d, id, fp)
	if errors.Is(err, ErrUnknownDevice) || errors.Is(err, ErrUnknownCertificate) {
		// Maybe paired in another process since the snapshot: look again,
		// so a new certificate works at once, but reload at most every
		// missReload so a stream of strangers cannot make every
		// handshake read the store.
		if d, err = m.current(ctx, missReload); err != nil {
			return err
		}
		err = checkCert(d, id, fp)
	}
	return err
}

// missReload is how fresh a snapshot must be for CheckCertificate to
// trust its "unknown".
const missReload = 20 * time.Millisecond

func checkCert(d *registryDoc, id, fp string) error {
	dev := d.Devices[id]
	if dev == nil {
		return fmt.Errorf("identity: device %s: %w", id, ErrUnknownDevice)
	}
	if dev.State == DeviceRevoked {
		return fmt.Errorf("identity: device %s: %w", id, ErrDeviceRevoked)
	}
	if _, ok := d.RevokedCertificates[fp]; ok {
		return fmt.Errorf("identity: device %s certificate %s: %w", id, fp, ErrCertificateRevoked)
	}
	for _, c := range dev.Certificates {
		if c.Fingerprint == fp {
			if c.Revoked {
				return fmt.Errorf("identity: device %s certificate %s: %w", id, fp, ErrCertificateRevoked)
			}
			return nil
		}
	}
	return fmt.Errorf("identity: device %s certificate %s: %w", id, fp, ErrUnknownCertificate)
}

// VerifyConnection is for tls.Config.VerifyConnection on the daemon's
// side (with ClientAuth RequireAnyClientCert or stricter): it requires a
// client certificate, verifies its chain to the CA for clientAuth, then
// runs CheckCertificate. Unlike VerifyPeerCertificate, tls calls it on
// resumed handshakes too, so a revoked device cannot come back on a
// session ticket.
func (m *Manager) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("identity: the peer sent no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   m.now(),
	}); err != nil {
		return fmt.Errorf("identity: client certificate does not verify against the CA: %w", err)
	}
	return m.CheckCertificate(context.Background(), leaf)
}

// beginAttempt implements registry.
func (m *Manager) beginAttempt(ctx context.Context, peer, codeID string) ([]candidateCode, func(), error) {
	if err := m.limits.admit(peer, m.now()); err != nil {
		m.opts.Logger.Warn("pairing attempt refused", "peer", peer, "err", err)
		return nil, nil, err
	}
	var once sync.Once
	release := func() { once.Do(m.limits.release) }
	var cands []candidateCode
	var ids []string
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		for i := range d.Codes {
			c := &d.Codes[i]
			if !c.startable(now) || codeID != "" && c.ID != codeID {
				continue
			}
			prs := pinPRS(c.Code)
			if codeID != "" {
				prs = tokenPRS(c.TokenSecret)
			}
			c.Attempts++
			if c.Attempts >= MaxCodeAttempts {
				c.BurntAt = &now
			}
			cands = append(cands, candidateCode{id: c.ID, prs: prs})
			ids = append(ids, c.ID)
		}
		if len(cands) == 0 {
			return ErrNoActiveCode
		}
		return nil
	})
	if err != nil {
		release()
		m.opts.Logger.Warn("pairing attempt refused", "peer", peer, "code_id", codeID, "err", err)
		return nil, nil, err
	}
	m.opts.Logger.Info("pairing attempted", "peer", peer, "code_ids", ids)
	return cands, release, nil
}

// completePairing implements registry. A code whose key was confirmed is
// spent whatever the registry then decides (kind mismatch, revoked
// device, another identity key under the same id), since the peer has
// proved it.
func (m *Manager) completePairing(ctx context.Context, req PairingRequest) (*PairingGrant, error) {
	if !isCanonicalULID(req.DeviceID) {
		return nil, fmt.Errorf("%w: device id is not a canonical ULID", ErrProtocol)
	}
	if len(req.IdentityKey) != 32 {
		return nil, fmt.Errorf("%w: identity key is %d bytes, want 32", ErrProtocol, len(req.IdentityKey))
	}
	csr, err := x509.ParseCertificateRequest(req.CSR)
	if err != nil {
		return nil, fmt.Errorf("%w: CSR: %v", ErrProtocol, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: CSR signature: %v", ErrProtocol, err)
	}
	fp := certFingerprint(req.IdentityKey)
	log := m.opts.Logger.With("device_id", req.DeviceID, "code_id", req.CodeID, "peer", req.Peer)

	var refused error
	var pending bool
	var grant *PairingGrant
	err = m.update(ctx, func(d *registryDoc, now time.Time) error {
		c := d.code(req.CodeID)
		if c == nil || !now.Before(c.ExpiresAt) {
			return fmt.Errorf("identity: code %s: %w", req.CodeID, ErrNoActiveCode)
		}
		code := *c
		d.Codes = slices.DeleteFunc(d.Codes, func(c codeRecord) bool { return c.ID == req.CodeID })
		dev := d.Devices[req.DeviceID]
		switch {
		case code.Kind != req.Kind:
			refused = fmt.Errorf("identity: the code is for a %s, the device says %s: %w", code.Kind, req.Kind, ErrPairingRefused)
			return nil
		case dev != nil && dev.State == DeviceRevoked:
			refused = fmt.Errorf("identity: device %s: %w", req.DeviceID, ErrDeviceRevoked)
			return nil
		case dev != nil && dev.IdentityFingerprint != fp:
			refused = fmt.Errorf("identity: device %s is paired with another identity key: %w", req.DeviceID, ErrPairingRefused)
			return nil
		}
		if dev == nil {
			dev = &Device{ID: req.DeviceID, Certificates: []CertRecord{}}
			d.Devices[req.DeviceID] = dev
		}
		dev.Kind = req.Kind
		dev.IdentityFingerprint = fp
		dev.Peer = req.Peer
		dev.PairedAt = now
		dev.CodeID = req.CodeID
		dev.RejectReason = ""
		if code.RequireApproval {
			dev.State = DevicePending
			pending = true
			return nil
		}
		g, err := m.issue(d, dev, req.CSR, now)
		grant = g
		return err
	})
	if err != nil {
		log.Warn("pairing failed", "err", err)
		return nil, err
	}
	if refused != nil {
		log.Warn("pairing failed", "err", refused)
		return nil, refused
	}
	if pending {
		log.Info("pairing pending approval")
		if req.OnPending != nil {
			req.OnPending()
		}
		if grant, err = m.awaitApproval(ctx, req); err != nil {
			log.Warn("pairing failed", "err", err)
			return nil, err
		}
	}
	log.Info("pairing completed", "certificate", grant.Device.Certificates[len(grant.Device.Certificates)-1].Fingerprint)
	return grant, nil
}

// issue certifies the CSR for dev, revokes dev's earlier certificates and
// records the new one; dev becomes completed.
func (m *Manager) issue(d *registryDoc, dev *Device, csr []byte, now time.Time) (*PairingGrant, error) {
	cert, der, err := m.ca.IssueClientFromCSR(dev.ID, csr)
	if err != nil {
		return nil, fmt.Errorf("identity: issue a certificate for %s: %w", dev.ID, err)
	}
	d.revokeCerts(dev, now)
	dev.Certificates = append(dev.Certificates, CertRecord{
		Fingerprint: certFingerprint(der),
		Serial:      cert.SerialNumber.Text(16),
		NotAfter:    cert.NotAfter.UTC(),
	})
	dev.State = DeviceCompleted
	return &PairingGrant{Device: cloneDevice(dev), ClientCert: der, CACert: m.ca.Root().Raw}, nil
}

// awaitApproval polls the registry every ApprovalPoll until the operator
// decides on the pending pairing req. When ctx ends first the pairing is
// marked rejected ("abandoned"), so listings do not show a pending device
// nobody waits for.
func (m *Manager) awaitApproval(ctx context.Context, req PairingRequest) (*PairingGrant, error) {
	t := time.NewTicker(m.opts.ApprovalPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.abandon(ctx, req)
			return nil, fmt.Errorf("identity: waiting for approval of %s: %w", req.DeviceID, ctx.Err())
		case <-t.C:
		}
		d, err := m.load(ctx)
		if err != nil {
			if ctx.Err() != nil {
				m.abandon(ctx, req)
			}
			return nil, err
		}
		dev := d.Devices[req.DeviceID]
		if err := decided(dev, req); err != nil {
			return nil, err
		}
		if dev.State == DevicePending {
			continue
		}
		var grant *PairingGrant
		err = m.update(ctx, func(d *registryDoc, now time.Time) error {
			dev := d.Devices[req.DeviceID]
			if err := decided(dev, req); err != nil {
				return err
			}
			if dev.State == DevicePending {
				return errors.New("identity: approval withdrawn") // cannot happen: approved never returns to pending
			}
			g, err := m.issue(d, dev, req.CSR, now)
			grant = g
			return err
		})
		if err != nil && ctx.Err() != nil {
			m.abandon(ctx, req)
		}
		return grant, err
	}
}

// decided returns the error ending a pending pairing, or nil when dev is
// still pending or approved for this very pairing.
func decided(dev *Device, req PairingRequest) error {
	if dev == nil || dev.CodeID != req.CodeID {
		return fmt.Errorf("identity: device %s: a newer pairing replaced this one: %w", req.DeviceID, ErrPairingRefused)
	}
	switch dev.State {
	case DevicePending, DeviceApproved:
		return nil
	case DeviceRejected:
		return fmt.Errorf("identity: device %s: %w", req.DeviceID, ErrPairingRejected)
	case DeviceRevoked:
		return fmt.Errorf("identity: device %s: %w", req.DeviceID, ErrDeviceRevoked)
	}
	return fmt.Errorf("identity: device %s is %s: %w", req.DeviceID, dev.State, ErrPairingRefused)
}

func (m *Manager) abandon(ctx context.Context, req PairingRequest) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := m.update(ctx, func(d *registryDoc, now time.Time) error {
		dev := d.Devices[req.DeviceID]
		if decided(dev, req) != nil {
			return errNoWrite
		}
		dev.State = DeviceRejected
		dev.RejectReason = "abandoned: the device left before approval"
		return nil
	})
	if err != nil {
		m.opts.Logger.Warn("pairing abandon not recorded", "device_id", req.DeviceID, "err", err)
	}
}

// limits holds the pairing rate limits and the session cap. Peers are
// keyed by host (the port is dropped), so reconnecting from a new port
// does not buy a fresh burst.
type limits struct {
	mu        sync.Mutex
	peers     map[string]*rate.Limiter
	peerRate  rate.Limit
	peerBurst int
	global    *rate.Limiter
	sessions  int
	max       int
}

func newLimits(o ManagerOptions) *limits {
	return &limits{
		peers:     map[string]*rate.Limiter{},
		peerRate:  rate.Every(o.PeerRate),
		peerBurst: o.PeerBurst,
		global:    rate.NewLimiter(rate.Every(o.GlobalRate), o.GlobalBurst),
		max:       o.MaxSessions,
	}
}

func peerHost(peer string) string {
	if h, _, err := net.SplitHostPort(peer); err == nil {
		return h
	}
	return peer
}

// allow takes one token from l at now, or none when it has none to give.
func allow(l *rate.Limiter, now time.Time) (*rate.Reservation, bool) {
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return r, false
	}
	if r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return r, false
	}
	return r, true
}

// admit takes a session slot, a token of peer's limiter and one of the
// global limiter, or nothing and an error wrapping ErrRateLimited naming
// the limit.
func (l *limits) admit(peer string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions >= l.max {
		return fmt.Errorf("%w: %d pairing sessions in progress (the cap)", ErrRateLimited, l.sessions)
	}
	host := peerHost(peer)
	pl := l.peers[host]
	if pl == nil {
		if len(l.peers) >= maxPeers {
			for h, p := range l.peers {
				if p.TokensAt(now) >= float64(l.peerBurst) {
					delete(l.peers, h)
				}
			}
		}
		if len(l.peers) >= maxPeers {
			return fmt.Errorf("%w: %d peers pairing at once", ErrRateLimited, len(l.peers))
		}
		pl = rate.NewLimiter(l.peerRate, l.peerBurst)
		l.peers[host] = pl
	}
	pr, ok := allow(pl, now)
	if !ok {
		return fmt.Errorf("%w: per-peer limit for %s", ErrRateLimited, host)
	}
	if _, ok := allow(l.global, now); !ok {
		pr.CancelAt(now)
		return fmt.Errorf("%w: global limit", ErrRateLimited)
	}
	l.sessions++
	return nil
}

func (l *limits) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sessions--
}
