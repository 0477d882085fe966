package host

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// RemoteOptions configures Dial.
type RemoteOptions struct {
	// OnRenew is called with the new credentials after the certificate
	// has been renewed, so they outlive the process; (*Host).Dial stores
	// them in the state dir. An error is logged: the renewed certificate
	// is used anyway.
	OnRenew func(ctx context.Context, c *RemoteCredentials) error
	// Now is the clock renewal is decided by; default time.Now.
	Now func() time.Time
	// RenewCheck is how often an idle Remote checks whether its
	// certificate needs renewing; default one minute. Every request
	// checks too.
	RenewCheck time.Duration
	// AcceptStreams lets the daemon open streams to this client (a node
	// serving the daemon's calls on Conn).
	AcceptStreams bool
	Logger        *slog.Logger
	Limits        transport.Limits
}

// Remote is a client of a palyra daemon: Call, Run, List and Info have
// the signatures and errors of a local *Host's, so code written against
// one (the typed clients palyra-gen writes take any Call) works against
// the other. Errors from the daemon come back through ErrorFromRemote:
// errors.Is(err, ErrSchemaViolation) and the rest hold as locally.
//
// A Remote keeps one mTLS connection and dials again when it is gone.
// Before its client certificate expires (identity.NeedsRenewal) it sends
// a renew request with a CSR for a fresh P-256 key over the live
// connection; later handshakes present the new certificate, so a paired
// device never needs pairing again while it keeps in touch. A Remote is
// safe for concurrent use.
type Remote struct {
	opts  RemoteOptions
	log   *slog.Logger
	roots *x509.CertPool
	cache tls.ClientSessionCache

	mu    sync.Mutex // guards creds, tlsCert, conn
	creds *RemoteCredentials
	cert  *tls.Certificate
	conn  *transport.Conn

	dialMu  sync.Mutex // one dial at a time
	renewMu sync.Mutex // one renewal at a time

	stop context.CancelFunc
	done chan struct{}
}

// Dial connects to the daemon creds were paired with. opts may be zero.
func Dial(ctx context.Context, creds *RemoteCredentials, opts RemoteOptions) (*Remote, error) {
	if creds == nil {
		return nil, errors.New("host: Dial: no credentials")
	}
	c := creds.clone()
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("host: dial %s: %w", c.Addr, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RenewCheck <= 0 {
		opts.RenewCheck = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.CA)
	r := &Remote{
		opts: opts, log: opts.Logger, roots: roots, cache: tls.NewLRUClientSessionCache(4),
		creds: c, cert: tlsCert(c), done: make(chan struct{}),
	}
	if _, err := r.connection(ctx); err != nil {
		return nil, err
	}
	if err := r.maybeRenew(ctx); err != nil {
		r.log.Warn("remote: certificate renewal failed", "addr", c.Addr, "err", err)
	}
	bg, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.renewLoop(bg)
	return r, nil
}

// Dial connects to the daemon at addr with the credentials 'palyra pair'
// stored in this state dir (ErrNotPaired when there are none); renewed
// certificates are stored back.
func (h *Host) Dial(ctx context.Context, addr string) (*Remote, error) {
	c, err := h.RemoteCredentials(ctx, addr)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, c, RemoteOptions{Logger: h.log, OnRenew: h.SaveRemoteCredentials})
}

func tlsCert(c *RemoteCredentials) *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// Credentials returns a copy of the credentials in use (renewed ones
// once renewal has run).
func (r *Remote) Credentials() *RemoteCredentials {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.creds.clone()
}

// Close closes the connection and stops renewal.
func (r *Remote) Close() error {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	r.mu.Lock()
	conn := r.conn
	r.conn = nil
	r.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}

// Conn returns the live connection, dialing again if it has closed (a
// node serves the daemon's calls on it).
func (r *Remote) Conn(ctx context.Context) (*transport.Conn, error) {
	return r.connection(ctx)
}

func (r *Remote) connection(ctx context.Context) (*transport.Conn, error) {
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn != nil && !closed(conn) {
		return conn, nil
	}
	r.dialMu.Lock()
	defer r.dialMu.Unlock()
	r.mu.Lock()
	conn = r.conn
	addr, name, cache := r.creds.Addr, r.creds.ServerName, r.cache
	r.mu.Unlock()
	if conn != nil && !closed(conn) {
		return conn, nil
	}
	conn, err := transport.Dial(ctx, addr, transport.ClientOptions{
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.cert, nil
		},
		RootCAs: r.roots, ServerName: name, SessionCache: cache,
		AcceptStreams: r.opts.AcceptStreams, Logger: r.log, Limits: r.opts.Limits,
	})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	return conn, nil
}

func closed(c *transport.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// request sends req on the live connection. A connection that died
// between requests is dialed again once; a request that was sent is never
// repeated.
func (r *Remote) request(ctx context.Context, req *transport.Request) (*transport.Result, error) {
	if err := r.maybeRenew(ctx); err != nil {
		r.log.Warn("remote: certificate renewal failed", "err", err)
	}
	conn, err := r.connection(ctx)
	if err != nil {
		return nil, err
	}
	res, err := conn.Call(ctx, req)
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return nil, ErrorFromRemote(re)
	}
	if err != nil {
		return nil, fmt.Errorf("host: remote %s: %w", req.Type, err)
	}
	return res, nil
}

// Call calls tool of skillID on the daemon, as (*Host).Call does locally.
func (r *Remote) Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error) {
	res, err := r.request(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: skillID, Tool: tool, Input: input}})
	if err != nil {
		return nil, err
	}
	return res.Output, nil
}

// Run is (*Host).Run on the daemon: the report is the daemon's (its call
// id, its warm instances). As locally, a call that started and failed
// returns its report with the error.
func (r *Remote) Run(ctx context.Context, skillID, tool string, input []byte) (*CallResult, error) {
	res, _, err := r.RunWhere(ctx, skillID, tool, input)
	return res, err
}

// remoteCallData is a call's Result.Data.
type remoteCallData struct {
	RanOn string `json:"ran_on"`
	CallResult
}

// RunWhere is Run that also says where the call ran: "local" for the
// daemon itself, or the device id of the node it routed the call to.
func (r *Remote) RunWhere(ctx context.Context, skillID, tool string, input []byte) (res *CallResult, ranOn string, err error) {
	out, err := r.request(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: skillID, Tool: tool, Input: input, Report: true}})
	if err != nil {
		var re *transport.RemoteError
		if errors.As(err, &re) {
			if rep := RemoteReport(re); rep != nil {
				return rep, "", err
			}
		}
		return nil, "", err
	}
	var d remoteCallData
	if len(out.Data) > 0 {
		if err := json.Unmarshal(out.Data, &d); err != nil {
			return nil, "", fmt.Errorf("host: remote call report: %w", err)
		}
	}
	d.CallResult.Output = out.Output
	if d.CallResult.Logs == nil {
		d.CallResult.Logs = []GuestLog{}
	}
	return &d.CallResult, d.RanOn, nil
}

// List is (*Host).List on the daemon.
func (r *Remote) List(ctx context.Context) ([]SkillStatus, error) {
	res, err := r.request(ctx, &transport.Request{Type: transport.TypeList})
	if err != nil {
		return nil, err
	}
	var list []SkillStatus
	if err := json.Unmarshal(res.Data, &list); err != nil {
		return nil, fmt.Errorf("host: remote list: %w", err)
	}
	if list == nil {
		list = []SkillStatus{}
	}
	return list, nil
}

// Info is (*Host).Info on the daemon; Dir is the daemon's directory.
func (r *Remote) Info(ctx context.Context, skillID string) (*SkillInfo, error) {
	res, err := r.request(ctx, &transport.Request{Type: transport.TypeInfo, Info: &transport.InfoRequest{Skill: skillID}})
	if err != nil {
		return nil, err
	}
	var info SkillInfo
	if err := json.Unmarshal(res.Data, &info); err != nil {
		return nil, fmt.Errorf("host: remote info: %w", err)
	}
	return &info, nil
}

// renewLoop checks the certificate every RenewCheck, so a Remote that
// makes no requests (a node waiting for calls) renews too.
func (r *Remote) renewLoop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opts.RenewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.maybeRenew(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("remote: certificate renewal failed", "err", err)
			}
		}
	}
}

// maybeRenew renews the certificate when identity.NeedsRenewal says so.
func (r *Remote) maybeRenew(ctx context.Context) error {
	if !r.needsRenewal() {
		return nil
	}
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
	if !r.needsRenewal() {
		return nil // another caller renewed while this one waited
	}
	return r.renew(ctx)
}

func (r *Remote) needsRenewal() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return identity.NeedsRenewal(r.creds.Cert, r.opts.Now())
}

// Renew asks the daemon for a new certificate for a fresh P-256 key over
// the live connection, checks it (it chains to the pinned CA for
// clientAuth, names this device, certifies the new key), and uses it for
// every later handshake; OnRenew stores it. The current certificate is
// not revoked: it keeps working until it expires.
func (r *Remote) Renew(ctx context.Context) error {
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
	return r.renew(ctx)
}

func (r *Remote) renew(ctx context.Context) error {
	r.mu.Lock()
	old := r.creds.clone()
	r.mu.Unlock()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("host: renew: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "Palyra Device " + old.DeviceID},
	}, key)
	if err != nil {
		return fmt.Errorf("host: renew: CSR: %w", err)
	}
	conn, err := r.connection(ctx)
	if err != nil {
		return fmt.Errorf("host: renew: %w", err)
	}
	res, err := conn.Call(ctx, &transport.Request{Type: transport.TypeRenew, Renew: &transport.RenewRequest{CSR: csr}})
	if err != nil {
		var re *transport.RemoteError
		if errors.As(err, &re) {
			err = ErrorFromRemote(re)
		}
		return fmt.Errorf("host: renew: %w", err)
	}
	cert, err := x509.ParseCertificate(res.Output)
	if err != nil {
		return fmt.Errorf("host: renew: the daemon's certificate: %w", err)
	}
	next := old.clone()
	next.Key, next.Cert = key, cert
	if err := next.check(); err != nil {
		return fmt.Errorf("host: renew: the daemon's certificate: %w", err)
	}
	if next.DeviceID != old.DeviceID {
		return fmt.Errorf("host: renew: the daemon certified device %s, not %s", next.DeviceID, old.DeviceID)
	}
	now := r.opts.Now()
	if now.Before(cert.NotBefore) || !now.Before(cert.NotAfter) {
		return fmt.Errorf("host: renew: the daemon's certificate is not valid now (%s to %s)", cert.NotBefore, cert.NotAfter)
	}
	r.mu.Lock()
	r.creds = next
	r.cert = tlsCert(next)
	// A resumed session would carry the old certificate's identity.
	r.cache = tls.NewLRUClientSessionCache(4)
	r.mu.Unlock()
	r.log.Info("remote: certificate renewed", "addr", next.Addr, "device_id", next.DeviceID, "not_after", cert.NotAfter)
	if r.opts.OnRenew != nil {
		if err := r.opts.OnRenew(ctx, next.clone()); err != nil {
			r.log.Warn("remote: storing the renewed certificate failed", "addr", next.Addr, "err", err)
		}
	}
	return nil
}
