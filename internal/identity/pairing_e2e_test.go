package identity

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end pairing: Pair against the real Manager's ServePairing over
// net.Pipe with a fake channel binding.

// newPairingManager is a Manager on a memory store whose clock starts now
// and moves only by hand; peer limits are loose so tests that make many
// attempts from one peer test attempts, not the rate limiter.
func newPairingManager(t *testing.T, opts ManagerOptions) (*Manager, *testClock, *syncBuffer) {
	t.Helper()
	clock := &testClock{t: time.Now().UTC()}
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.ApprovalPoll == 0 {
		opts.ApprovalPoll = 10 * time.Millisecond
	}
	return newRegistry(t, newMemStore(), clock, opts), clock, logs
}

func managerServer(m *Manager) serverFunc { return m.ServePairing }

// e2eServer is ServePairing from a given peer address.
func e2eServer(m *Manager, peer string) serverFunc {
	return func(ctx context.Context, rw io.ReadWriter, _ string, binding []byte) (*Device, error) {
		return m.ServePairing(ctx, rw, peer, binding)
	}
}

func codeInfo(t *testing.T, m *Manager, id string) *CodeInfo {
	t.Helper()
	codes, err := m.Codes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range codes {
		if codes[i].ID == id {
			return &codes[i]
		}
	}
	return nil
}

func TestPairEndToEnd(t *testing.T) {
	for _, form := range []string{"pin", "token"} {
		t.Run(form, func(t *testing.T) {
			ctx := context.Background()
			m, _, logs := newPairingManager(t, ManagerOptions{})
			pc := mint(t, m, CodeOptions{Kind: KindDesktop})
			secret := pc.Code
			if form == "token" {
				secret = pc.Token
			}
			dev := newDevice(t)
			res, srv, err := pairPipe(t, managerServer(m), secret, dev, KindDesktop)
			if err != nil || srv.err != nil {
				t.Fatalf("client: %v, daemon: %v", err, srv.err)
			}
			checkPaired(t, res, dev)
			if !res.CACert.Equal(m.ca.Root()) {
				t.Fatal("the pinned CA is not the daemon's")
			}
			if srv.dev.ID != dev.ID() || srv.dev.State != DeviceCompleted || srv.dev.IdentityFingerprint != dev.Fingerprint() {
				t.Fatalf("daemon recorded %+v", srv.dev)
			}
			if err := m.CheckCertificate(ctx, res.ClientCert); err != nil {
				t.Fatalf("revocation hook refuses a fresh certificate: %v", err)
			}
			if codeInfo(t, m, pc.ID) != nil {
				t.Fatal("the code survived a completed pairing")
			}
			if err := m.Revoke(ctx, dev.ID(), "test"); err != nil {
				t.Fatal(err)
			}
			if err := m.CheckCertificate(ctx, res.ClientCert); !errors.Is(err, ErrDeviceRevoked) {
				t.Fatalf("after revoke: %v, want ErrDeviceRevoked", err)
			}
			for _, secretText := range []string{pc.Code, pc.Token, strings.Split(pc.Token, ".")[1]} {
				if strings.Contains(logs.String(), secretText) {
					t.Fatal("a pairing secret reached the log")
				}
			}
		})
	}
}

func TestWrongCodeCountsAttemptAndBurnsAtFive(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{})
	wrong := fmt.Sprintf("%06d", (atoiOrZero(pc.Code)+1)%1000000)
	dev := newDevice(t)
	for i := 1; i <= MaxCodeAttempts; i++ {
		_, srv, err := pairPipe(t, e2eServer(m, fmt.Sprintf("192.0.2.%d:4000", i)), wrong, dev, KindCLI)
		if !errors.Is(err, ErrPairingFailed) || !errors.Is(srv.err, ErrPairingFailed) {
			t.Fatalf("attempt %d: client %v, daemon %v; want ErrPairingFailed on both ends", i, err, srv.err)
		}
		ci := codeInfo(t, m, pc.ID)
		if ci == nil || ci.Attempts != i {
			t.Fatalf("after %d wrong attempts the code shows %+v", i, ci)
		}
	}
	// The 6th attempt, with the right code, is refused.
	_, srv, err := pairPipe(t, e2eServer(m, "192.0.2.99:4000"), pc.Code, dev, KindCLI)
	if !errors.Is(err, ErrNoActiveCode) || !errors.Is(srv.err, ErrNoActiveCode) {
		t.Fatalf("6th attempt with the right code: client %v, daemon %v; want ErrNoActiveCode", err, srv.err)
	}
}

func atoiOrZero(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestRightCodeAfterFourWrongPairs(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{})
	wrong := fmt.Sprintf("%06d", (atoiOrZero(pc.Code)+1)%1000000)
	dev := newDevice(t)
	for i := 1; i < MaxCodeAttempts; i++ {
		if _, _, err := pairPipe(t, e2eServer(m, fmt.Sprintf("192.0.2.%d:4000", i)), wrong, dev, KindCLI); !errors.Is(err, ErrPairingFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	res, srv, err := pairPipe(t, e2eServer(m, "192.0.2.99:4000"), pc.Code, dev, KindCLI)
	if err != nil || srv.err != nil {
		t.Fatalf("5th attempt with the right code: client %v, daemon %v", err, srv.err)
	}
	checkPaired(t, res, dev)
}

func TestPairExpiredCodeRefused(t *testing.T) {
	m, clock, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{TTL: time.Minute})
	clock.Advance(time.Minute + time.Second)
	for _, secret := range []string{pc.Code, pc.Token} {
		_, srv, err := pairPipe(t, managerServer(m), secret, newDevice(t), KindCLI)
		if !errors.Is(err, ErrNoActiveCode) || !errors.Is(srv.err, ErrNoActiveCode) {
			t.Fatalf("expired code: client %v, daemon %v; want ErrNoActiveCode", err, srv.err)
		}
	}
}

func TestTokenTriesOnlyItsCode(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	other := mint(t, m, CodeOptions{})
	pc := mint(t, m, CodeOptions{})
	count := func(offers *int) tamperFunc {
		return func(fromClient bool, n int, p []byte) []byte {
			if !fromClient && n == 0 {
				var msg offersMsg
				if json.Unmarshal(p, &msg) == nil {
					*offers = len(msg.Offers)
				}
			}
			return p
		}
	}
	dev := newDevice(t)
	b := randBinding(t)

	// A 6-digit attempt tries both codes (a wrong one, to keep them).
	var pinOffers int
	wrong := fmt.Sprintf("%06d", (atoiOrZero(pc.Code)+1)%1000000)
	if wrong == other.Code {
		wrong = fmt.Sprintf("%06d", (atoiOrZero(pc.Code)+2)%1000000)
	}
	if _, _, err := pairWith(t, managerServer(m), b, b, wrong, dev, KindCLI, count(&pinOffers)); !errors.Is(err, ErrPairingFailed) {
		t.Fatalf("wrong pin: %v", err)
	}
	if pinOffers != 2 {
		t.Fatalf("a 6-digit attempt got %d offers, want 2", pinOffers)
	}

	var tokenOffers int
	res, srv, err := pairWith(t, managerServer(m), b, b, pc.Token, dev, KindCLI, count(&tokenOffers))
	if err != nil || srv.err != nil {
		t.Fatalf("token: client %v, daemon %v", err, srv.err)
	}
	checkPaired(t, res, dev)
	if tokenOffers != 1 {
		t.Fatalf("a token attempt got %d offers, want 1", tokenOffers)
	}
	if ci := codeInfo(t, m, other.ID); ci == nil || ci.Attempts != 1 {
		t.Fatalf("the other code shows %+v, want 1 attempt (the 6-digit one only)", ci)
	}
}

func TestRateLimitedOverTheWire(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{PeerBurst: 2, PeerRate: time.Hour})
	mint(t, m, CodeOptions{})
	dev := newDevice(t)
	var last error
	for i := 0; i < 3; i++ {
		_, _, last = pairPipe(t, e2eServer(m, "198.51.100.1:1"), "000000", dev, KindCLI)
	}
	if !errors.Is(last, ErrRateLimited) {
		t.Fatalf("3rd start from one peer with burst 2: %v, want ErrRateLimited", last)
	}
}

func TestApprovalEndToEnd(t *testing.T) {
	tests := []struct {
		name   string
		decide func(m *Manager, id string) error
		want   error
	}{
		{"approved", func(m *Manager, id string) error { return m.Approve(context.Background(), id) }, nil},
		{"rejected", func(m *Manager, id string) error { return m.Reject(context.Background(), id, "no") }, ErrPairingRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := newPairingManager(t, ManagerOptions{})
			pc := mint(t, m, CodeOptions{RequireApproval: true, Kind: KindNode})
			dev := newDevice(t)
			var mu sync.Mutex
			pending := 0
			decided := make(chan error, 1)
			b := randBinding(t)
			res, srv, err := pairWith(t, managerServer(m), b, b, pc.Code, dev, KindNode, func(fromClient bool, n int, p []byte) []byte {
				if !fromClient && strings.Contains(string(p), `"type":"pending"`) {
					mu.Lock()
					pending++
					mu.Unlock()
					// The device waits; the operator decides now.
					go func() { decided <- tc.decide(m, dev.ID()) }()
				}
				return p
			})
			if err := <-decided; err != nil {
				t.Fatalf("operator: %v", err)
			}
			if pending != 1 {
				t.Fatalf("client was told pending %d times, want 1", pending)
			}
			if tc.want == nil {
				if err != nil || srv.err != nil {
					t.Fatalf("client %v, daemon %v", err, srv.err)
				}
				checkPaired(t, res, dev)
				if err := m.CheckCertificate(context.Background(), res.ClientCert); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(srv.err, tc.want) {
				t.Fatalf("client %v, daemon %v; want %v", err, srv.err, tc.want)
			}
		})
	}
}

func TestKindMismatchRefused(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{Kind: KindNode})
	_, srv, err := pairPipe(t, managerServer(m), pc.Code, newDevice(t), KindCLI)
	if !errors.Is(err, ErrPairingRefused) || !errors.Is(srv.err, ErrPairingRefused) {
		t.Fatalf("client %v, daemon %v; want ErrPairingRefused", err, srv.err)
	}
}

func TestRelayEndToEndRefused(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{})
	_, srv, err := pairWith(t, managerServer(m), randBinding(t), randBinding(t), pc.Code, newDevice(t), KindCLI, nil)
	if !errors.Is(err, ErrPairingFailed) || !errors.Is(srv.err, ErrPairingFailed) {
		t.Fatalf("client %v, daemon %v; want ErrPairingFailed", err, srv.err)
	}
	if devs, _ := m.Devices(context.Background()); len(devs) != 0 {
		t.Fatalf("a relayed pairing recorded %v", devs)
	}
}

func TestRepairingOverTheWireRevokesEarlierCertificate(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newPairingManager(t, ManagerOptions{})
	dev := newDevice(t)
	var certs []*x509.Certificate
	for i := 0; i < 2; i++ {
		pc := mint(t, m, CodeOptions{})
		res, srv, err := pairPipe(t, managerServer(m), pc.Code, dev, KindCLI)
		if err != nil || srv.err != nil {
			t.Fatalf("pairing %d: client %v, daemon %v", i, err, srv.err)
		}
		certs = append(certs, res.ClientCert)
	}
	if err := m.CheckCertificate(ctx, certs[0]); !errors.Is(err, ErrCertificateRevoked) {
		t.Fatalf("first certificate after re-pairing: %v, want ErrCertificateRevoked", err)
	}
	if err := m.CheckCertificate(ctx, certs[1]); err != nil {
		t.Fatalf("second certificate: %v", err)
	}
}
