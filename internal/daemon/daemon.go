package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// Defaults of Options.
const (
	DefaultListen         = "127.0.0.1:7444"
	DefaultCheckEvery     = time.Hour
	DefaultRevocationPoll = 250 * time.Millisecond
)

// CodeForbidden is the error code of a request the peer's kind may not
// make (an offer from a device that is not a node).
const CodeForbidden = "forbidden"

// Options configure New.
type Options struct {
	// Host is the opened state dir whose skills are served; required. The
	// daemon does not close it.
	Host *host.Host
	// Listen is the UDP address to listen on; default DefaultListen.
	Listen string
	// ServerNames are extra DNS names or IPs for the daemon's certificate
	// (besides "localhost" and the listen host), the names clients dial.
	ServerNames []string
	// Logger receives the daemon's and the transport's records (every
	// refused connection with its reason); default slog.Default().
	Logger *slog.Logger
	// CheckEvery is the period of the re-audit (host.CheckEvery); 0 means
	// DefaultCheckEvery, negative turns it off.
	CheckEvery time.Duration
	// RevocationPoll is how often the registry is read for revocations;
	// default DefaultRevocationPoll.
	RevocationPoll time.Duration
	// Limits, CallTimeout and MaxConcurrentCalls are the transport's
	// (zero: its defaults).
	Limits             transport.Limits
	CallTimeout        time.Duration
	MaxConcurrentCalls int
}

// Daemon is a bound listener ready to serve; Run serves it.
type Daemon struct {
	opts   Options
	h      *host.Host
	ident  *host.Identity
	log    *slog.Logger
	server *transport.Server
	nodes  *nodeSet

	certMu sync.Mutex
	cert   *tls.Certificate
	names  []string

	kindMu sync.Mutex
	kinds  map[string]identity.ClientKind // device id → kind, from the registry

	pinMu  sync.Mutex
	pins   map[string]pin // skill id → the daemon's current install
	pinsAt time.Time

	runOnce sync.Once
}

// New loads the state dir's identity, issues the daemon's server
// certificate and binds the listener. It fails wrapping host.ErrNoIdentity
// when `palyra identity init` has not run.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Host == nil {
		return nil, errors.New("daemon: Options.Host is required")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.CheckEvery == 0 {
		opts.CheckEvery = DefaultCheckEvery
	}
	if opts.RevocationPoll <= 0 {
		opts.RevocationPoll = DefaultRevocationPoll
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ident, err := opts.Host.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d := &Daemon{opts: opts, h: opts.Host, ident: ident, log: log, nodes: &nodeSet{}, kinds: map[string]identity.ClientKind{}}
	d.names = append(d.names, opts.ServerNames...)
	if hostPart, _, err := net.SplitHostPort(opts.Listen); err == nil && hostPart != "" && hostPart != "0.0.0.0" && hostPart != "::" {
		d.names = append(d.names, hostPart)
	}
	if _, err := d.serverCert(); err != nil {
		return nil, err
	}
	d.server, err = transport.Listen(opts.Listen, transport.ServerOptions{
		GetCertificate:     func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return d.serverCert() },
		ClientCAs:          ident.CA.Pool(),
		VerifyPeer:         ident.Manager.VerifyConnection,
		Pairing:            d.pair,
		Logger:             log,
		Limits:             opts.Limits,
		CallTimeout:        opts.CallTimeout,
		MaxConcurrentCalls: opts.MaxConcurrentCalls,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return d, nil
}

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() net.Addr { return d.server.Addr() }

// CAFingerprint is the fingerprint of the CA clients pin, for the
// operator to compare.
func (d *Daemon) CAFingerprint() string { return d.ident.CAFingerprint() }

// serverCert returns the current server certificate, issuing a new one
// when there is none yet or the current one needs renewal.
func (d *Daemon) serverCert() (*tls.Certificate, error) {
	d.certMu.Lock()
	defer d.certMu.Unlock()
	if d.cert != nil && !identity.NeedsRenewal(d.cert.Leaf, time.Now()) {
		return d.cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("daemon: server key: %w", err)
	}
	leaf, der, err := d.ident.CA.IssueServer(key.Public(), d.names)
	if err != nil {
		return nil, fmt.Errorf("daemon: server certificate: %w", err)
	}
	d.cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	d.log.Info("daemon: server certificate issued", "not_after", leaf.NotAfter, "names", leaf.DNSNames, "ips", leaf.IPAddresses)
	return d.cert, nil
}

// pair is the transport's PairingFunc.
func (d *Daemon) pair(ctx context.Context, rw io.ReadWriter, remote net.Addr, binding []byte) error {
	dev, err := d.ident.Manager.ServePairing(ctx, rw, remote.String(), binding)
	if err != nil {
		return err
	}
	d.kindMu.Lock()
	d.kinds[dev.ID] = dev.Kind
	d.kindMu.Unlock()
	d.log.Info("daemon: device paired", "device", dev.ID, "kind", string(dev.Kind), "remote", remote.String())
	return nil
}

// Run serves until ctx ends, then shuts down gracefully (see the package
// documentation) and returns nil; it returns an error only when the
// listener fails. Run runs once.
func (d *Daemon) Run(ctx context.Context) error {
	ran := false
	d.runOnce.Do(func() { ran = true })
	if !ran {
		return errors.New("daemon: Run called twice")
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if d.opts.CheckEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = d.h.CheckEvery(bg, d.opts.CheckEvery, func(r host.CheckResult) {
				d.forgetPins()
				d.log.Warn("daemon: periodic check quarantined a skill", "skill", r.SkillID, "version", r.Version, "reasons", r.Reasons)
			})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.watchRevocations(bg)
	}()
	d.log.Info("daemon: listening", "addr", d.Addr().String(), "ca_fingerprint", d.CAFingerprint())
	err := d.server.Serve(ctx, d.handle)
	stopBG()
	wg.Wait()
	d.log.Info("daemon: stopped")
	return err
}

// watchRevocations closes the connections of revoked devices, as often as
// RevocationPoll, until ctx ends.
func (d *Daemon) watchRevocations(ctx context.Context) {
	t := time.NewTicker(d.opts.RevocationPoll)
	defer t.Stop()
	dropped := map[string]bool{}
	for {
		devs, err := d.ident.Manager.Devices(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Error("daemon: reading the device registry", "err", err)
		}
		kinds := make(map[string]identity.ClientKind, len(devs))
		for _, dev := range devs {
			kinds[dev.ID] = dev.Kind
			if dev.State != identity.DeviceRevoked {
				// A certificate revoked alone (re-pairing revokes the
				// earlier ones): close what it opened.
				if d.server.DeviceConns(dev.ID) > 0 {
					for _, c := range dev.Certificates {
						if c.Revoked {
							d.server.CloseCertificate(dev.ID, c.Fingerprint, "certificate revoked")
						}
					}
				}
				continue
			}
			// Out of routing first: once the node sees its connection
			// closed, no new call may still be routed to it.
			if !dropped[dev.ID] {
				dropped[dev.ID] = true
				d.nodes.drop(dev.ID)
			}
			if d.server.DeviceConns(dev.ID) > 0 {
				d.server.CloseDevice(dev.ID, "device revoked")
			}
		}
		if err == nil {
			d.kindMu.Lock()
			d.kinds = kinds
			d.kindMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// kindOf returns a device's kind from the registry.
func (d *Daemon) kindOf(ctx context.Context, deviceID string) (identity.ClientKind, error) {
	d.kindMu.Lock()
	k, ok := d.kinds[deviceID]
	d.kindMu.Unlock()
	if ok {
		return k, nil
	}
	devs, err := d.ident.Manager.Devices(ctx)
	if err != nil {
		return "", err
	}
	for _, dev := range devs {
		if dev.ID == deviceID {
			return dev.Kind, nil
		}
	}
	return "", fmt.Errorf("daemon: device %s: %w", deviceID, identity.ErrUnknownDevice)
}

// handle is the transport handler: one request of a verified peer.
func (d *Daemon) handle(ctx context.Context, peer transport.Peer, req *transport.Request) (*transport.Result, error) {
	switch req.Type {
	case transport.TypeList:
		list, err := d.h.List(ctx)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		return dataResult(list)
	case transport.TypeInfo:
		info, err := d.h.Info(ctx, req.Info.Skill)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		return dataResult(info)
	case transport.TypeCall:
		return d.call(ctx, peer, req.Call)
	case transport.TypeRenew:
		der, err := d.ident.Manager.Renew(ctx, peer.DeviceID, req.Renew.CSR)
		if err != nil {
			d.log.Warn("daemon: renew refused", "device", peer.DeviceID, "err", err)
			return nil, host.RemoteErrorFor(err, nil)
		}
		d.log.Info("daemon: certificate renewed", "device", peer.DeviceID)
		return &transport.Result{Output: der}, nil
	case transport.TypeOffer:
		kind, err := d.kindOf(ctx, peer.DeviceID)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		if kind != identity.KindNode {
			return nil, &transport.RemoteError{Code: CodeForbidden, Message: fmt.Sprintf("device %s is paired as %s, not node: it cannot offer skills", peer.DeviceID, kind), ExitCode: 1}
		}
		if err := d.nodes.offer(ctx, peer, req.Offer); err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		return &transport.Result{}, nil
	}
	return nil, &transport.RemoteError{Code: transport.CodeBadRequest, Message: fmt.Sprintf("request type %q not served", req.Type)}
}

func dataResult(v any) (*transport.Result, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &transport.Result{Data: data}, nil
}

// pinnedTTL bounds how stale the daemon's view of its own installs may be
// when it picks the version a node must hold: no more than the host's own
// view of changes other processes make (host.DefaultJournalPollInterval).
// A quarantine by the daemon's own re-audit clears it at once.
const pinnedTTL = 250 * time.Millisecond

type pin struct {
	version, digest string
	eligible        bool
}

// pinned returns the version and payload digest of the daemon's own
// current install of skillID when it is eligible: what a node must hold
// to run the call. ok is false otherwise (not installed, quarantined…):
// the call then runs here, and fails as the local host says. The list is
// read at most every pinnedTTL (reading it costs about 0.1 ms, a quarter
// of a remote call).
func (d *Daemon) pinned(ctx context.Context, skillID string) (version, digest string, ok bool) {
	d.pinMu.Lock()
	defer d.pinMu.Unlock()
	if d.pins == nil || time.Since(d.pinsAt) >= pinnedTTL {
		list, err := d.h.List(ctx)
		if err != nil {
			return "", "", false
		}
		d.pins = make(map[string]pin, len(list))
		for _, s := range list {
			d.pins[s.SkillID] = pin{s.Version, s.PayloadSHA256, s.State == host.StateEligible}
		}
		d.pinsAt = time.Now()
	}
	p := d.pins[skillID]
	return p.version, p.digest, p.eligible
}

// forgetPins makes the next call re-read the installs.
func (d *Daemon) forgetPins() {
	d.pinMu.Lock()
	d.pins = nil
	d.pinMu.Unlock()
}

// call routes a call to a node holding the same signed version, or runs
// it here.
func (d *Daemon) call(ctx context.Context, peer transport.Peer, call *transport.CallRequest) (*transport.Result, error) {
	if version, digest, ok := d.pinned(ctx, call.Skill); ok {
		res, nodeID, err := d.nodes.route(ctx, call, version, digest)
		switch {
		case errors.Is(err, errNoNode):
			// run here
		case err != nil:
			d.log.Warn("daemon: call failed on a node", "skill", call.Skill, "tool", call.Tool, "node", nodeID, "device", peer.DeviceID, "err", err)
			return nil, host.RemoteErrorFor(err, nil)
		default:
			res.Data = withRanOn(res.Data, nodeID)
			return res, nil
		}
	}
	if !call.Report {
		out, err := d.h.Call(ctx, call.Skill, call.Tool, call.Input)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		return &transport.Result{Output: out, Data: json.RawMessage(`{"ran_on":"local"}`)}, nil
	}
	res, err := d.h.Run(ctx, call.Skill, call.Tool, call.Input)
	if err != nil {
		return nil, host.RemoteErrorFor(err, res)
	}
	data, err := reportData(res, "local")
	if err != nil {
		return nil, err
	}
	return &transport.Result{Output: res.Output, Data: data}, nil
}

// reportData is a call's report with ran_on.
func reportData(res *host.CallResult, ranOn string) (json.RawMessage, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return withRanOn(b, ranOn), nil
}

// withRanOn sets "ran_on" in a JSON object (a node's Data), or makes
// {"ran_on": ...} when data is not an object.
func withRanOn(data json.RawMessage, ranOn string) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			m = map[string]json.RawMessage{}
		}
	}
	v, _ := json.Marshal(ranOn)
	m["ran_on"] = v
	out, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{"ran_on":"local"}`)
	}
	return out
}
