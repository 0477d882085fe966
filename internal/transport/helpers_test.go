package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/logtest"
	"github.com/palyra/palyra-go/internal/secrets"
)

// pki is a real identity CA in a real (encrypted, t.TempDir) secret
// store, with a clock tests can move.
type pki struct {
	ca     *identity.CertificateAuthority
	store  identity.SecretStore
	offset atomic.Int64 // added to time.Now by the CA's clock
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	s, err := secrets.Open(filepath.Join(t.TempDir(), "secrets"), secrets.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{store: identity.NewSecretsStore(s)}
	p.ca, err = identity.NewCA(context.Background(), p.store, identity.CAOptions{
		Now: func() time.Time { return time.Now().Add(time.Duration(p.offset.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) client(t testing.TB, device string) tls.Certificate {
	t.Helper()
	k := newKey(t)
	_, der, err := p.ca.IssueClient(device, k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

func (p *pki) server(t testing.TB) tls.Certificate {
	t.Helper()
	k := newKey(t)
	_, der, err := p.ca.IssueServer(k.Public(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// logRecorder keeps every log record, for asserting refusals are logged
// with their reason.
type logRecorder struct{ logtest.Recorder }

// find returns the records with msg whose reason is reason.
func (r *logRecorder) find(msg, reason string) []logtest.Record {
	return r.Find(msg, map[string]string{"reason": reason})
}

// wait polls for a record with msg and reason for up to 3 s.
func (r *logRecorder) wait(t testing.TB, msg, reason string) logtest.Record {
	t.Helper()
	return r.Wait(t, msg, map[string]string{"reason": reason})
}

// testLimits are short so the package's tests stay fast.
var testLimits = Limits{
	HandshakeTimeout: 2 * time.Second,
	IdleTimeout:      5 * time.Second,
	KeepAlive:        time.Second,
	ReadTimeout:      2 * time.Second,
	WriteTimeout:     2 * time.Second,
}

type testServer struct {
	*Server
	pki  *pki
	logs *logRecorder
	addr string
}

// echo answers a call with its input as output and the caller's device id
// in Data; list and info with a small document.
func echo(ctx context.Context, peer Peer, req *Request) (*Result, error) {
	switch req.Type {
	case TypeCall:
		if req.Call.Tool == "fail" {
			return nil, &RemoteError{Code: "not_installed", Message: "skill " + req.Call.Skill + " is not installed", ExitCode: 1}
		}
		if req.Call.Tool == "panic" {
			panic("handler bug")
		}
		if req.Call.Tool == "block" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		data, _ := json.Marshal(map[string]string{"device": peer.DeviceID})
		return &Result{Output: req.Call.Input, Data: data}, nil
	case TypeList:
		return &Result{Data: json.RawMessage(`{"skills":["a","b"]}`)}, nil
	case TypeInfo:
		return &Result{Data: json.RawMessage(fmt.Sprintf(`{"id":%q}`, req.Info.Skill))}, nil
	}
	return nil, fmt.Errorf("unexpected type %q", req.Type)
}

// startServer serves h on 127.0.0.1 with a fresh CA; edit adjusts the
// options first.
func startServer(t testing.TB, h Handler, edit func(*ServerOptions)) *testServer {
	t.Helper()
	p := newPKI(t)
	logs := &logRecorder{}
	opts := ServerOptions{
		Certificate: p.server(t),
		ClientCAs:   p.ca.Pool(),
		Logger:      slog.New(logs),
		Limits:      testLimits,
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{Server: s, pki: p, logs: logs, addr: s.Addr().String()}
}

func (ts *testServer) clientOptions(t testing.TB, device string) ClientOptions {
	return ClientOptions{
		Certificate: ts.pki.client(t, device),
		RootCAs:     ts.pki.ca.Pool(),
		Logger:      slog.New(&logRecorder{}),
		Limits:      testLimits,
	}
}

func (ts *testServer) dial(t testing.TB, device string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), ts.addr, ts.clientOptions(t, device))
	if err != nil {
		t.Fatalf("dial as %s: %v", device, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callEcho(ctx context.Context, c *Conn, input string) (string, error) {
	res, err := c.Call(ctx, &Request{Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte(input)}})
	if err != nil {
		return "", err
	}
	return string(res.Output), nil
}

// mustEcho checks a call on c still works.
func mustEcho(t testing.TB, c *Conn, input string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := callEcho(ctx, c, input)
	if err != nil || out != input {
		t.Fatalf("echo %q = %q, %v", input, out, err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// clientWithoutDevice is a client-auth certificate signed by the CA's own
// key (read from its store) that names no device: the CA never issues
// one, so this is what a forged or foreign-tool certificate looks like.
func (p *pki) clientWithoutDevice(t testing.TB) tls.Certificate {
	t.Helper()
	keyPEM, err := p.store.Get(context.Background(), identity.CAKeyName)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "no device"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca.Root(), k.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}
