package host_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/daemon"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/testskill"
	"github.com/palyra/palyra-go/internal/transport"
)

// testDaemon serves a Host over the QUIC transport as the daemon's
// contract says (docs/remote.md): pairing with the Host's Manager, call,
// list, info and renew. It is the client's counterpart in these tests;
// internal/daemon is the real one.
type testDaemon struct {
	addr  string
	h     *host.Host
	id    *host.Identity
	srv   *transport.Server
	mu    sync.Mutex
	peers []*transport.Peer // the certificate of each request's connection
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startTestDaemon(t testing.TB, h *host.Host) *testDaemon {
	t.Helper()
	ctx := context.Background()
	id, _, err := h.InitIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := id.CA.IssueServer(key.Public(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	d := &testDaemon{h: h, id: id}
	d.srv, err = transport.Listen("127.0.0.1:0", transport.ServerOptions{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		ClientCAs:   id.CA.Pool(),
		VerifyPeer:  id.Manager.VerifyConnection,
		Logger:      quiet(),
		Pairing: func(ctx context.Context, rw io.ReadWriter, remote net.Addr, binding []byte) error {
			_, err := id.Manager.ServePairing(ctx, rw, remote.String(), binding)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.addr = d.srv.Addr().String()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.srv.Serve(sctx, d.handle) }()
	t.Cleanup(func() { cancel(); d.srv.Close(); <-done })
	return d
}

// startRealDaemon serves h with internal/daemon, the real palyra daemon;
// its testDaemon records no peers.
func startRealDaemon(t testing.TB, h *host.Host) *testDaemon {
	t.Helper()
	ctx := context.Background()
	id, _, err := h.InitIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := daemon.New(ctx, daemon.Options{Host: h, Listen: "127.0.0.1:0", Logger: quiet(), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = dm.Run(dctx) }()
	t.Cleanup(func() { stop(); <-done })
	return &testDaemon{addr: dm.Addr().String(), h: h, id: id}
}

func (d *testDaemon) handle(ctx context.Context, p transport.Peer, req *transport.Request) (*transport.Result, error) {
	d.mu.Lock()
	d.peers = append(d.peers, &p)
	d.mu.Unlock()
	switch req.Type {
	case transport.TypeList:
		list, err := d.h.List(ctx)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		data, _ := json.Marshal(list)
		return &transport.Result{Data: data}, nil
	case transport.TypeInfo:
		info, err := d.h.Info(ctx, req.Info.Skill)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		data, _ := json.Marshal(info)
		return &transport.Result{Data: data}, nil
	case transport.TypeCall:
		c := req.Call
		res, err := d.h.Run(ctx, c.Skill, c.Tool, c.Input)
		if err != nil {
			var rep *host.CallResult
			if c.Report {
				rep = res
			}
			return nil, host.RemoteErrorFor(err, rep)
		}
		data := map[string]any{"ran_on": "local"}
		if c.Report {
			b, _ := json.Marshal(res)
			_ = json.Unmarshal(b, &data)
		}
		b, _ := json.Marshal(data)
		return &transport.Result{Output: res.Output, Data: b}, nil
	case transport.TypeRenew:
		dev, err := identity.DeviceIDFromCert(p.Certificate)
		if err != nil {
			return nil, err
		}
		der, err := d.id.Manager.Renew(ctx, dev, req.Renew.CSR)
		if err != nil {
			return nil, host.RemoteErrorFor(err, nil)
		}
		return &transport.Result{Output: der}, nil
	}
	return nil, &transport.RemoteError{Code: "bad_request", Message: "unsupported"}
}

func (d *testDaemon) lastPeerSerial() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peers[len(d.peers)-1].Certificate.SerialNumber.String()
}

func (d *testDaemon) mint(t testing.TB, kind identity.ClientKind) string {
	t.Helper()
	pc, err := d.id.Manager.MintCode(context.Background(), identity.CodeOptions{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return pc.Code
}

// echoServer is a host with acme.echo installed (tool echo: output =
// input; input must be a JSON object, so a string is a schema violation).
func echoServer(t testing.TB) *host.Host {
	t.Helper()
	h := openHost(t, t.TempDir(), host.Options{Logger: quiet()})
	spec := skillSpec{Module: testskill.EchoModule("echo"), InputSchema: `{ type = "object" }`}
	if _, err := h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatal(err)
	}
	return h
}

func pairClient(t testing.TB, d *testDaemon) (*host.Host, *host.RemoteCredentials) {
	t.Helper()
	client := openHost(t, t.TempDir(), host.Options{Logger: quiet()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	creds, err := client.PairRemote(ctx, d.addr, d.mint(t, identity.KindCLI), host.PairOptions{ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("PairRemote: %v", err)
	}
	return client, creds
}

// Pairing stores credentials under the address; a Remote dialed from the
// state dir runs the daemon's skills with the same results and the same
// errors (errors.Is on the host sentinels) as the daemon's own Host.
func TestRemoteMatchesLocal(t *testing.T) {
	ctx := context.Background()
	server := echoServer(t)
	d := startRealDaemon(t, server)
	client, creds := pairClient(t, d)

	stored, err := client.RemoteCredentials(ctx, d.addr)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Cert.Equal(creds.Cert) || !stored.CA.Equal(d.id.CA.Root()) || stored.DeviceID == "" || stored.Kind != identity.KindCLI || stored.ServerName != "127.0.0.1" {
		t.Fatalf("stored credentials %+v differ from pairing's", stored)
	}
	if _, err := client.RemoteCredentials(ctx, "127.0.0.1:1"); !errors.Is(err, host.ErrNotPaired) {
		t.Fatalf("credentials of an unpaired address: %v, want ErrNotPaired", err)
	}

	r, err := client.Dial(ctx, d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	in := []byte(`{"msg":"hello"}`)
	out, err := r.Call(ctx, "acme.echo", "echo", in)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("remote Call = %q, %v", out, err)
	}
	res, where, err := r.RunWhere(ctx, "acme.echo", "echo", in)
	if err != nil || !bytes.Equal(res.Output, in) || res.SkillID != "acme.echo" || res.Version != "1.0.0" || where != "local" {
		t.Fatalf("remote Run = %+v on %q, %v", res, where, err)
	}

	localList, _ := server.List(ctx)
	list, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, list), mustJSON(t, localList); a != b {
		t.Errorf("remote List\n%s\nlocal\n%s", a, b)
	}
	localInfo, _ := server.Info(ctx, "acme.echo")
	info, err := r.Info(ctx, "acme.echo")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, info), mustJSON(t, localInfo); a != b {
		t.Errorf("remote Info\n%s\nlocal\n%s", a, b)
	}

	// The typed clients palyra-gen writes take this interface.
	var _ interface {
		Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error)
	} = r

	for _, tc := range []struct {
		skill, tool string
		input       []byte
		want        error
	}{
		{"acme.echo", "echo", []byte(`"not an object"`), host.ErrSchemaViolation},
		{"acme.nope", "echo", in, host.ErrNotInstalled},
		{"acme.echo", "nope", in, host.ErrNoTool},
	} {
		_, lerr := server.Call(ctx, tc.skill, tc.tool, tc.input)
		_, rerr := r.Call(ctx, tc.skill, tc.tool, tc.input)
		if !errors.Is(lerr, tc.want) || !errors.Is(rerr, tc.want) {
			t.Errorf("%s %s: local %v, remote %v; want both %v", tc.skill, tc.tool, lerr, rerr, tc.want)
			continue
		}
		if lerr.Error() != rerr.Error() {
			t.Errorf("%s %s: remote message %q, local %q", tc.skill, tc.tool, rerr, lerr)
		}
		res, rerr := r.Run(ctx, tc.skill, tc.tool, tc.input)
		lres, _ := server.Run(ctx, tc.skill, tc.tool, tc.input)
		if (res == nil) != (lres == nil) {
			t.Errorf("%s %s: remote Run report %+v, local %+v", tc.skill, tc.tool, res, lres)
		}
		if !errors.Is(rerr, tc.want) {
			t.Errorf("%s %s: remote Run %v", tc.skill, tc.tool, rerr)
		}
	}
	// A connection that closed is dialed again on the next request.
	conn, err := r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if out, err := r.Call(ctx, "acme.echo", "echo", in); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("Call after the connection closed = %q, %v", out, err)
	}
	_, err = r.Info(ctx, "acme.nope")
	if !errors.Is(err, host.ErrNotInstalled) {
		t.Errorf("remote Info of an unknown skill: %v", err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A wrong code pairs nothing and stores nothing; a daemon whose
// certificate does not chain to the CA pairing returned is not trusted.
func TestPairRemoteRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := startTestDaemon(t, echoServer(t))
	client := openHost(t, t.TempDir(), host.Options{Logger: quiet()})
	_ = d.mint(t, identity.KindCLI)
	if _, err := client.PairRemote(ctx, d.addr, "000000-000000", host.PairOptions{ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("paired with a made-up code")
	}
	// A server name the daemon's certificate does not carry: pairing runs
	// (TLS could not check it) but its result is discarded.
	if _, err := client.PairRemote(ctx, d.addr, d.mint(t, identity.KindCLI), host.PairOptions{ServerName: "elsewhere.example"}); err == nil {
		t.Fatal("kept the credentials of a daemon whose certificate does not name the server name")
	}
	if _, err := client.RemoteCredentials(ctx, d.addr); !errors.Is(err, host.ErrNotPaired) {
		t.Fatalf("after failed pairings: %v, want ErrNotPaired", err)
	}
}

// A certificate close to expiry is renewed over the live connection: the
// Remote sends a CSR for a new key, stores the new certificate (OnRenew:
// the state dir), and its next handshake presents it. No pairing again.
func TestRemoteRenewsCertificate(t *testing.T) {
	t.Run("stand-in", func(t *testing.T) { testRenewal(t, startTestDaemon) })
	t.Run("daemon", func(t *testing.T) { testRenewal(t, startRealDaemon) })
}

func testRenewal(t *testing.T, start func(testing.TB, *host.Host) *testDaemon) {
	ctx := context.Background()
	server := echoServer(t)
	d := start(t, server)
	client, creds := pairClient(t, d)

	// The daemon's registry records a certificate for the same device and
	// key from the same CA, issued with a clock 24 h - 5 min back: it has
	// 5 minutes left, under RenewBefore.
	store, err := host.IdentityStoreOf(server)
	if err != nil {
		t.Fatal(err)
	}
	oldCA, err := identity.NewCA(ctx, store, identity.CAOptions{Now: func() time.Time {
		return time.Now().Add(-identity.ClientCertValidity + 5*time.Minute)
	}})
	if err != nil {
		t.Fatal(err)
	}
	oldMgr, err := identity.NewManager(ctx, store, oldCA, identity.ManagerOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, creds.Key)
	if err != nil {
		t.Fatal(err)
	}
	der, err := oldMgr.Renew(ctx, creds.DeviceID, csr)
	if err != nil {
		t.Fatal(err)
	}
	short, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !identity.NeedsRenewal(short, time.Now()) {
		t.Fatal("the short certificate does not need renewal")
	}
	// oldMgr is another process as far as the daemon's Manager knows: its
	// record reaches the daemon's handshake check once the check's
	// snapshot is reloaded (within identity.SnapshotMaxAge), not at once.
	time.Sleep(identity.SnapshotMaxAge)
	creds.Cert = short
	if err := client.SaveRemoteCredentials(ctx, creds); err != nil {
		t.Fatal(err)
	}
	r, err := client.Dial(ctx, d.addr)
	if err != nil {
		t.Fatalf("Dial with a certificate near expiry: %v", err)
	}
	defer r.Close()
	now := r.Credentials()
	if now.Cert.Equal(short) || identity.NeedsRenewal(now.Cert, time.Now()) {
		t.Fatalf("not renewed: certificate until %s", now.Cert.NotAfter)
	}
	if now.Key.Equal(creds.Key) {
		t.Fatal("renewal kept the old key")
	}
	stored, err := client.RemoteCredentials(ctx, d.addr)
	if err != nil || !stored.Cert.Equal(now.Cert) || !stored.Key.Equal(now.Key) {
		t.Fatalf("renewed credentials not stored: %v", err)
	}
	// A new connection (another Remote) presents the renewed certificate.
	r2, err := client.Dial(ctx, d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Call(ctx, "acme.echo", "echo", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if d.srv == nil {
		return // the real daemon does not tell which certificate it saw
	}
	if got := d.lastPeerSerial(); got != now.Cert.SerialNumber.String() {
		t.Fatalf("the daemon saw certificate %s, want the renewed %s", got, now.Cert.SerialNumber)
	}
}
