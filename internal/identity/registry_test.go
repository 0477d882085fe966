package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is an injectable clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newRegistry opens a Manager over store with its CA in the same store.
// Options left zero get the Manager's defaults, except the clock, which
// is clock when given.
func newRegistry(t testing.TB, store SecretStore, clock *testClock, opts ManagerOptions) *Manager {
	t.Helper()
	ctx := context.Background()
	var now func() time.Time
	if clock != nil {
		now = clock.Now
		opts.Now = clock.Now
	}
	ca, err := NewCA(ctx, store, CAOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	m, err := NewManager(ctx, store, ca, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testDevice is a device about to pair: an identity and a TLS key.
type testDevice struct {
	id  *DeviceIdentity
	key *ecdsa.PrivateKey
	csr []byte
}

func newTestDevice(t testing.TB) *testDevice {
	t.Helper()
	id, err := NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{id: id, key: key, csr: csr}
}

func (d *testDevice) request(codeID string, kind ClientKind) PairingRequest {
	return PairingRequest{
		CodeID:      codeID,
		DeviceID:    d.id.ID(),
		Kind:        kind,
		IdentityKey: d.id.PublicKey(),
		CSR:         d.csr,
		Peer:        "192.0.2.7:50000",
	}
}

// pair runs the registry's half of a successful pairing: one attempt on
// the code's token, then completion.
func pair(t testing.TB, m *Manager, dev *testDevice, pc *PairingCode) *PairingGrant {
	t.Helper()
	ctx := context.Background()
	cands, release, err := m.beginAttempt(ctx, "192.0.2.7:50000", pc.ID)
	if err != nil {
		t.Fatalf("beginAttempt: %v", err)
	}
	defer release()
	if len(cands) != 1 || cands[0].id != pc.ID {
		t.Fatalf("candidates = %v, want only %s", cands, pc.ID)
	}
	g, err := m.completePairing(ctx, dev.request(pc.ID, pc.Kind))
	if err != nil {
		t.Fatalf("completePairing: %v", err)
	}
	return g
}

func mint(t testing.TB, m *Manager, opts CodeOptions) *PairingCode {
	t.Helper()
	pc, err := m.MintCode(context.Background(), opts)
	if err != nil {
		t.Fatalf("MintCode: %v", err)
	}
	return pc
}

func TestMintCodeForm(t *testing.T) {
	var logs syncBuffer
	m := newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	leadingZero := false
	counts := [10]int{}
	var minted []*PairingCode
	for i := 0; i < 200; i++ {
		if i%MaxActiveCodes == 0 {
			// Start over: a fresh store so the cap does not stop us.
			m = newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		}
		pc := mint(t, m, CodeOptions{})
		minted = append(minted, pc)
		if len(pc.Code) != 6 || !isDigits(pc.Code) {
			t.Fatalf("code %q is not 6 digits", pc.Code)
		}
		if pc.Code[0] == '0' {
			leadingZero = true
		}
		for _, c := range pc.Code {
			counts[c-'0']++
		}
		id, secret, ok := strings.Cut(pc.Token, ".")
		if !ok || id != pc.ID || !isCanonicalULID(id) || len(secret) != 32 || !isLowerHex(secret) {
			t.Fatalf("token %q is not <code id>.<32 hex>", pc.Token)
		}
		gotID, prs, err := parsePairingSecret(pc.Token)
		if err != nil || gotID != pc.ID || !bytes.Equal(prs, tokenPRS(secret)) {
			t.Fatalf("parsePairingSecret(token) = %q, %q, %v", gotID, prs, err)
		}
		if pc.Kind != KindCLI || pc.RequireApproval {
			t.Fatalf("defaults: kind %q approval %v", pc.Kind, pc.RequireApproval)
		}
	}
	// 1200 digits: each digit's expected count is 120; a digit below 60
	// or above 180 is a biased generator (the chance of that by luck is
	// far below 1e-9).
	for d, n := range counts {
		if n < 60 || n > 180 {
			t.Errorf("digit %d drawn %d times of 1200", d, n)
		}
	}
	// P(no code of 200 starts with 0) = 0.9^200 ≈ 7e-10.
	if !leadingZero {
		t.Error("no code started with 0: leading zeros dropped?")
	}
	out := logs.String()
	for _, pc := range minted {
		if strings.Contains(out, pc.Token) || strings.Contains(out, strings.SplitN(pc.Token, ".", 2)[1]) ||
			strings.Contains(out, `"`+pc.Code+`"`) {
			t.Fatalf("a code or token reached the log: %s", out)
		}
	}
	if !strings.Contains(out, "pairing code minted") {
		t.Fatalf("no mint event logged: %s", out)
	}
}

func TestMintCodeTTLAndKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts CodeOptions
		ttl  time.Duration
		kind ClientKind
	}{
		{"default", CodeOptions{}, DefaultCodeTTL, KindCLI},
		{"below min", CodeOptions{TTL: time.Second}, MinCodeTTL, KindCLI},
		{"negative", CodeOptions{TTL: -time.Hour}, MinCodeTTL, KindCLI},
		{"above max", CodeOptions{TTL: 48 * time.Hour}, MaxCodeTTL, KindCLI},
		{"in range", CodeOptions{TTL: time.Hour, Kind: KindNode}, time.Hour, KindNode},
		{"desktop", CodeOptions{Kind: KindDesktop, RequireApproval: true}, DefaultCodeTTL, KindDesktop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			m := newRegistry(t, newMemStore(), clock, ManagerOptions{})
			pc := mint(t, m, tc.opts)
			if got := pc.ExpiresAt.Sub(pc.CreatedAt); got != tc.ttl || !pc.CreatedAt.Equal(clock.Now()) {
				t.Fatalf("TTL %v from %v, want %v from %v", got, pc.CreatedAt, tc.ttl, clock.Now())
			}
			if pc.Kind != tc.kind || pc.RequireApproval != tc.opts.RequireApproval {
				t.Fatalf("kind %q approval %v", pc.Kind, pc.RequireApproval)
			}
		})
	}
	m := newRegistry(t, newMemStore(), nil, ManagerOptions{})
	if _, err := m.MintCode(context.Background(), CodeOptions{Kind: "phone"}); err == nil {
		t.Fatal("MintCode with an unknown kind succeeded")
	}
}

func TestMintCodeCap(t *testing.T) {
	clock := newTestClock()
	m := newRegistry(t, newMemStore(), clock, ManagerOptions{})
	seen := map[string]bool{}
	for i := 0; i < MaxActiveCodes; i++ {
		pc := mint(t, m, CodeOptions{TTL: time.Minute})
		if seen[pc.Code] {
			t.Fatalf("two active codes share the digits %s", pc.Code)
		}
		seen[pc.Code] = true
	}
	if _, err := m.MintCode(context.Background(), CodeOptions{}); !errors.Is(err, ErrTooManyCodes) {
		t.Fatalf("code %d = %v, want ErrTooManyCodes", MaxActiveCodes+1, err)
	}
	clock.Advance(time.Minute) // all expire and are pruned on the next write
	mint(t, m, CodeOptions{})
	codes, err := m.Codes(context.Background())
	if err != nil || len(codes) != 1 {
		t.Fatalf("Codes after expiry = %v, %v; want one", codes, err)
	}
}

// Every attempt counts before the handshake runs: five attempts burn the
// code, and the sixth is refused even though the (right) code is used.
func TestAttemptsBurnCodeAtFive(t *testing.T) {
	for _, form := range []string{"pin", "token"} {
		t.Run(form, func(t *testing.T) {
			ctx := context.Background()
			m := newRegistry(t, openSecrets(t, t.TempDir()), newTestClock(), ManagerOptions{PeerBurst: 100, GlobalBurst: 100})
			pc := mint(t, m, CodeOptions{})
			codeID := ""
			if form == "token" {
				codeID = pc.ID
			}
			for i := 1; i <= MaxCodeAttempts; i++ {
				cands, release, err := m.beginAttempt(ctx, "192.0.2.1:1", codeID)
				if err != nil {
					t.Fatalf("attempt %d: %v", i, err)
				}
				want := pinPRS(pc.Code)
				if form == "token" {
					_, want, _ = parsePairingSecret(pc.Token)
				}
				if len(cands) != 1 || cands[0].id != pc.ID || !bytes.Equal(cands[0].prs, want) {
					t.Fatalf("attempt %d: candidates %v", i, cands)
				}
				release()
				codes, err := m.Codes(ctx)
				if err != nil || len(codes) != 1 || codes[0].Attempts != i || codes[0].Burnt != (i == MaxCodeAttempts) {
					t.Fatalf("after attempt %d: Codes = %+v, %v", i, codes, err)
				}
			}
			if _, _, err := m.beginAttempt(ctx, "192.0.2.1:1", codeID); !errors.Is(err, ErrNoActiveCode) {
				t.Fatalf("attempt 6 = %v, want ErrNoActiveCode", err)
			}
			// The fifth attempt's handshake, if it proved the code, still
			// completes.
			if _, err := m.completePairing(ctx, newTestDevice(t).request(pc.ID, KindCLI)); err != nil {
				t.Fatalf("completing the fifth attempt: %v", err)
			}
		})
	}
}

func TestAttemptCandidates(t *testing.T) {
	ctx := context.Background()
	m := newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{PeerBurst: 100, GlobalBurst: 100})
	if _, _, err := m.beginAttempt(ctx, "p", ""); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("attempt with no code = %v, want ErrNoActiveCode", err)
	}
	a := mint(t, m, CodeOptions{})
	b := mint(t, m, CodeOptions{})
	cands, release, err := m.beginAttempt(ctx, "p", "")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if len(cands) != 2 {
		t.Fatalf("PIN attempt: %d candidates, want both codes", len(cands))
	}
	cands, release, err = m.beginAttempt(ctx, "p", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if len(cands) != 1 || cands[0].id != b.ID {
		t.Fatalf("token attempt: candidates %v, want only %s", cands, b.ID)
	}
	codes, _ := m.Codes(ctx)
	got := map[string]int{}
	for _, c := range codes {
		got[c.ID] = c.Attempts
	}
	if got[a.ID] != 1 || got[b.ID] != 2 {
		t.Fatalf("attempts = %v, want %s:1 %s:2", got, a.ID, b.ID)
	}
	if _, _, err := m.beginAttempt(ctx, "p", "01ARZ3NDEKTSV4RRFFQ69G5FAV"); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("attempt on an unknown code id = %v, want ErrNoActiveCode", err)
	}
}

func TestExpiredCodeRefused(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	m := newRegistry(t, newMemStore(), clock, ManagerOptions{})
	pc := mint(t, m, CodeOptions{TTL: MinCodeTTL})
	clock.Advance(MinCodeTTL - time.Nanosecond)
	_, release, err := m.beginAttempt(ctx, "p", pc.ID)
	if err != nil {
		t.Fatalf("attempt just before expiry: %v", err)
	}
	release()
	clock.Advance(time.Nanosecond)
	if _, _, err := m.beginAttempt(ctx, "p", pc.ID); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("attempt at expiry = %v, want ErrNoActiveCode", err)
	}
	// A handshake begun before expiry cannot complete after it.
	if _, err := m.completePairing(ctx, newTestDevice(t).request(pc.ID, KindCLI)); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("completion after expiry = %v, want ErrNoActiveCode", err)
	}
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("per peer", func(t *testing.T) {
		clock := newTestClock()
		m := newRegistry(t, newMemStore(), clock, ManagerOptions{PeerRate: 2 * time.Second, PeerBurst: 3})
		mint(t, m, CodeOptions{TTL: time.Hour})
		pc := mint(t, m, CodeOptions{TTL: time.Hour})
		for i := 0; i < 3; i++ {
			_, release, err := m.beginAttempt(ctx, "198.51.100.1:"+fmt.Sprint(1000+i), "")
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
			release()
		}
		// A new port is the same peer.
		_, _, err := m.beginAttempt(ctx, "198.51.100.1:2000", "")
		if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "per-peer") {
			t.Fatalf("start 4 = %v, want the per-peer limit", err)
		}
		// Refused starts count no attempt.
		if codes, _ := m.Codes(ctx); codes[0].Attempts != 3 {
			t.Fatalf("attempts after a refused start = %d, want 3", codes[0].Attempts)
		}
		// Another peer is not limited.
		_, release, err := m.beginAttempt(ctx, "198.51.100.2:1", pc.ID)
		if err != nil {
			t.Fatalf("another peer: %v", err)
		}
		release()
		clock.Advance(2 * time.Second)
		_, release, err = m.beginAttempt(ctx, "198.51.100.1:3000", pc.ID)
		if err != nil {
			t.Fatalf("after the refill: %v", err)
		}
		release()
	})
	t.Run("global", func(t *testing.T) {
		clock := newTestClock()
		m := newRegistry(t, newMemStore(), clock, ManagerOptions{GlobalRate: time.Second, GlobalBurst: 4})
		pc := mint(t, m, CodeOptions{TTL: time.Hour})
		for i := 0; i < 4; i++ {
			_, release, err := m.beginAttempt(ctx, fmt.Sprintf("203.0.113.%d:1", i), pc.ID)
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
			release()
		}
		_, _, err := m.beginAttempt(ctx, "203.0.113.99:1", pc.ID)
		if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "global") {
			t.Fatalf("start 5 = %v, want the global limit", err)
		}
		clock.Advance(time.Second)
		_, release, err := m.beginAttempt(ctx, "203.0.113.99:1", pc.ID)
		if err != nil {
			t.Fatalf("after the refill: %v", err)
		}
		release()
	})
	t.Run("sessions", func(t *testing.T) {
		m := newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{MaxSessions: 2, PeerBurst: 100, GlobalBurst: 100})
		mint(t, m, CodeOptions{TTL: time.Hour})
		_, r1, err := m.beginAttempt(ctx, "a", "")
		if err != nil {
			t.Fatal(err)
		}
		_, r2, err := m.beginAttempt(ctx, "b", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.beginAttempt(ctx, "c", ""); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "sessions") {
			t.Fatalf("third session = %v, want the session cap", err)
		}
		r1()
		r1() // release is idempotent: a second call frees no other slot
		_, r3, err := m.beginAttempt(ctx, "c", "")
		if err != nil {
			t.Fatalf("after a release: %v", err)
		}
		if _, _, err := m.beginAttempt(ctx, "d", ""); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("cap after a double release = %v, want ErrRateLimited", err)
		}
		r2()
		r3()
		// No active code frees the slot it took.
		m2 := newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{MaxSessions: 1, PeerBurst: 100, GlobalBurst: 100})
		for i := 0; i < 3; i++ {
			if _, _, err := m2.beginAttempt(ctx, "a", ""); !errors.Is(err, ErrNoActiveCode) {
				t.Fatalf("attempt %d without codes = %v, want ErrNoActiveCode", i, err)
			}
		}
	})
}

func TestPairingRecordsDevice(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	m := newRegistry(t, openSecrets(t, t.TempDir()), clock, ManagerOptions{})
	dev := newTestDevice(t)
	pc := mint(t, m, CodeOptions{Kind: KindDesktop})
	g := pair(t, m, dev, pc)
	cert, err := x509.ParseCertificate(g.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := DeviceIDFromCert(cert); err != nil || id != dev.id.ID() {
		t.Fatalf("certificate names %q, %v", id, err)
	}
	if !bytes.Equal(g.CACert, m.ca.Root().Raw) {
		t.Fatal("grant's CA certificate is not the root")
	}
	sum := sha256.Sum256(g.ClientCert)
	want := Device{
		ID: dev.id.ID(), Kind: KindDesktop, State: DeviceCompleted,
		IdentityFingerprint: dev.id.Fingerprint(), Peer: "192.0.2.7:50000",
		PairedAt: clock.Now(), CodeID: pc.ID,
		Certificates: []CertRecord{{Fingerprint: hex.EncodeToString(sum[:]), Serial: cert.SerialNumber.Text(16), NotAfter: cert.NotAfter.UTC()}},
	}
	devs, err := m.Devices(ctx)
	if err != nil || len(devs) != 1 {
		t.Fatalf("Devices = %v, %v", devs, err)
	}
	if fmt.Sprint(devs[0]) != fmt.Sprint(want) || fmt.Sprint(g.Device) != fmt.Sprint(want) {
		t.Fatalf("device\n got %+v\ngrant %+v\nwant %+v", devs[0], g.Device, want)
	}
	if err := m.CheckCertificate(ctx, cert); err != nil {
		t.Fatalf("CheckCertificate of a fresh certificate: %v", err)
	}
	// The code was one-time.
	if _, _, err := m.beginAttempt(ctx, "p", pc.ID); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("attempt on a consumed code = %v", err)
	}
	if _, err := m.completePairing(ctx, dev.request(pc.ID, KindDesktop)); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("second completion on one code = %v", err)
	}
}

func TestCompletePairingRefusals(t *testing.T) {
	ctx := context.Background()
	m := newRegistry(t, newMemStore(), newTestClock(), ManagerOptions{})
	dev := newTestDevice(t)
	pair(t, m, dev, mint(t, m, CodeOptions{}))
	revoked := newTestDevice(t)
	pair(t, m, revoked, mint(t, m, CodeOptions{}))
	if err := m.Revoke(ctx, revoked.id.ID(), "lost"); err != nil {
		t.Fatal(err)
	}
	impostor := newTestDevice(t)
	impostor.id = &DeviceIdentity{id: dev.id.ID(), key: newTestDevice(t).id.key}

	badCSR := newTestDevice(t).request("", KindCLI)
	badCSR.CSR = append(bytes.Clone(badCSR.CSR[:len(badCSR.CSR)-1]), badCSR.CSR[len(badCSR.CSR)-1]^1)
	for _, tc := range []struct {
		name     string
		req      func(codeID string) PairingRequest
		want     error
		consumed bool
	}{
		{"kind mismatch", func(id string) PairingRequest { return newTestDevice(t).request(id, KindNode) }, ErrPairingRefused, true},
		{"revoked device", func(id string) PairingRequest { return revoked.request(id, KindCLI) }, ErrDeviceRevoked, true},
		{"another identity key", func(id string) PairingRequest { return impostor.request(id, KindCLI) }, ErrPairingRefused, true},
		{"device id not a ULID", func(id string) PairingRequest {
			r := newTestDevice(t).request(id, KindCLI)
			r.DeviceID = "dev-1"
			return r
		}, ErrProtocol, false},
		{"short identity key", func(id string) PairingRequest {
			r := newTestDevice(t).request(id, KindCLI)
			r.IdentityKey = r.IdentityKey[:31]
			return r
		}, ErrProtocol, false},
		{"bad CSR signature", func(id string) PairingRequest { r := badCSR; r.CodeID = id; return r }, ErrProtocol, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := mint(t, m, CodeOptions{})
			if _, err := m.completePairing(ctx, tc.req(pc.ID)); !errors.Is(err, tc.want) {
				t.Fatalf("completePairing = %v, want %v", err, tc.want)
			}
			_, release, err := m.beginAttempt(ctx, "p", pc.ID)
			if tc.consumed != errors.Is(err, ErrNoActiveCode) {
				t.Fatalf("code consumed = %v, want %v", err, tc.consumed)
			}
			if err == nil {
				release()
			}
		})
	}
	// The impostor changed nothing: the device's certificate still works.
	devs, _ := m.Devices(ctx)
	for _, d := range devs {
		if d.ID == dev.id.ID() && (d.State != DeviceCompleted || d.IdentityFingerprint != dev.id.Fingerprint() || d.Certificates[0].Revoked) {
			t.Fatalf("device after an impostor: %+v", d)
		}
	}
}

func TestRepairingRevokesEarlierCertificates(t *testing.T) {
	ctx := context.Background()
	m := newRegistry(t, openSecrets(t, t.TempDir()), newTestClock(), ManagerOptions{})
	dev := newTestDevice(t)
	g1 := pair(t, m, dev, mint(t, m, CodeOptions{}))
	c1, _ := x509.ParseCertificate(g1.ClientCert)
	g2 := pair(t, m, dev, mint(t, m, CodeOptions{}))
	c2, _ := x509.ParseCertificate(g2.ClientCert)
	if err := m.CheckCertificate(ctx, c1); !errors.Is(err, ErrCertificateRevoked) {
		t.Fatalf("first certificate after re-pairing = %v, want ErrCertificateRevoked", err)
	}
	if err := m.CheckCertificate(ctx, c2); err != nil {
		t.Fatalf("new certificate: %v", err)
	}
	if n := len(g2.Device.Certificates); n != 2 || !g2.Device.Certificates[0].Revoked || g2.Device.Certificates[1].Revoked {
		t.Fatalf("certificates after re-pairing: %+v", g2.Device.Certificates)
	}
}

func TestRevokeAndCheckCertificate(t *testing.T) {
	ctx := context.Background()
	m := newRegistry(t, openSecrets(t, t.TempDir()), newTestClock(), ManagerOptions{})
	dev := newTestDevice(t)
	g := pair(t, m, dev, mint(t, m, CodeOptions{}))
	cert, _ := x509.ParseCertificate(g.ClientCert)

	// A certificate the CA issued to the device but the registry never
	// recorded (say, from a CA key used outside pairing) is refused.
	stray, _, err := m.ca.IssueClient(dev.id.ID(), &dev.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckCertificate(ctx, stray); !errors.Is(err, ErrUnknownCertificate) {
		t.Fatalf("unrecorded certificate = %v, want ErrUnknownCertificate", err)
	}
	other := newTestDevice(t)
	unknown, _, _ := m.ca.IssueClient(other.id.ID(), &other.key.PublicKey)
	if err := m.CheckCertificate(ctx, unknown); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("unknown device = %v, want ErrUnknownDevice", err)
	}
	if err := m.CheckCertificate(ctx, m.ca.Root()); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("certificate without a device SAN = %v, want ErrUnknownDevice", err)
	}

	if err := m.Revoke(ctx, other.id.ID(), "x"); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("Revoke of an unknown device = %v", err)
	}
	if err := m.Revoke(ctx, dev.id.ID(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckCertificate(ctx, cert); !errors.Is(err, ErrDeviceRevoked) {
		t.Fatalf("after Revoke = %v, want ErrDeviceRevoked", err)
	}
	if err := m.Revoke(ctx, dev.id.ID(), "again"); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	devs, _ := m.Devices(ctx)
	d := devs[0]
	if d.State != DeviceRevoked || d.RevokeReason != "laptop stolen" || d.RevokedAt == nil || !d.Certificates[0].Revoked {
		t.Fatalf("revoked device: %+v", d)
	}
	doc, err := m.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.RevokedCertificates[d.Certificates[0].Fingerprint]; !ok {
		t.Fatal("the certificate's fingerprint is not in the revoked set")
	}
}

// A burnt code lets the attempt that burnt it finish for burntGrace, then
// it is gone; expired certificate records and revocations go after
// certRetention.
func TestPruning(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	m := newRegistry(t, newMemStore(), clock, ManagerOptions{PeerBurst: 100, GlobalBurst: 100})
	dev := newTestDevice(t)
	pair(t, m, dev, mint(t, m, CodeOptions{}))
	if err := m.Revoke(ctx, dev.id.ID(), ""); err != nil {
		t.Fatal(err)
	}
	pc := mint(t, m, CodeOptions{TTL: time.Hour})
	for i := 0; i < MaxCodeAttempts; i++ {
		_, release, err := m.beginAttempt(ctx, "p", pc.ID)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	clock.Advance(burntGrace + time.Second)
	if _, err := m.completePairing(ctx, newTestDevice(t).request(pc.ID, KindCLI)); !errors.Is(err, ErrNoActiveCode) {
		t.Fatalf("completion %v after the burn = %v, want ErrNoActiveCode", burntGrace, err)
	}
	if codes, _ := m.Codes(ctx); len(codes) != 0 {
		t.Fatalf("burnt code still listed: %+v", codes)
	}
	doc, _ := m.load(ctx)
	if len(doc.RevokedCertificates) != 1 || len(doc.Devices[dev.id.ID()].Certificates) != 1 {
		t.Fatal("certificate records pruned before they expired")
	}
	clock.Advance(ClientCertValidity + certRetention)
	mint(t, m, CodeOptions{}) // any write prunes
	doc, _ = m.load(ctx)
	if len(doc.RevokedCertificates) != 0 || len(doc.Devices[dev.id.ID()].Certificates) != 0 {
		t.Fatalf("expired certificate records kept: %+v", doc)
	}
	if doc.Devices[dev.id.ID()].State != DeviceRevoked {
		t.Fatal("pruning forgot that the device is revoked")
	}
}

// The per-peer map is bounded: when full, peers whose bucket has refilled
// are evicted; while every tracked peer is busy, new peers are refused.
func TestPeerMapBounded(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	m := newRegistry(t, newMemStore(), clock, ManagerOptions{GlobalBurst: 10 * maxPeers, MaxSessions: 10 * maxPeers})
	for i := 0; i < 3; i++ {
		mint(t, m, CodeOptions{TTL: time.Hour})
	}
	for i := 0; i < maxPeers; i++ {
		if err := m.limits.admit(fmt.Sprintf("10.%d.%d.1:1", i/256, i%256), clock.Now()); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
	if _, _, err := m.beginAttempt(ctx, "192.0.2.200:1", ""); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "peers") {
		t.Fatalf("peer %d while all are busy = %v, want ErrRateLimited", maxPeers+1, err)
	}
	clock.Advance(time.Duration(m.opts.PeerBurst) * m.opts.PeerRate)
	_, release, err := m.beginAttempt(ctx, "192.0.2.200:1", "")
	if err != nil {
		t.Fatalf("new peer after the others went idle: %v", err)
	}
	release()
	if n := len(m.limits.peers); n != 1 {
		t.Fatalf("%d peers tracked after eviction, want 1", n)
	}
}
