package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
)

// tlsServer is a daemon-side TLS config whose VerifyConnection is the
// Manager's, recording whether each handshake was a resumption.
type tlsServer struct {
	cfg *tls.Config

	mu      sync.Mutex
	resumed []bool
}

func newTLSServer(t *testing.T, m *Manager) *tlsServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := m.ca.IssueServer(&key.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{}
	s.cfg = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		// The Manager verifies the chain itself, on resumptions too.
		ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			s.mu.Lock()
			s.resumed = append(s.resumed, cs.DidResume)
			s.mu.Unlock()
			return m.VerifyConnection(cs)
		},
	}
	return s
}

func (s *tlsServer) lastResumed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.resumed) > 0 && s.resumed[len(s.resumed)-1]
}

// handshake connects a client over loopback TCP and returns the server's
// handshake error. (Not net.Pipe: it has no buffer, and in a TLS 1.3
// resumption both sides write at once, which deadlocks on it.) On
// success the server sends one byte, which the client reads so it also
// takes in the session ticket sent after the handshake.
func (s *tlsServer) handshake(t *testing.T, client *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		srv := tls.Server(c, s.cfg)
		err = srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		errc <- err
		srv.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli := tls.Client(c, client)
	if err := cli.Handshake(); err == nil {
		var b [1]byte
		_, _ = cli.Read(b[:])
	}
	cli.Close()
	return <-errc
}

func TestVerifyConnectionOverTLS(t *testing.T) {
	ctx := context.Background()
	m := newRegistry(t, openSecrets(t, t.TempDir()), nil, ManagerOptions{})
	srv := newTLSServer(t, m)
	dev := newTestDevice(t)
	g := pair(t, m, dev, mint(t, m, CodeOptions{}))
	clientCfg := func(der []byte) *tls.Config {
		return &tls.Config{
			RootCAs:            m.ca.Pool(),
			ServerName:         "localhost",
			Certificates:       []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: dev.key}},
			ClientSessionCache: tls.NewLRUClientSessionCache(8),
			MinVersion:         tls.VersionTLS13,
		}
	}

	cfg := clientCfg(g.ClientCert)
	if err := srv.handshake(t, cfg); err != nil {
		t.Fatalf("paired device refused: %v", err)
	}
	if err := srv.handshake(t, cfg); err != nil {
		t.Fatalf("resumed handshake refused: %v", err)
	}
	if !srv.lastResumed() {
		t.Fatal("the second handshake did not resume; the test needs session tickets")
	}

	// No client certificate, one from another CA, one for a device the
	// registry does not know.
	if err := srv.handshake(t, &tls.Config{RootCAs: m.ca.Pool(), ServerName: "localhost"}); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}
	otherCA, err := NewCA(ctx, newMemStore(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, foreign, err := otherCA.IssueClient(dev.id.ID(), &dev.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.handshake(t, clientCfg(foreign)); err == nil || errors.Is(err, ErrUnknownCertificate) {
		t.Fatalf("certificate from another CA: %v, want a chain error", err)
	}
	_, stray, err := m.ca.IssueClient(dev.id.ID(), &dev.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.handshake(t, clientCfg(stray)); !errors.Is(err, ErrUnknownCertificate) {
		t.Fatalf("unrecorded certificate: %v, want ErrUnknownCertificate", err)
	}

	// After revocation, resuming the earlier session is refused too.
	if err := m.Revoke(ctx, dev.id.ID(), "test"); err != nil {
		t.Fatal(err)
	}
	if err := srv.handshake(t, cfg); !errors.Is(err, ErrDeviceRevoked) {
		t.Fatalf("resumed handshake after revocation: %v, want ErrDeviceRevoked", err)
	}
	if !srv.lastResumed() {
		t.Fatal("the handshake after revocation did not resume: the resumption path went untested")
	}
}

// BenchmarkCheckCertificate measures the hook on the handshake path: a
// fresh snapshot, so no store read.
func BenchmarkCheckCertificate(b *testing.B) {
	ctx := context.Background()
	m := newRegistry(b, newMemStore(), nil, ManagerOptions{Logger: slog.New(slog.DiscardHandler)})
	dev := newTestDevice(b)
	g := pair(b, m, dev, mint(b, m, CodeOptions{}))
	cert, err := x509.ParseCertificate(g.ClientCert)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := m.CheckCertificate(ctx, cert); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyConnectionRefuses(t *testing.T) {
	m := newRegistry(t, newMemStore(), nil, ManagerOptions{})
	dev := newTestDevice(t)
	g := pair(t, m, dev, mint(t, m, CodeOptions{}))
	client, _ := x509.ParseCertificate(g.ClientCert)
	_, serverDER, err := m.ca.IssueServer(&dev.key.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := x509.ParseCertificate(serverDER)
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		ok    bool
	}{
		{"paired device", []*x509.Certificate{client}, true},
		{"no certificate", nil, false},
		{"server certificate (no clientAuth)", []*x509.Certificate{server}, false},
		{"the root itself", []*x509.Certificate{m.ca.Root()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.VerifyConnection(tls.ConnectionState{PeerCertificates: tc.chain})
			if (err == nil) != tc.ok {
				t.Fatalf("VerifyConnection = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
