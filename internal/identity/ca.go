package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Store keys under which the CA keeps its state, both PEM. They are fixed
// so every process opening the same store finds the same root.
const (
	// CAKeyName holds the root's ECDSA P-256 private key (PKCS#8 PEM).
	CAKeyName = "identity/ca/root.key"
	// CACertName holds the self-signed root certificate (PEM).
	CACertName = "identity/ca/root.crt"
)

// Validity and timing rules of the certificates the CA issues.
const (
	// ClientCertValidity is how long a device certificate lasts, as in Palyra.
	ClientCertValidity = 24 * time.Hour
	// ServerCertValidity is how long a daemon's server certificate lasts.
	ServerCertValidity = 24 * time.Hour
	// RootValidity is the lifetime of a newly created root.
	RootValidity = 10 * 365 * 24 * time.Hour
	// ClockSkew is how far NotBefore is set back so a peer whose clock is
	// a little behind still accepts a freshly issued certificate.
	ClockSkew = 5 * time.Minute
	// RenewBefore: a certificate with this much or less validity left must
	// be renewed (see NeedsRenewal).
	RenewBefore = 10 * time.Minute
)

// DeviceURIScheme is the scheme of the URI SAN that names the device in a
// client certificate: palyra://device/<device id>. Transport code reads the
// device id from this SAN (DeviceIDFromCert), never from the CN, which is
// only for humans.
const DeviceURIScheme = "palyra"

// DefaultCACommonName is the subject CN of a new root.
const DefaultCACommonName = "Palyra Internal CA"

// ErrCorruptCA: the CA state in the store cannot be used (unparseable PEM,
// a key that does not match the certificate, a root that is not a CA).
// Errors wrapping it name the store key at fault.
var ErrCorruptCA = errors.New("identity: corrupt CA state")

// ErrInvalidRequest: an issuing request was refused (bad device id, an
// unsupported public key, a CSR whose signature does not verify).
var ErrInvalidRequest = errors.New("identity: invalid certificate request")

// CAOptions configures NewCA. The zero value is usable.
type CAOptions struct {
	// CommonName of the root when one is created; default
	// DefaultCACommonName. Ignored when the root is loaded.
	CommonName string
	// Now is the clock used for validity periods; default time.Now. Tests
	// inject a fixed clock.
	Now func() time.Time
}

// CertificateAuthority is the daemon's internal CA: an ECDSA P-256 root
// that issues short-lived client certificates to paired devices and server
// certificates to the daemon. It is safe for concurrent use; issuing does
// no I/O.
type CertificateAuthority struct {
	key  *ecdsa.PrivateKey
	root *x509.Certificate
	now  func() time.Time
}

// NewCA loads the CA from store, or creates and persists a new root when
// the store holds none. A root certificate without its key, or state that
// does not parse or match, is an error wrapping ErrCorruptCA: the CA is
// never silently replaced, since that would orphan every issued
// certificate.
//
// Concurrent creators on one store end with one CA when store implements
// Creator (SecretsStore does, across processes too): the key and then the
// root are each stored only if absent, and a creator that loses either
// race uses the winner's. Without Creator, racers may each keep their own
// root, and the stored key and root may not match.
func NewCA(ctx context.Context, store SecretStore, opts CAOptions) (*CertificateAuthority, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cn := opts.CommonName
	if cn == "" {
		cn = DefaultCACommonName
	}
	keyPEM, err := store.Get(ctx, CAKeyName)
	keyMissing := errors.Is(err, ErrNotFound)
	if err != nil && !keyMissing {
		return nil, fmt.Errorf("identity: read %s: %w", CAKeyName, err)
	}
	certPEM, err := store.Get(ctx, CACertName)
	certMissing := errors.Is(err, ErrNotFound)
	if err != nil && !certMissing {
		return nil, fmt.Errorf("identity: read %s: %w", CACertName, err)
	}

	switch {
	case keyMissing && !certMissing:
		return nil, fmt.Errorf("%w: %s present but %s missing", ErrCorruptCA, CACertName, CAKeyName)
	case keyMissing:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("identity: generate CA key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("identity: encode CA key: %w", err)
		}
		// The key goes first: a crash before the certificate is written
		// leaves a key from which the root is recreated below. A racing
		// creator may have stored its key first; then that one is used.
		if keyPEM, err = putNew(ctx, store, CAKeyName, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
	}

	key, err := parseCAKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if certMissing {
		return createRoot(ctx, store, key, cn, now)
	}
	root, err := parseRoot(certPEM, key)
	if err != nil {
		return nil, err
	}
	return &CertificateAuthority{key: key, root: root, now: now}, nil
}

func createRoot(ctx context.Context, store SecretStore, key *ecdsa.PrivateKey, cn string, now func() time.Time) (*CertificateAuthority, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Palyra"}},
		NotBefore:             t.Add(-ClockSkew),
		NotAfter:              t.Add(RootValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("identity: create root certificate: %w", err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: parse new root certificate: %w", err)
	}
	ours := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	stored, err := putNew(ctx, store, CACertName, ours)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(stored, ours) {
		// A racing creator stored its root (for the same key) first.
		if root, err = parseRoot(stored, key); err != nil {
			return nil, err
		}
	}
	return &CertificateAuthority{key: key, root: root, now: now}, nil
}

// putNew stores value under key where nothing is stored yet and returns
// what is stored there now: value, or, when the store is a Creator and a
// racing writer stored its own first, that one. Without Creator it is a
// Put, and racing creators may each keep their own.
func putNew(ctx context.Context, store SecretStore, key string, value []byte) ([]byte, error) {
	c, ok := store.(Creator)
	if !ok {
		if err := store.Put(ctx, key, value); err != nil {
			return nil, fmt.Errorf("identity: write %s: %w", key, err)
		}
		return value, nil
	}
	err := c.Create(ctx, key, value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("identity: write %s: %w", key, err)
	}
	stored, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("identity: read %s: %w", key, err)
	}
	return stored, nil
}

func parseCAKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s: want exactly one PRIVATE KEY PEM block", ErrCorruptCA, CAKeyName)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, CAKeyName, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s: not an ECDSA P-256 key", ErrCorruptCA, CAKeyName)
	}
	return key, nil
}

func parseRoot(data []byte, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s: want exactly one CERTIFICATE PEM block", ErrCorruptCA, CACertName)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, CACertName, err)
	}
	if !root.IsCA || !root.BasicConstraintsValid || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %s: not a CA certificate", ErrCorruptCA, CACertName)
	}
	pub, ok := root.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%w: %s: certificate does not match the key in %s", ErrCorruptCA, CACertName, CAKeyName)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: %s: self-signature: %w", ErrCorruptCA, CACertName, err)
	}
	return root, nil
}

// Root returns the root certificate; callers must not modify it.
func (ca *CertificateAuthority) Root() *x509.Certificate { return ca.root }

// RootPEM returns the root certificate as PEM, the form a paired device
// pins.
func (ca *CertificateAuthority) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// Pool returns a new pool holding only the root, for x509.Verify and
// tls.Config ClientCAs/RootCAs.
func (ca *CertificateAuthority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// DeviceURI returns the URI SAN naming deviceID: palyra://device/<id>.
func DeviceURI(deviceID string) *url.URL {
	return &url.URL{Scheme: DeviceURIScheme, Host: "device", Path: "/" + deviceID}
}

// DeviceIDFromCert returns the device id named by cert's palyra://device/
// URI SAN. It does not verify the certificate.
func DeviceIDFromCert(cert *x509.Certificate) (string, error) {
	var id string
	n := 0
	for _, u := range cert.URIs {
		if u.Scheme == DeviceURIScheme && u.Host == "device" {
			id = strings.TrimPrefix(u.Path, "/")
			n++
		}
	}
	if n != 1 || validDeviceID(id) != nil {
		return "", fmt.Errorf("identity: certificate %q: want exactly one valid %s://device/ URI SAN, found %d", cert.Subject.CommonName, DeviceURIScheme, n)
	}
	return id, nil
}

// validDeviceID keeps ids to what a URI path segment and a CN carry
// without escaping. Device ids are ULIDs; this is looser on purpose so the
// CA does not depend on the id format.
func validDeviceID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: device id must be 1-64 characters", ErrInvalidRequest)
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return fmt.Errorf("%w: device id %q: only letters, digits, '-' and '_' allowed", ErrInvalidRequest, id)
		}
	}
	return nil
}

func checkLeafKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: ECDSA key must be on P-256", ErrInvalidRequest)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: bad Ed25519 key length %d", ErrInvalidRequest, len(k))
		}
	default:
		return fmt.Errorf("%w: unsupported public key type %T (want ECDSA P-256 or Ed25519)", ErrInvalidRequest, pub)
	}
	return nil
}

// IssueClient issues a ClientCertValidity certificate for deviceID's pub:
// CN "Palyra Device <id>", URI SAN palyra://device/<id>, clientAuth only.
// It returns the parsed certificate and its DER.
func (ca *CertificateAuthority) IssueClient(deviceID string, pub crypto.PublicKey) (*x509.Certificate, []byte, error) {
	if err := validDeviceID(deviceID); err != nil {
		return nil, nil, err
	}
	if err := checkLeafKey(pub); err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "Palyra Device " + deviceID, Organization: []string{"Palyra"}},
		URIs:        []*url.URL{DeviceURI(deviceID)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.issue(tmpl, pub, ClientCertValidity)
}

// IssueClientFromCSR is IssueClient for a PKCS#10 CSR (DER). The CSR's
// signature must verify (proof the device holds the key); its subject and
// extensions are ignored, the device id given here is what is certified.
func (ca *CertificateAuthority) IssueClientFromCSR(deviceID string, csrDER []byte) (*x509.Certificate, []byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parse CSR: %w", ErrInvalidRequest, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("%w: CSR signature: %w", ErrInvalidRequest, err)
	}
	return ca.IssueClient(deviceID, csr.PublicKey)
}

// IssueServer issues a ServerCertValidity serverAuth certificate for pub
// with SANs "localhost" plus names; names that parse as IP addresses
// become IP SANs, the rest DNS SANs. Duplicates are dropped.
func (ca *CertificateAuthority) IssueServer(pub crypto.PublicKey, names []string) (*x509.Certificate, []byte, error) {
	if err := checkLeafKey(pub); err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{"Palyra"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
	}
	seen := map[string]bool{"localhost": true}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, nil, fmt.Errorf("%w: empty server name", ErrInvalidRequest)
		}
		if ip := net.ParseIP(n); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
			continue
		}
		n = strings.ToLower(n)
		if !seen[n] {
			seen[n] = true
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.issue(tmpl, pub, ServerCertValidity)
}

func (ca *CertificateAuthority) issue(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, []byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	t := ca.now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = t.Add(-ClockSkew)
	tmpl.NotAfter = t.Add(validity)
	if tmpl.NotAfter.After(ca.root.NotAfter) {
		return nil, nil, fmt.Errorf("identity: CA root expires %s, before the certificate would", ca.root.NotAfter.UTC().Format(time.RFC3339))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, pub, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: issue certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: parse issued certificate: %w", err)
	}
	return cert, der, nil
}

// newSerial returns a random serial of exactly 128 bits: 127 random bits
// with the top bit set, so it is positive and its length is fixed.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("identity: serial: %w", err)
	}
	return n.Or(n, limit), nil
}

// NeedsRenewal reports whether cert has RenewBefore (10 min) or less of
// validity left at now, or has already expired.
func NeedsRenewal(cert *x509.Certificate, now time.Time) bool {
	return cert.NotAfter.Sub(now) <= RenewBefore
}
