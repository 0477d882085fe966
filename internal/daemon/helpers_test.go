package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/logtest"
	"github.com/palyra/palyra-go/internal/secrets"
	"github.com/palyra/palyra-go/internal/testskill"
	"github.com/palyra/palyra-go/internal/transport"
)

// fixture is a daemon on 127.0.0.1 over a real state dir with real
// installed skills: acme.echo (tool echo) and acme.spin (tool spin, which
// loops until its 1 s wall-clock timeout).
type fixture struct {
	dir    string
	h      *host.Host
	d      *Daemon
	logs   *logtest.Recorder
	opts   Options
	addr   string
	cancel context.CancelFunc
	done   chan error
}

var testLimits = transport.Limits{
	HandshakeTimeout: 3 * time.Second,
	IdleTimeout:      10 * time.Second,
	KeepAlive:        time.Second,
	ReadTimeout:      3 * time.Second,
	WriteTimeout:     3 * time.Second,
}

func hostOptions() host.Options {
	return host.Options{Policy: &host.Policy{FuelBudget: 1 << 50}}
}

func startDaemon(t testing.TB, edit func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h, err := host.Open(ctx, dir, hostOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if _, _, err := h.InitIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	key := testskill.NewKey(t)
	for _, spec := range []testskill.Spec{
		{Name: "echo", Module: testskill.EchoModule("echo"), Tools: []string{"echo"}, Key: key},
		{Name: "spin", Module: testskill.SpinModule(false), Tools: []string{"spin"}, Key: key, TimeoutMS: 1000, Fuel: 1 << 50, Memory: 32 << 20},
	} {
		if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true}); err != nil {
			t.Fatalf("install %s: %v", spec.Name, err)
		}
	}
	logs := &logtest.Recorder{}
	opts := Options{Host: h, Listen: "127.0.0.1:0", Logger: slog.New(logs), Limits: testLimits, ServerNames: []string{"daemon.test"}}
	if edit != nil {
		edit(&opts)
	}
	f := &fixture{dir: dir, h: h, logs: logs, opts: opts}
	f.run(t)
	t.Cleanup(func() { f.stop(t) })
	return f
}

// run starts a daemon with f.opts, on f.addr once there is one (so that a
// restarted daemon has the address its clients know).
func (f *fixture) run(t testing.TB) {
	t.Helper()
	opts := f.opts
	if f.addr != "" {
		opts.Listen = f.addr
	}
	d, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	f.d, f.addr, f.cancel, f.done = d, d.Addr().String(), cancel, done
}

// restart stops the daemon gracefully and starts another on the same
// state dir and address, as an operator restarting palyra daemon does.
func (f *fixture) restart(t testing.TB) {
	t.Helper()
	f.stop(t)
	f.run(t)
}

// stop shuts the daemon down and waits for Run (once).
func (f *fixture) stop(t testing.TB) {
	f.cancel()
	if f.done == nil {
		return
	}
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return within 10 s of its context ending")
	}
	f.done = nil
}

// client is a paired device's credentials.
type client struct {
	id   string
	cert tls.Certificate
	ca   *x509.Certificate
}

// pair pairs a new device of kind over the daemon's pairing endpoint,
// with a code minted in the daemon's registry, as `palyra pair` does.
func (f *fixture) pair(t testing.TB, kind identity.ClientKind) *client {
	t.Helper()
	dev, err := identity.NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return f.pairAs(t, kind, dev)
}

// mintCode mints a one-time pairing code for kind in the daemon's
// registry, as `palyra pairing code` does.
func (f *fixture) mintCode(t testing.TB, kind identity.ClientKind) string {
	t.Helper()
	ctx := context.Background()
	ident, err := f.h.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ident.Manager.MintCode(ctx, identity.CodeOptions{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return code.Code
}

// pairHost pairs the state dir of h as kind with h.PairRemote, as
// `palyra pair` does, and returns the credentials it stored.
func (f *fixture) pairHost(t testing.TB, h *host.Host, kind identity.ClientKind) *host.RemoteCredentials {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := f.mintCode(t, kind)
	creds, err := h.PairRemote(ctx, f.addr, code, host.PairOptions{Kind: kind, ServerName: "daemon.test", Limits: testLimits})
	if err != nil {
		t.Fatalf("pair as %s: %v", kind, err)
	}
	return creds
}

// pairAs pairs dev (again, when it paired before).
func (f *fixture) pairAs(t testing.TB, kind identity.ClientKind, dev *identity.DeviceIdentity) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := f.mintCode(t, kind)
	pc, err := transport.DialPairing(ctx, f.addr, transport.PairingDialOptions{ServerName: "daemon.test", Limits: testLimits})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	res, err := identity.Pair(ctx, pc, pc.Binding, code, dev, kind)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	if err := pc.VerifyServer(res.CACert); err != nil {
		t.Fatalf("the daemon's certificate: %v", err)
	}
	return &client{id: dev.ID(), cert: tls.Certificate{Certificate: [][]byte{res.ClientCertDER}, PrivateKey: res.Key}, ca: res.CACert}
}

func (c *client) options() transport.ClientOptions {
	roots := x509.NewCertPool()
	roots.AddCert(c.ca)
	return transport.ClientOptions{Certificate: c.cert, RootCAs: roots, ServerName: "daemon.test", Limits: testLimits, Logger: slog.New(slog.DiscardHandler)}
}

func (f *fixture) dial(t testing.TB, c *client) *transport.Conn {
	t.Helper()
	conn, err := transport.Dial(context.Background(), f.addr, c.options())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func call(ctx context.Context, conn *transport.Conn, skill, tool string, input []byte, report bool) (*transport.Result, error) {
	return conn.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: skill, Tool: tool, Input: input, Report: report}})
}

func newCSR(t testing.TB) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "renew"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return csr, k
}

// echo checks a call of acme.echo on conn still works.
func echo(t testing.TB, conn *transport.Conn, input string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := call(ctx, conn, "acme.echo", "echo", []byte(input), false)
	if err != nil || string(res.Output) != input {
		t.Fatalf("echo %q: %v", input, err)
	}
}

// tlsConfig is what c's transport.Dial would use, offering alpn instead:
// for a raw client (internal/transport/faultclient).
func (c *client) tlsConfig(alpn string) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(c.ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		RootCAs:      roots,
		ServerName:   "daemon.test",
		NextProtos:   []string{alpn},
	}
}

// expiredCert is a client certificate for deviceID from the daemon's own
// CA that expired an hour ago: issued with the CA's key (read from the
// state dir's secret store, as another process would) on a clock 25
// hours back; client certificates last 24.
func (f *fixture) expiredCert(t testing.TB, deviceID string) tls.Certificate {
	t.Helper()
	ctx := context.Background()
	s, err := secrets.Open(filepath.Join(f.dir, "secrets"), secrets.Options{MasterKeyFile: host.SecretsKeyPath(f.dir)})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := identity.NewCA(ctx, identity.NewSecretsStore(s), identity.CAOptions{Now: func() time.Time { return time.Now().Add(-25 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, der, err := ca.IssueClient(deviceID, k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Before(time.Now()) {
		t.Fatalf("the certificate is valid until %v", leaf.NotAfter)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}
