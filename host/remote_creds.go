package host

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// ErrNotPaired: the state dir holds no credentials for the daemon address
// asked for; 'palyra pair ADDR' (PairRemote) makes them.
var ErrNotPaired = errors.New("not paired with this daemon (run 'palyra pair ADDR')")

// remoteCredsPrefix is where a client keeps what pairing gave it, one
// entry per daemon address, in the identity scope of its secret store.
const remoteCredsPrefix = "remote/"

// RemoteCredentials are what pairing with a daemon gave this device: the
// TLS client key and certificate, and the daemon's CA, pinned as the only
// root its certificate may chain to. Key is secret.
type RemoteCredentials struct {
	// Addr is the daemon's UDP host:port.
	Addr string
	// ServerName is the name the daemon's certificate must carry
	// ("localhost" unless the daemon was given others).
	ServerName string
	Kind       identity.ClientKind
	// DeviceID is this device's id, as Cert names it.
	DeviceID string
	Key      *ecdsa.PrivateKey
	Cert     *x509.Certificate
	CA       *x509.Certificate
}

// credsRecord is the stored form of RemoteCredentials.
type credsRecord struct {
	Addr       string `json:"addr"`
	ServerName string `json:"server_name"`
	Kind       string `json:"kind"`
	ClientKey  []byte `json:"client_key_pkcs8"`
	ClientCert []byte `json:"client_cert_der"`
	CACert     []byte `json:"ca_cert_der"`
}

// remoteCredsKey is the store key of addr's credentials: "remote/" and the
// address with every character a store key may not hold (':', '[', ']',
// '%'…) replaced by '_', so "127.0.0.1:7444" is "remote/127.0.0.1_7444".
func remoteCredsKey(addr string) string {
	var b strings.Builder
	b.WriteString(remoteCredsPrefix)
	for _, r := range addr {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (c *RemoteCredentials) marshal() ([]byte, error) {
	key, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w", err)
	}
	return json.Marshal(credsRecord{
		Addr: c.Addr, ServerName: c.ServerName, Kind: string(c.Kind),
		ClientKey: key, ClientCert: c.Cert.Raw, CACert: c.CA.Raw,
	})
}

func unmarshalCreds(data []byte) (*RemoteCredentials, error) {
	var rec credsRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: %w", identity.ErrCorrupt, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(rec.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: key: %w", identity.ErrCorrupt, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("host: remote credentials: %w: key is %T, want ECDSA", identity.ErrCorrupt, k)
	}
	cert, err := x509.ParseCertificate(rec.ClientCert)
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: certificate: %w", identity.ErrCorrupt, err)
	}
	ca, err := x509.ParseCertificate(rec.CACert)
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: CA: %w", identity.ErrCorrupt, err)
	}
	kind, err := identity.ParseClientKind(rec.Kind)
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: %w", identity.ErrCorrupt, err)
	}
	c := &RemoteCredentials{Addr: rec.Addr, ServerName: rec.ServerName, Kind: kind, Key: key, Cert: cert, CA: ca}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("host: remote credentials: %w: %w", identity.ErrCorrupt, err)
	}
	return c, nil
}

// check verifies that the certificate certifies Key, names a device,
// allows clientAuth and chains to CA (expiry aside: an expired
// certificate is still the device's, and renewal or re-pairing is what
// fixes it). It fills DeviceID.
func (c *RemoteCredentials) check() error {
	if c.Key == nil || c.Cert == nil || c.CA == nil {
		return errors.New("incomplete credentials")
	}
	if !c.Key.PublicKey.Equal(c.Cert.PublicKey) {
		return errors.New("the client certificate does not certify the client key")
	}
	id, err := identity.DeviceIDFromCert(c.Cert)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.CA)
	if _, err := c.Cert.Verify(x509.VerifyOptions{
		Roots: roots, CurrentTime: c.Cert.NotAfter.Add(-time.Second),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("the client certificate does not chain to the pinned CA: %w", err)
	}
	c.DeviceID = id
	return nil
}

func (c *RemoteCredentials) clone() *RemoteCredentials {
	cp := *c
	return &cp
}

// remoteStore is the state dir's secret store as identity sees it.
func (h *Host) remoteStore() (*identity.SecretsStore, error) {
	s, err := h.secretStore()
	if err != nil {
		return nil, err
	}
	return identity.NewSecretsStore(s), nil
}

// RemoteCredentials returns the credentials stored for the daemon at
// addr, or an error wrapping ErrNotPaired.
func (h *Host) RemoteCredentials(ctx context.Context, addr string) (*RemoteCredentials, error) {
	store, err := h.remoteStore()
	if err != nil {
		return nil, err
	}
	data, err := store.Get(ctx, remoteCredsKey(addr))
	if errors.Is(err, identity.ErrNotFound) {
		return nil, fmt.Errorf("host: %s: %w", addr, ErrNotPaired)
	}
	if err != nil {
		return nil, fmt.Errorf("host: remote credentials for %s: %w", addr, err)
	}
	c, err := unmarshalCreds(data)
	if err != nil {
		return nil, err
	}
	c.Addr = addr
	return c, nil
}

// SaveRemoteCredentials stores c under its Addr, replacing what was there.
func (h *Host) SaveRemoteCredentials(ctx context.Context, c *RemoteCredentials) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("host: remote credentials for %s: %w", c.Addr, err)
	}
	data, err := c.marshal()
	if err != nil {
		return err
	}
	store, err := h.remoteStore()
	if err != nil {
		return err
	}
	if err := store.Put(ctx, remoteCredsKey(c.Addr), data); err != nil {
		return fmt.Errorf("host: save remote credentials for %s: %w", c.Addr, err)
	}
	return nil
}

// PairOptions configures PairRemote.
type PairOptions struct {
	// Kind is what this device pairs as; default identity.KindCLI. It
	// must be the kind the code was minted for.
	Kind identity.ClientKind
	// ServerName is the name the daemon's certificate must carry;
	// default "localhost", a name every daemon certificate has.
	ServerName string
	// Limits bound the pairing connection (tests shorten them).
	Limits transport.Limits
}

// PairRemote pairs this device with the daemon at addr (UDP host:port)
// using secret, the code or token its operator minted ('palyra pairing
// code'), and stores the credentials it gets under addr. The device
// identity is created first if the state dir has none.
//
// The pairing runs on a pairing connection whose TLS cannot verify the
// daemon yet: the exchange is bound to that TLS session (a relay fails),
// and once it succeeds the daemon's certificate must chain to the CA it
// returned, for serverAuth and ServerName; otherwise nothing is stored.
// A wrong code wraps identity.ErrPairingFailed; the daemon's refusals
// wrap identity's sentinels.
func (h *Host) PairRemote(ctx context.Context, addr, secret string, opts PairOptions) (*RemoteCredentials, error) {
	if opts.Kind == "" {
		opts.Kind = identity.KindCLI
	}
	if _, err := identity.ParseClientKind(string(opts.Kind)); err != nil {
		return nil, err
	}
	if opts.ServerName == "" {
		opts.ServerName = "localhost"
	}
	dev, err := h.deviceIdentity(ctx)
	if err != nil {
		return nil, err
	}
	pc, err := transport.DialPairing(ctx, addr, transport.PairingDialOptions{ServerName: opts.ServerName, Limits: opts.Limits})
	if err != nil {
		return nil, fmt.Errorf("host: pair with %s: %w", addr, err)
	}
	defer pc.Close()
	res, err := identity.Pair(ctx, pc, pc.Binding, secret, dev, opts.Kind)
	if err != nil {
		return nil, fmt.Errorf("host: pair with %s: %w", addr, err)
	}
	if err := pc.VerifyServer(res.CACert); err != nil {
		return nil, fmt.Errorf("host: pair with %s: %w", addr, err)
	}
	c := &RemoteCredentials{Addr: addr, ServerName: opts.ServerName, Kind: opts.Kind, Key: res.Key, Cert: res.ClientCert, CA: res.CACert}
	if err := h.SaveRemoteCredentials(ctx, c); err != nil {
		return nil, err
	}
	h.log.Info("paired with daemon", "addr", addr, "device_id", c.DeviceID, "kind", c.Kind, "not_after", c.Cert.NotAfter)
	return c.clone(), nil
}

// deviceIdentity returns this machine's device identity, creating it when
// the state dir has none. Unlike InitIdentity it makes no CA: a client
// that only pairs with daemons needs none.
func (h *Host) deviceIdentity(ctx context.Context) (*identity.DeviceIdentity, error) {
	store, err := h.remoteStore()
	if err != nil {
		return nil, err
	}
	unlock, err := store.Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("host: identity: %w", err)
	}
	defer unlock()
	dev, err := identity.LoadOrCreate(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return dev, nil
}
