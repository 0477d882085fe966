package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/palyra/palyra-go/internal/identity"
)

// pairingServer is a transport server whose Pairing runs a real
// identity.Manager's ServePairing over the same CA its server certificate
// comes from, and whose VerifyPeer is the Manager's revocation hook.
type pairingServer struct {
	*testServer
	m   *identity.Manager
	mgr atomic.Pointer[identity.Manager] // m, for the server's goroutines
}

func startPairingServer(t *testing.T, h Handler, edit func(*ServerOptions)) *pairingServer {
	t.Helper()
	ps := &pairingServer{}
	ps.testServer = startServer(t, h, func(o *ServerOptions) {
		o.Pairing = func(ctx context.Context, rw io.ReadWriter, remote net.Addr, binding []byte) error {
			_, err := ps.mgr.Load().ServePairing(ctx, rw, remote.String(), binding)
			return err
		}
		o.VerifyPeer = func(cs tls.ConnectionState) error { return ps.mgr.Load().VerifyConnection(cs) }
		if edit != nil {
			edit(o)
		}
	})
	m, err := identity.NewManager(context.Background(), ps.pki.store, ps.pki.ca, identity.ManagerOptions{Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	ps.m = m
	ps.mgr.Store(m)
	return ps
}

func (ps *pairingServer) mint(t *testing.T) *identity.PairingCode {
	t.Helper()
	pc, err := ps.m.MintCode(context.Background(), identity.CodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// pairOver runs identity.Pair on a fresh pairing connection to addr.
func pairOver(t *testing.T, addr, secret string) (*identity.PairResult, *PairingConn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := DialPairing(ctx, addr, PairingDialOptions{ServerName: "127.0.0.1", Limits: testLimits})
	if err != nil {
		return nil, nil, err
	}
	defer pc.Close()
	dev, err := identity.NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	res, err := identity.Pair(ctx, pc, pc.Binding, secret, dev, identity.KindCLI)
	return res, pc, err
}

func TestPairingOverQUIC(t *testing.T) {
	ps := startPairingServer(t, echo, nil)
	res, pc, err := pairOver(t, ps.addr, ps.mint(t).Code)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	if len(pc.Binding) != PairingBindingSize {
		t.Fatalf("binding of %d bytes", len(pc.Binding))
	}
	if !bytes.Equal(res.CACertDER, ps.pki.ca.Root().Raw) {
		t.Fatal("pairing returned another CA")
	}
	if err := pc.VerifyServer(res.CACert); err != nil {
		t.Fatalf("VerifyServer with the paired CA: %v", err)
	}
	other := newPKI(t)
	if err := pc.VerifyServer(other.ca.Root()); err == nil {
		t.Fatal("VerifyServer accepted a CA the daemon's certificate does not chain to")
	}
	// The certificate pairing gave opens an mTLS connection that works.
	roots := ps.pki.ca.Pool()
	c, err := Dial(context.Background(), ps.addr, ClientOptions{
		Certificate: tls.Certificate{Certificate: [][]byte{res.ClientCertDER}, PrivateKey: res.Key},
		RootCAs:     roots, ServerName: "127.0.0.1", Limits: testLimits, Logger: slogDiscard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustEcho(t, c, "after pairing")
	if c.Peer().Certificate == nil {
		t.Fatal("no peer certificate")
	}
	ps.logs.wait(t, "transport: pairing done", "")
}

// A pairing connection carries pairing frames only: a call request on it
// is a pairing protocol error, never a call.
func TestPairingConnServesNoRequests(t *testing.T) {
	called := make(chan struct{}, 1)
	h := func(ctx context.Context, p Peer, r *Request) (*Result, error) {
		called <- struct{}{}
		return echo(ctx, p, r)
	}
	ps := startPairingServer(t, h, nil)
	for _, typ := range []RequestType{TypeCall, TypeList} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pc, err := DialPairing(ctx, ps.addr, PairingDialOptions{Limits: testLimits})
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{ID: 1, Type: typ}
		if typ == TypeCall {
			req.Call = &CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte("x")}
		}
		payload, err := EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFrame(pc, payload); err != nil {
			t.Fatal(err)
		}
		_ = pc.SetDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(pc)
		if _, err := DecodeResponse(trimFrame(reply)); err == nil {
			t.Errorf("%s on a pairing connection got a transport response: %q", typ, reply)
		}
		if !bytes.Contains(reply, []byte(`"error"`)) {
			t.Errorf("%s on a pairing connection: reply %q, want a pairing error", typ, reply)
		}
		pc.Close()
		cancel()
	}
	select {
	case <-called:
		t.Fatal("the handler ran for a request on a pairing connection")
	default:
	}
	ps.logs.wait(t, "transport: pairing failed", "")
}

func trimFrame(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	return b[4:]
}

// relay accepts pairing connections and bridges each stream to a pairing
// connection of its own to target: two TLS sessions, two exporters.
func startRelay(t *testing.T, target string) *testServer {
	return startServer(t, echo, func(o *ServerOptions) {
		o.Pairing = func(ctx context.Context, rw io.ReadWriter, _ net.Addr, _ []byte) error {
			up, err := DialPairing(ctx, target, PairingDialOptions{Limits: testLimits})
			if err != nil {
				return err
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, rw); done <- struct{}{} }()
			go func() { io.Copy(rw, up); done <- struct{}{} }()
			select {
			case <-done:
			case <-ctx.Done():
			}
			return nil
		}
	})
}

func TestPairingThroughRelayFails(t *testing.T) {
	ps := startPairingServer(t, echo, nil)
	relay := startRelay(t, ps.addr)
	code := ps.mint(t).Code
	_, _, err := pairOver(t, relay.addr, code)
	if !errors.Is(err, identity.ErrPairingFailed) {
		t.Fatalf("pair through a relay: %v, want ErrPairingFailed", err)
	}
	devs, err := ps.m.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 0 {
		t.Fatalf("a relayed pairing registered %d devices", len(devs))
	}
	// The same code still pairs directly (one failed attempt does not
	// burn it).
	if _, _, err := pairOver(t, ps.addr, code); err != nil {
		t.Fatalf("direct pairing after the relay attempt: %v", err)
	}
}

func TestPairingRefusedWhenDisabled(t *testing.T) {
	ts := startServer(t, echo, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc, err := DialPairing(ctx, ts.addr, PairingDialOptions{Limits: testLimits})
	if err == nil {
		pc.Close()
		t.Fatal("pairing connection accepted by a server without Pairing")
	}
	ts.logs.wait(t, "transport: connection refused", ReasonPairingDisabled)
	// Mutual TLS still works on it.
	mustEcho(t, ts.dial(t, "01J0000000000000000000000A"), "still here")
}

// A pairing client cannot pass for an mTLS client: offering both ALPNs
// without a certificate is refused as an mTLS handshake with no
// certificate.
func TestPairingBothALPNsNeedCertificate(t *testing.T) {
	ps := startPairingServer(t, echo, nil)
	_ = ps
	conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN, PairingALPN}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc, err := dialRaw(ctx, ps.addr, conf)
	if err == nil {
		// TLS 1.3: the refusal may arrive after the client's handshake.
		_, err = qc.AcceptStream(ctx)
		qc.CloseWithError(0, "")
	}
	if err == nil {
		t.Fatal("no refusal")
	}
	ps.logs.wait(t, "transport: connection refused", ReasonNoCertificate)
}

func TestPairingConnCap(t *testing.T) {
	ps := startPairingServer(t, echo, func(o *ServerOptions) { o.MaxPairingConns = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, err := DialPairing(ctx, ps.addr, PairingDialOptions{Limits: testLimits})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The server takes the first one once its stream has data.
	if _, err := first.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	second, err := DialPairing(ctx, ps.addr, PairingDialOptions{Limits: testLimits})
	if err == nil {
		_ = second.SetDeadline(time.Now().Add(3 * time.Second))
		_, err = second.Write([]byte{0})
		if err == nil {
			_, err = io.ReadAll(second)
		}
		second.Close()
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("pairing connection over the cap: %v, want ErrRefused", err)
	}
	ps.logs.wait(t, "transport: connection refused", ReasonTooManyPairings)
}

func dialRaw(ctx context.Context, addr string, conf *tls.Config) (*quic.Conn, error) {
	return quic.DialAddr(ctx, addr, conf, quicConfig(testLimits.withDefaults(), 4))
}

func TestCloseCertificate(t *testing.T) {
	ts := startServer(t, echo, nil)
	const dev = "01J0000000000000000000000B"
	dial := func() (*Conn, string) {
		opts := ts.clientOptions(t, dev) // a fresh certificate each time
		c, err := Dial(context.Background(), ts.addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		mustEcho(t, c, "registered")
		sum := sha256.Sum256(opts.Certificate.Certificate[0])
		return c, hex.EncodeToString(sum[:])
	}
	a, fpA := dial()
	b, _ := dial()
	if n := ts.CloseCertificate(dev, fpA, "certificate revoked"); n != 1 {
		t.Fatalf("CloseCertificate closed %d connections, want 1", n)
	}
	select {
	case <-a.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the certificate's connection is still open")
	}
	mustEcho(t, b, "other certificate")
	if n := ts.CloseCertificate(dev, strings.Repeat("0", 64), "x"); n != 0 {
		t.Fatalf("an unknown fingerprint closed %d", n)
	}
}
