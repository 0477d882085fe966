package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/cpace"
)

// fakeRegistry implements registry for tests of the message flow: fixed
// candidate codes, attempts counted, certificates from a real CA.
type fakeRegistry struct {
	ca *CertificateAuthority

	mu       sync.Mutex
	codes    []candidateCode
	attempts map[string]int
	asked    []string // code ids beginAttempt was called with
	requests []PairingRequest
	beginErr error
	// approve, when set, makes completePairing call OnPending and wait
	// for a decision (nil approves).
	approve chan error
}

func newFakeRegistry(t *testing.T, codes ...candidateCode) *fakeRegistry {
	t.Helper()
	ca, err := NewCA(context.Background(), newMemStore(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeRegistry{ca: ca, codes: codes, attempts: map[string]int{}}
}

func (f *fakeRegistry) beginAttempt(ctx context.Context, peer, codeID string) ([]candidateCode, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, codeID)
	if f.beginErr != nil {
		return nil, nil, f.beginErr
	}
	var out []candidateCode
	for _, c := range f.codes {
		if codeID == "" || c.id == codeID {
			f.attempts[c.id]++
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, nil, ErrNoActiveCode
	}
	return out, func() {}, nil
}

func (f *fakeRegistry) completePairing(ctx context.Context, req PairingRequest) (*PairingGrant, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	approve := f.approve
	f.mu.Unlock()
	if approve != nil {
		req.OnPending()
		select {
		case err := <-approve:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	_, der, err := f.ca.IssueClientFromCSR(req.DeviceID, req.CSR)
	if err != nil {
		return nil, err
	}
	return &PairingGrant{
		Device:     Device{ID: req.DeviceID, Kind: req.Kind, State: DeviceCompleted, Peer: req.Peer},
		ClientCert: der,
		CACert:     f.ca.Root().Raw,
	}, nil
}

func (f *fakeRegistry) attemptsOn(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id]
}

// Fixed test codes: a 6-digit code and a token.
const (
	testPIN      = "493817"
	testCodeID   = "01JF0000000000000000000001"
	testCodeID2  = "01JF0000000000000000000002"
	testTokenHex = "0123456789abcdef0123456789abcdef"
)

// testBinding is a channel binding for tests that need not vary it.
var testBinding = bytes.Repeat([]byte{'b'}, 32)

func pinCode(id, pin string) candidateCode { return candidateCode{id: id, prs: pinPRS(pin)} }

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func randBinding(t testing.TB) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newDevice(t testing.TB) *DeviceIdentity {
	t.Helper()
	d, err := NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type serveResult struct {
	dev *Device
	err error
}

// serverFunc runs the daemon's side on a connection.
type serverFunc func(ctx context.Context, rw io.ReadWriter, peer string, binding []byte) (*Device, error)

func fakeServer(reg registry) serverFunc {
	return func(ctx context.Context, rw io.ReadWriter, peer string, binding []byte) (*Device, error) {
		return servePairing(ctx, reg, quietLog(), rw, peer, binding)
	}
}

// pairPipe pairs over net.Pipe with one binding on both ends, returning
// both ends' outcomes.
func pairPipe(t *testing.T, serve serverFunc, secret string, dev *DeviceIdentity, kind ClientKind) (*PairResult, serveResult, error) {
	t.Helper()
	b := randBinding(t)
	return pairWith(t, serve, b, b, secret, dev, kind, nil)
}

// pairWith pairs with the client on one pipe and the daemon on another,
// frames relayed between them by relayFrames with tamper (nil relays as
// is). Different bindings model a relay between two TLS channels.
func pairWith(t *testing.T, serve serverFunc, clientBinding, serverBinding []byte, secret string, dev *DeviceIdentity, kind ClientKind, tamper tamperFunc) (*PairResult, serveResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, mc1 := net.Pipe()
	mc2, sc := net.Pipe()
	go relayFrames(mc1, mc2, tamper)
	srv := make(chan serveResult, 1)
	go func() {
		d, err := serve(ctx, sc, "pipe", serverBinding)
		sc.Close()
		srv <- serveResult{d, err}
	}()
	res, err := Pair(ctx, cc, clientBinding, secret, dev, kind)
	cc.Close()
	return res, <-srv, err
}

// tamperFunc may rewrite a frame relayed from the client (fromClient) or
// the daemon; n counts frames in that direction from 0.
type tamperFunc func(fromClient bool, n int, payload []byte) []byte

// relayFrames copies frames between the client's end a and the daemon's
// end b until either closes; it is the man in the middle.
func relayFrames(a, b net.Conn, tamper tamperFunc) {
	var wg sync.WaitGroup
	pump := func(from, to net.Conn, fromClient bool) {
		defer wg.Done()
		defer from.Close()
		defer to.Close()
		var hdr [4]byte
		for n := 0; ; n++ {
			if _, err := io.ReadFull(from, hdr[:]); err != nil {
				return
			}
			p := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(from, p); err != nil {
				return
			}
			if tamper != nil {
				p = tamper(fromClient, n, p)
			}
			if _, err := to.Write(frameOf(p)); err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(a, b, true)
	go pump(b, a, false)
	wg.Wait()
}

func frameOf(p []byte) []byte {
	f := make([]byte, 4+len(p))
	binary.BigEndian.PutUint32(f, uint32(len(p)))
	copy(f[4:], p)
	return f
}

// checkPaired asserts what Pair promises about its result.
func checkPaired(t *testing.T, res *PairResult, dev *DeviceIdentity) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(res.CACert)
	if _, err := res.ClientCert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not chain to the CA: %v", err)
	}
	id, err := DeviceIDFromCert(res.ClientCert)
	if err != nil || id != dev.ID() || res.DeviceID != dev.ID() {
		t.Fatalf("certificate names %q (%v), result %q, want %q", id, err, res.DeviceID, dev.ID())
	}
	if !res.Key.PublicKey.Equal(res.ClientCert.PublicKey) {
		t.Fatal("certificate is not for the result's key")
	}
	if !bytes.Equal(res.ClientCert.Raw, res.ClientCertDER) || !bytes.Equal(res.CACert.Raw, res.CACertDER) {
		t.Fatal("DER and parsed certificates differ")
	}
}

func TestPairFakeRegistry(t *testing.T) {
	token := testCodeID + "." + testTokenHex
	other := candidateCode{id: testCodeID2, prs: pinPRS("000000")}
	tests := []struct {
		name   string
		codes  []candidateCode
		secret string
		asked  string
		offers int
	}{
		{"pin tries every active code", []candidateCode{other, pinCode(testCodeID, testPIN)}, testPIN, "", 2},
		{"token tries only its code", []candidateCode{other, {id: testCodeID, prs: tokenPRS(testTokenHex)}}, token, testCodeID, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, tc.codes...)
			dev := newDevice(t)
			var offers int
			b := randBinding(t)
			res, srv, err := pairWith(t, fakeServer(reg), b, b, tc.secret, dev, KindDesktop, func(fromClient bool, n int, p []byte) []byte {
				if !fromClient && n == 0 {
					var m offersMsg
					if json.Unmarshal(p, &m) == nil {
						offers = len(m.Offers)
					}
				}
				return p
			})
			if err != nil || srv.err != nil {
				t.Fatalf("client: %v, daemon: %v", err, srv.err)
			}
			checkPaired(t, res, dev)
			if srv.dev.ID != dev.ID() || srv.dev.Kind != KindDesktop {
				t.Fatalf("daemon paired %+v", srv.dev)
			}
			if offers != tc.offers {
				t.Fatalf("%d offers, want %d", offers, tc.offers)
			}
			if len(reg.asked) != 1 || reg.asked[0] != tc.asked {
				t.Fatalf("beginAttempt asked for %q, want [%q]", reg.asked, tc.asked)
			}
			r := reg.requests[0]
			if r.CodeID != testCodeID || r.DeviceID != dev.ID() || r.Kind != KindDesktop || !bytes.Equal(r.IdentityKey, dev.PublicKey()) || r.Peer != "pipe" {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

func TestPairWrongCodeFakeRegistry(t *testing.T) {
	reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
	_, srv, err := pairPipe(t, fakeServer(reg), "111111", newDevice(t), KindCLI)
	if !errors.Is(err, ErrPairingFailed) || !errors.Is(srv.err, ErrPairingFailed) {
		t.Fatalf("client: %v, daemon: %v; want ErrPairingFailed on both ends", err, srv.err)
	}
	if n := reg.attemptsOn(testCodeID); n != 1 {
		t.Fatalf("%d attempts counted, want 1", n)
	}
	if len(reg.requests) != 0 {
		t.Fatal("a request reached the registry")
	}
}

func TestPairRelayedChannelRefused(t *testing.T) {
	reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
	// The man in the middle relays every byte between two channels: the
	// client's binding is that of its channel to the relay.
	_, srv, err := pairWith(t, fakeServer(reg), randBinding(t), randBinding(t), testPIN, newDevice(t), KindCLI, nil)
	if !errors.Is(err, ErrPairingFailed) || !errors.Is(srv.err, ErrPairingFailed) {
		t.Fatalf("client: %v, daemon: %v; want ErrPairingFailed on both ends", err, srv.err)
	}
	if len(reg.requests) != 0 {
		t.Fatal("a relayed request reached the registry")
	}
}

func TestPairDaemonErrorsMapToSentinels(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("peer limit: %w", ErrRateLimited), ErrRateLimited},
		{ErrNoActiveCode, ErrNoActiveCode},
		{errors.New("disk on fire"), errDaemonInternal},
	}
	for _, tc := range tests {
		t.Run(tc.want.Error(), func(t *testing.T) {
			reg := newFakeRegistry(t)
			reg.beginErr = tc.err
			_, srv, err := pairPipe(t, fakeServer(reg), testPIN, newDevice(t), KindCLI)
			if !errors.Is(err, tc.want) {
				t.Fatalf("client: %v, want %v", err, tc.want)
			}
			if !errors.Is(srv.err, tc.err) {
				t.Fatalf("daemon: %v, want %v", srv.err, tc.err)
			}
			if bytes.Contains([]byte(err.Error()), []byte("disk")) {
				t.Fatalf("internal detail reached the client: %v", err)
			}
		})
	}
}

// recordFrames is a tamperFunc that keeps a copy of every frame.
type recorder struct {
	mu                   sync.Mutex
	fromClient, toClient [][]byte
}

func (r *recorder) tamper(fromClient bool, n int, p []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fromClient {
		r.fromClient = append(r.fromClient, bytes.Clone(p))
	} else {
		r.toClient = append(r.toClient, bytes.Clone(p))
	}
	return p
}

func TestReplayRefused(t *testing.T) {
	reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
	b := randBinding(t)
	dev := newDevice(t)
	var rec recorder
	if _, srv, err := pairWith(t, fakeServer(reg), b, b, testPIN, dev, KindCLI, rec.tamper); err != nil || srv.err != nil {
		t.Fatalf("recorded session: client %v, daemon %v", err, srv.err)
	}
	if len(rec.fromClient) != 3 || len(rec.toClient) != 3 {
		t.Fatalf("recorded %d+%d frames, want 3+3", len(rec.fromClient), len(rec.toClient))
	}

	t.Run("client messages to a new daemon session", func(t *testing.T) {
		// Same code still active, same binding: only the daemon's fresh
		// share differs, and that is enough.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, s := net.Pipe()
		srv := make(chan error, 1)
		go func() {
			_, err := servePairing(ctx, reg, quietLog(), s, "replayer", b)
			s.Close()
			srv <- err
		}()
		go io.Copy(io.Discard, a) // the daemon's answers
		for _, p := range rec.fromClient {
			if _, err := a.Write(frameOf(p)); err != nil {
				break
			}
		}
		err := <-srv
		a.Close()
		if !errors.Is(err, ErrPairingFailed) {
			t.Fatalf("daemon: %v, want ErrPairingFailed", err)
		}
		if len(reg.requests) != 1 {
			t.Fatal("the replayed request reached the registry")
		}
	})

	t.Run("daemon messages to a new client session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, s := net.Pipe()
		go func() {
			var hdr [4]byte
			for _, p := range rec.toClient {
				if _, err := readFrame(s, hdr[:]); err != nil {
					break
				}
				if _, err := s.Write(frameOf(p)); err != nil {
					break
				}
			}
			io.Copy(io.Discard, s)
		}()
		_, err := Pair(ctx, a, b, testPIN, dev, KindCLI)
		a.Close()
		s.Close()
		if !errors.Is(err, ErrPairingFailed) {
			t.Fatalf("client: %v, want ErrPairingFailed", err)
		}
	})
}

// randomPoint is a valid CPace share for some unknown code.
func randomPoint() []byte {
	_, y, err := cpace.Start([]byte("some other code"), nil, nil, nil, cpace.Initiator)
	if err != nil {
		panic(err)
	}
	return y
}

// rewrite decodes a payload into a map, lets f change it, re-encodes.
func rewrite(p []byte, f func(m map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		panic(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// flipB64 flips one bit of a base64 []byte field.
func flipB64(m map[string]any, field string) {
	var b []byte
	raw, _ := json.Marshal(m[field])
	if err := json.Unmarshal(raw, &b); err != nil {
		panic(err)
	}
	b[len(b)/2] ^= 1
	m[field] = b
}

func TestTamperedMessagesRefused(t *testing.T) {
	tests := []struct {
		name       string
		fromClient bool
		n          int
		edit       func(m map[string]any)
		client     error
		daemon     error // nil: the daemon finished (the client refused the grant)
	}{
		{"offer MAC", false, 0, func(m map[string]any) {
			o := m["offers"].([]any)[0].(map[string]any)
			flipB64(o, "mac")
		}, ErrPairingFailed, ErrPairingFailed},
		{"offer share not a point", false, 0, func(m map[string]any) {
			o := m["offers"].([]any)[0].(map[string]any)
			o["yb"] = bytes.Repeat([]byte{0xff}, 32)
		}, ErrProtocol, ErrPairingFailed},
		{"offer share another point", false, 0, func(m map[string]any) {
			o := m["offers"].([]any)[0].(map[string]any)
			o["yb"] = randomPoint()
		}, ErrPairingFailed, ErrPairingFailed},
		{"hello sid", true, 0, func(m map[string]any) { m["sid"] = make([]byte, 16) }, ErrPairingFailed, ErrPairingFailed},
		{"hello share", true, 0, func(m map[string]any) { m["ya"] = randomPoint() }, ErrPairingFailed, ErrPairingFailed},
		{"hello kind", true, 0, func(m map[string]any) { m["kind"] = "node" }, ErrPairingFailed, ErrPairingFailed},
		{"confirm MAC", true, 1, func(m map[string]any) { flipB64(m, "mac") }, ErrPairingFailed, ErrPairingFailed},
		{"request MAC", true, 2, func(m map[string]any) { flipB64(m, "mac") }, ErrPairingFailed, ErrPairingFailed},
		{"request CSR", true, 2, func(m map[string]any) { flipB64(m, "csr") }, ErrPairingFailed, ErrPairingFailed},
		{"request identity key", true, 2, func(m map[string]any) { flipB64(m, "identity_key") }, ErrPairingFailed, ErrPairingFailed},
		{"grant MAC", false, 2, func(m map[string]any) { flipB64(m, "mac") }, ErrPairingFailed, nil},
		{"grant certificate", false, 2, func(m map[string]any) { flipB64(m, "client_cert") }, ErrPairingFailed, nil},
		{"grant CA", false, 2, func(m map[string]any) { flipB64(m, "ca_cert") }, ErrPairingFailed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
			b := randBinding(t)
			tampered := false
			_, srv, err := pairWith(t, fakeServer(reg), b, b, testPIN, newDevice(t), KindCLI, func(fromClient bool, n int, p []byte) []byte {
				if fromClient == tc.fromClient && n == tc.n {
					tampered = true
					return rewrite(p, tc.edit)
				}
				return p
			})
			if !tampered {
				t.Fatal("the frame to tamper with never passed")
			}
			if !errors.Is(err, tc.client) {
				t.Fatalf("client: %v, want %v", err, tc.client)
			}
			if tc.daemon == nil && srv.err != nil || tc.daemon != nil && !errors.Is(srv.err, tc.daemon) {
				t.Fatalf("daemon: %v, want %v", srv.err, tc.daemon)
			}
		})
	}
}

func TestPendingApproval(t *testing.T) {
	tests := []struct {
		name   string
		decide error
		client error
	}{
		{"approved", nil, nil},
		{"rejected", ErrPairingRejected, ErrPairingRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
			reg.approve = make(chan error)
			go func() {
				time.Sleep(50 * time.Millisecond)
				reg.approve <- tc.decide
			}()
			dev := newDevice(t)
			res, srv, err := pairPipe(t, fakeServer(reg), testPIN, dev, KindNode)
			if !errors.Is(err, tc.client) || tc.client == nil && err != nil {
				t.Fatalf("client: %v, want %v", err, tc.client)
			}
			if !errors.Is(srv.err, tc.client) || tc.client == nil && srv.err != nil {
				t.Fatalf("daemon: %v, want %v", srv.err, tc.client)
			}
			if tc.client == nil {
				checkPaired(t, res, dev)
			}
		})
	}
}

func TestClientLeavingDuringApprovalEndsTheWait(t *testing.T) {
	reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
	reg.approve = make(chan error) // nobody decides
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, s := net.Pipe()
	srv := make(chan error, 1)
	go func() {
		_, err := servePairing(context.Background(), reg, quietLog(), s, "pipe", testBinding)
		srv <- err
	}()
	cli := make(chan error, 1)
	go func() {
		_, err := Pair(ctx, c, testBinding, testPIN, newDevice(t), KindCLI)
		cli <- err
	}()
	// Wait until the request reached the registry, then the client gives up.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		reg.mu.Lock()
		n := len(reg.requests)
		reg.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request reached the registry")
		}
	}
	cancel()
	if err := <-cli; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want context.Canceled", err)
	}
	c.Close()
	select {
	case err := <-srv:
		if err == nil {
			t.Fatal("daemon paired a device that left")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon kept waiting for approval after the client left")
	}
}

func TestContextBoundsTheHandshake(t *testing.T) {
	t.Run("client against a silent daemon", func(t *testing.T) {
		c, s := net.Pipe()
		defer s.Close()
		go io.Copy(io.Discard, s)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Pair(ctx, c, testBinding, testPIN, newDevice(t), KindCLI)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("client took %v", d)
		}
	})
	t.Run("daemon against a silent client, cancelled", func(t *testing.T) {
		c, s := net.Pipe()
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := servePairing(ctx, newFakeRegistry(t), quietLog(), s, "pipe", testBinding)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("daemon: %v, want Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("daemon not unblocked by cancellation")
		}
	})
	t.Run("plain io.ReadWriteCloser is closed on cancel", func(t *testing.T) {
		r, w := io.Pipe()
		rw := &pipeRW{r: r, w: io.Discard, closer: r}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := servePairing(ctx, newFakeRegistry(t), quietLog(), rw, "pipe", testBinding)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("daemon: %v, want DeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("daemon not unblocked by the deadline")
		}
		w.Close()
	})
}

type pipeRW struct {
	r      io.Reader
	w      io.Writer
	closer io.Closer
}

func (p *pipeRW) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeRW) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeRW) Close() error                { return p.closer.Close() }

func TestDaemonRefusesGarbage(t *testing.T) {
	dev := newDevice(t)
	hello := func(edit func(h *helloMsg)) []byte {
		h := helloMsg{V: 1, Type: msgHello, Kind: "cli", DeviceID: dev.ID(), SID: make([]byte, 16), YA: make([]byte, 32)}
		edit(&h)
		p, _ := json.Marshal(h)
		return p
	}
	tests := []struct {
		name  string
		frame []byte
	}{
		{"not JSON", frameOf([]byte("\x00\x01garbage"))},
		{"empty frame", frameOf(nil)},
		{"JSON array", frameOf([]byte(`[1,2]`))},
		{"wrong first message", frameOf([]byte(`{"type":"confirm","offer":0,"mac":""}`))},
		{"unknown field", frameOf([]byte(`{"v":1,"type":"hello","kind":"cli","device_id":"","code_id":"","sid":"","ya":"","extra":1}`))},
		{"version 2", frameOf(hello(func(h *helloMsg) { h.V = 2 }))},
		{"identity share", frameOf(hello(func(h *helloMsg) {}))}, // ya all zero: the identity element
		{"truncated frame", []byte{0, 0, 0, 10, '{'}},
		{"oversize frame", []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, pinCode(testCodeID, testPIN))
			c, s := net.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := servePairing(context.Background(), reg, quietLog(), s, "pipe", testBinding)
				s.Close()
				done <- err
			}()
			go func() {
				c.Write(tc.frame)
				if tc.name == "truncated frame" {
					c.Close()
				}
			}()
			var answer []byte
			var hdr [4]byte
			got := make(chan struct{})
			go func() {
				answer, _ = readFrame(c, hdr[:])
				close(got)
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				c.Close()
				t.Fatal("daemon still reading")
			}
			c.Close()
			<-got
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("daemon: %v, want ErrProtocol", err)
			}
			if tc.name == "truncated frame" {
				return // the client is gone: nobody to answer
			}
			if err := decodeConfirmed(answer); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), errorTexts[codeProtocol]) {
				t.Fatalf("daemon answered %q (%v), want a protocol error message", answer, err)
			}
		})
	}
}

// deadlineRecorder is a connection end that records SetDeadline calls.
type deadlineRecorder struct {
	net.Conn
	mu        sync.Mutex
	deadlines []time.Time
}

func (d *deadlineRecorder) SetDeadline(t time.Time) error {
	d.mu.Lock()
	d.deadlines = append(d.deadlines, t)
	d.mu.Unlock()
	return d.Conn.SetDeadline(t)
}

func TestServeDefaultsToHandshakeTimeout(t *testing.T) {
	c, s := net.Pipe()
	rec := &deadlineRecorder{Conn: s}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := servePairing(context.Background(), newFakeRegistry(t), quietLog(), rec, "pipe", testBinding)
		done <- err
	}()
	c.Write(frameOf([]byte("garbage")))
	var hdr [4]byte
	readFrame(c, hdr[:]) // the error message
	c.Close()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.deadlines) == 0 {
		t.Fatal("no deadline set")
	}
	d := rec.deadlines[0]
	if d.Before(start.Add(HandshakeTimeout-time.Second)) || d.After(time.Now().Add(HandshakeTimeout)) {
		t.Fatalf("first deadline %v after start, want %v", d.Sub(start), HandshakeTimeout)
	}
}

func TestPairRefusesBadArguments(t *testing.T) {
	dev := newDevice(t)
	tests := []struct {
		name    string
		binding []byte
		secret  string
		dev     *DeviceIdentity
		kind    ClientKind
	}{
		{"short code", testBinding, "12345", dev, KindCLI},
		{"letters", testBinding, "12345x", dev, KindCLI},
		{"token with upper-case hex", testBinding, testCodeID + "." + strings.ToUpper(testTokenHex), dev, KindCLI},
		{"token with bad id", testBinding, "01jf0000000000000000000001." + testTokenHex, dev, KindCLI},
		{"no device", testBinding, testPIN, nil, KindCLI},
		{"kind", testBinding, testPIN, dev, "phone"},
		{"no binding", nil, testPIN, dev, KindCLI},
		{"short binding", testBinding[:minBinding-1], testPIN, dev, KindCLI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer s.Close()
			defer c.Close()
			_, err := Pair(context.Background(), c, tc.binding, tc.secret, tc.dev, tc.kind)
			if err == nil {
				t.Fatal("accepted")
			}
			if len(tc.secret) > 4 && strings.Contains(err.Error(), tc.secret) && tc.secret != testPIN {
				t.Fatalf("the secret is echoed: %v", err)
			}
		})
	}
}

func TestTooManyCandidatesRefused(t *testing.T) {
	var codes []candidateCode
	for i := 0; i <= maxOffers; i++ {
		codes = append(codes, candidateCode{id: fmt.Sprintf("01JF00000000000000000000%02d", i), prs: pinPRS(fmt.Sprintf("%06d", i))})
	}
	reg := newFakeRegistry(t, codes...)
	_, srv, err := pairPipe(t, fakeServer(reg), testPIN, newDevice(t), KindCLI)
	if !errors.Is(srv.err, ErrTooManyCodes) || err == nil {
		t.Fatalf("client %v, daemon %v; want ErrTooManyCodes on the daemon", err, srv.err)
	}
}

func TestServeRefusesShortBinding(t *testing.T) {
	for _, b := range [][]byte{nil, testBinding[:minBinding-1]} {
		c, s := net.Pipe()
		_, err := servePairing(context.Background(), newFakeRegistry(t, pinCode(testCodeID, testPIN)), quietLog(), s, "pipe", b)
		c.Close()
		s.Close()
		if err == nil || !strings.Contains(err.Error(), "channel binding") {
			t.Fatalf("binding of %d bytes: %v", len(b), err)
		}
	}
}

func TestClientRefusesGarbage(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"not JSON", frameOf([]byte("<html>")), ErrProtocol},
		{"oversize frame", []byte{0x7f, 0xff, 0xff, 0xff}, ErrProtocol},
		{"hello back", frameOf(mustJSON(t, validHello())), ErrProtocol},
		{"no offers", frameOf([]byte(`{"type":"offers","offers":[]}`)), ErrProtocol},
		{"two offers for a token", frameOf(mustJSON(t, validOffers(2))), ErrProtocol},
		{"offer not a point", frameOf(mustJSON(t, validOffers(1))), ErrProtocol},
		{"unknown error code", frameOf([]byte(`{"type":"error","code":"x","message":""}`)), ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer s.Close()
			go func() {
				var hdr [4]byte
				if _, err := readFrame(s, hdr[:]); err != nil {
					return
				}
				s.Write(tc.frame)
				io.Copy(io.Discard, s)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := Pair(ctx, c, testBinding, testCodeID+"."+testTokenHex, newDevice(t), KindCLI)
			c.Close()
			if !errors.Is(err, tc.want) {
				t.Fatalf("client: %v, want %v", err, tc.want)
			}
		})
	}
}
