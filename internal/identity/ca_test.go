package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory SecretStore for tests.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (s *memStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = bytes.Clone(value)
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

var t0 = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestCA(t *testing.T) (*CertificateAuthority, *memStore) {
	t.Helper()
	st := newMemStore()
	ca, err := NewCA(context.Background(), st, CAOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return ca, st
}

func p256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRootProperties(t *testing.T) {
	ca, _ := newTestCA(t)
	r := ca.Root()
	if r.Subject.CommonName != DefaultCACommonName {
		t.Errorf("CN = %q", r.Subject.CommonName)
	}
	if !r.IsCA || !r.BasicConstraintsValid || r.MaxPathLen != 0 || !r.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA=%v valid=%v maxPathLen=%d zero=%v", r.IsCA, r.BasicConstraintsValid, r.MaxPathLen, r.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; r.KeyUsage&want != want {
		t.Errorf("key usage %b lacks certSign|crlSign", r.KeyUsage)
	}
	if r.PublicKeyAlgorithm != x509.ECDSA || r.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("root key is %v, want ECDSA P-256", r.PublicKeyAlgorithm)
	}
}

func TestIssueClientVerifies(t *testing.T) {
	ca, _ := newTestCA(t)
	const id = "01JEXAMPLE0DEVICE0000000000"
	cert, der, err := ca.IssueClient(id, p256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cert.Raw, der) {
		t.Fatal("returned DER differs from the certificate's Raw")
	}
	if cert.Subject.CommonName != "Palyra Device "+id {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "palyra://device/"+id {
		t.Errorf("URIs = %v", cert.URIs)
	}
	if got, err := DeviceIDFromCert(cert); err != nil || got != id {
		t.Errorf("DeviceIDFromCert = %q, %v", got, err)
	}
	if got := cert.NotAfter.Sub(t0); got != ClientCertValidity {
		t.Errorf("validity from now = %v, want 24h", got)
	}
	if cert.IsCA {
		t.Error("client certificate is a CA")
	}
	at := t0.Add(time.Hour)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify for clientAuth: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verified for serverAuth")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0.Add(25 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("client certificate verified after 25h")
	}
	// A different CA's pool must not accept it.
	other, _ := newTestCA(t)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: other.Pool(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("client certificate verified against another CA")
	}
}

func TestIssueClientEd25519Key(t *testing.T) {
	ca, _ := newTestCA(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.IssueClient("dev1", pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
}

func TestIssueClientRefuses(t *testing.T) {
	ca, _ := newTestCA(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		pub      any
	}{
		{"empty id", "", p256(t).Public()},
		{"slash in id", "a/b", p256(t).Public()},
		{"space in id", "a b", p256(t).Public()},
		{"long id", strings.Repeat("a", 65), p256(t).Public()},
		{"P-384 key", "dev", p384.Public()},
		{"nil key", "dev", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ca.IssueClient(tc.id, tc.pub); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestIssueClientFromCSR(t *testing.T) {
	ca, _ := newTestCA(t)
	key := p256(t)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Palyra Device someone-else"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.IssueClientFromCSR("dev42", csr)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Palyra Device dev42" {
		t.Errorf("CN = %q: the CSR's subject must be ignored", cert.Subject.CommonName)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certified key is not the CSR's key")
	}

	// Flip a bit in the signature (the last bytes of the DER).
	bad := bytes.Clone(csr)
	bad[len(bad)-2] ^= 1
	if _, _, err := ca.IssueClientFromCSR("dev42", bad); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("tampered CSR: err = %v, want ErrInvalidRequest", err)
	}
	if _, _, err := ca.IssueClientFromCSR("dev42", []byte("junk")); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("junk CSR: err = %v, want ErrInvalidRequest", err)
	}
}

func TestIssueServer(t *testing.T) {
	ca, _ := newTestCA(t)
	cert, _, err := ca.IssueServer(p256(t).Public(), []string{"daemon.example.net", "192.0.2.7", "::1", "localhost", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cert.DNSNames, ","); got != "localhost,daemon.example.net" {
		t.Errorf("DNS SANs = %s", got)
	}
	if len(cert.IPAddresses) != 2 {
		t.Errorf("IP SANs = %v, want 192.0.2.7 and ::1", cert.IPAddresses)
	}
	for _, name := range []string{"localhost", "daemon.example.net", "192.0.2.7", "::1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "other.example.net", Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("verified for a name not in the SANs")
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("server certificate verified for clientAuth")
	}
	if !cert.IPAddresses[0].Equal(net.ParseIP("192.0.2.7")) {
		t.Errorf("first IP SAN = %v", cert.IPAddresses[0])
	}
	if id, err := DeviceIDFromCert(cert); err == nil {
		t.Errorf("DeviceIDFromCert(server cert) = %q, want an error", id)
	}
	if _, _, err := ca.IssueServer(p256(t).Public(), []string{" "}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("blank name: err = %v, want ErrInvalidRequest", err)
	}
}

func TestSerialsAndSkew(t *testing.T) {
	ca, _ := newTestCA(t)
	pub := p256(t).Public()
	seen := map[string]bool{ca.Root().SerialNumber.String(): true}
	for i := 0; i < 200; i++ {
		cert, _, err := ca.IssueClient("dev", pub)
		if err != nil {
			t.Fatal(err)
		}
		s := cert.SerialNumber
		if s.Sign() <= 0 || s.BitLen() != 128 {
			t.Fatalf("serial %x: sign %d, %d bits; want positive, 128 bits", s, s.Sign(), s.BitLen())
		}
		if seen[s.String()] {
			t.Fatalf("serial %x repeated", s)
		}
		seen[s.String()] = true
		if want := t0.Add(-ClockSkew); !cert.NotBefore.Equal(want) {
			t.Fatalf("NotBefore = %v, want %v", cert.NotBefore, want)
		}
	}
	// A peer whose clock is 4 minutes behind still accepts the certificate.
	cert, _, _ := ca.IssueClient("dev", pub)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0.Add(-4 * time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify with a clock 4 min behind: %v", err)
	}
}

func TestNeedsRenewal(t *testing.T) {
	ca, _ := newTestCA(t)
	cert, _, err := ca.IssueClient("dev", p256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	end := cert.NotAfter
	for _, tc := range []struct {
		left time.Duration
		want bool
	}{
		{24 * time.Hour, false},
		{time.Hour, false},
		{10*time.Minute + time.Second, false},
		{10 * time.Minute, true},
		{9 * time.Minute, true},
		{0, true},
		{-time.Hour, true},
	} {
		if got := NeedsRenewal(cert, end.Add(-tc.left)); got != tc.want {
			t.Errorf("%v left: NeedsRenewal = %v, want %v", tc.left, got, tc.want)
		}
	}
}

func TestLoadAfterCreate(t *testing.T) {
	ctx := context.Background()
	ca1, st := newTestCA(t)
	for _, k := range []string{CAKeyName, CACertName} {
		if _, err := st.Get(ctx, k); err != nil {
			t.Fatalf("store lacks %s: %v", k, err)
		}
	}
	ca2, err := NewCA(ctx, st, CAOptions{Now: fixedClock(t0.Add(48 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca1.Root().Raw, ca2.Root().Raw) {
		t.Fatal("loading created a different root")
	}
	// A certificate issued by the reloaded CA chains to the first's pool.
	cert, _, err := ca2.IssueClient("dev", p256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca1.Pool(), CurrentTime: t0.Add(49 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if !bytes.Contains(ca1.RootPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Error("RootPEM is not PEM")
	}
}

func TestCertWithoutKeyRecreatesNothing(t *testing.T) {
	ctx := context.Background()
	_, st := newTestCA(t)
	_ = st.Delete(ctx, CAKeyName)
	_, err := NewCA(ctx, st, CAOptions{})
	if !errors.Is(err, ErrCorruptCA) || !strings.Contains(err.Error(), CAKeyName) {
		t.Fatalf("err = %v, want ErrCorruptCA naming %s", err, CAKeyName)
	}
}

func TestKeyWithoutCertRecreatesRoot(t *testing.T) {
	ctx := context.Background()
	ca1, st := newTestCA(t)
	_ = st.Delete(ctx, CACertName)
	ca2, err := NewCA(ctx, st, CAOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Root().PublicKey.(*ecdsa.PublicKey).Equal(ca1.Root().PublicKey) {
		t.Error("recreated root has a different key")
	}
	if _, err := st.Get(ctx, CACertName); err != nil {
		t.Errorf("recreated root not persisted: %v", err)
	}
}

func TestCorruptStateRefused(t *testing.T) {
	ctx := context.Background()
	_, other := newTestCA(t)
	otherCert, _ := other.Get(ctx, CACertName)
	otherKey, _ := other.Get(ctx, CAKeyName)
	leafCA, _ := newTestCA(t)
	_, leafDER, err := leafCA.IssueClient("dev", p256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	for _, tc := range []struct {
		name, key string
		mutate    func(old []byte) []byte
	}{
		{"cert garbage", CACertName, func([]byte) []byte { return []byte("not pem") }},
		{"cert truncated", CACertName, func(b []byte) []byte { return b[:len(b)/2] }},
		{"cert trailing data", CACertName, func(b []byte) []byte { return append(bytes.Clone(b), "junk"...) }},
		{"cert wrong PEM type", CACertName, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("CERTIFICATE"), []byte("PUBLIC KEY"))
		}},
		{"cert of another CA", CACertName, func([]byte) []byte { return otherCert }},
		{"leaf certificate as root", CACertName, func([]byte) []byte { return leafPEM }},
		{"key of another CA", CAKeyName, func([]byte) []byte { return otherKey }},
		{"key garbage", CAKeyName, func([]byte) []byte { return []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st := newTestCA(t)
			old, _ := st.Get(ctx, tc.key)
			_ = st.Put(ctx, tc.key, tc.mutate(old))
			_, err := NewCA(ctx, st, CAOptions{})
			if !errors.Is(err, ErrCorruptCA) {
				t.Fatalf("err = %v, want ErrCorruptCA", err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %s", err, tc.key)
			}
		})
	}
}

func TestConcurrentIssue(t *testing.T) {
	ca, _ := newTestCA(t)
	pub := p256(t).Public()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := ca.IssueClient("dev", pub); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// FuzzIssueClientFromCSR: a CSR comes from the device being paired, so it
// is untrusted input. Whatever the bytes, issuing must not panic, and a
// certificate is only produced for a CSR whose signature verifies.
func FuzzIssueClientFromCSR(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(csr)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	ca, err := NewCA(context.Background(), newMemStore(), CAOptions{Now: fixedClock(t0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cert, _, err := ca.IssueClientFromCSR("dev", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error not ErrInvalidRequest: %v", err)
			}
			return
		}
		req, perr := x509.ParseCertificateRequest(data)
		if perr != nil || req.CheckSignature() != nil {
			t.Fatal("issued for a CSR that does not parse or verify")
		}
		if cert.Subject.CommonName != "Palyra Device dev" {
			t.Fatalf("CN = %q", cert.Subject.CommonName)
		}
	})
}

// TestMutualTLS runs a real TLS 1.3 handshake over net.Pipe with a server
// and a client certificate from the CA, each side pinning only the root,
// and checks the server learns the device id from the client certificate.
func TestMutualTLS(t *testing.T) {
	ca, _ := newTestCA(t)
	skey, ckey := p256(t), p256(t)
	_, sDER, err := ca.IssueServer(skey.Public(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cDER, err := ca.IssueClient("dev7", ckey.Public())
	if err != nil {
		t.Fatal(err)
	}
	clock := fixedClock(t0.Add(time.Minute))
	srvConf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{sDER}, PrivateKey: skey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS13,
		Time:         clock,
	}
	cliConf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cDER}, PrivateKey: ckey}},
		RootCAs:      ca.Pool(),
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS13,
		Time:         clock,
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv, cli := tls.Server(a, srvConf), tls.Client(b, cliConf)
	errc := make(chan error, 1)
	go func() { errc <- cli.HandshakeContext(context.Background()) }()
	if err := srv.HandshakeContext(context.Background()); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	peers := srv.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		t.Fatal("no client certificate")
	}
	if id, err := DeviceIDFromCert(peers[0]); err != nil || id != "dev7" {
		t.Errorf("device id = %q, %v", id, err)
	}
}

// Creators racing on one fresh store (each with its own SecretsStore over
// the directory, as separate processes would have) end with one CA, the
// one stored. Before NewCA stored key and root create-only, racers each
// kept their own root, and the stored root could belong to another key
// than the stored key, so the next load failed with ErrCorruptCA.
func TestNewCARace(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		dir := t.TempDir()
		const n = 6
		cas := make([]*CertificateAuthority, n)
		stores := make([]*SecretsStore, n)
		for i := range stores {
			stores[i] = openSecrets(t, dir)
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ca, err := NewCA(ctx, stores[i], CAOptions{})
				if err != nil {
					t.Errorf("round %d: NewCA: %v", round, err)
				}
				cas[i] = ca
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		loaded, err := NewCA(ctx, openSecrets(t, dir), CAOptions{})
		if err != nil {
			t.Fatalf("round %d: load after the race: %v", round, err)
		}
		for i, ca := range cas {
			if !bytes.Equal(ca.Root().Raw, loaded.Root().Raw) {
				t.Fatalf("round %d: racer %d kept a root that is not the stored one", round, i)
			}
		}
	}
}
