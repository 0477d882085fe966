package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

func TestRemoteListInfoCall(t *testing.T) {
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	conn := f.dial(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// list: what `skills list --json` prints, compact.
	res, err := conn.Call(ctx, &transport.Request{Type: transport.TypeList})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.h.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(list)
	if !bytes.Equal(res.Data, want) {
		t.Fatalf("list Data\n%s\nwant\n%s", res.Data, want)
	}

	// info
	res, err = conn.Call(ctx, &transport.Request{Type: transport.TypeInfo, Info: &transport.InfoRequest{Skill: "acme.echo"}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.h.Info(ctx, "acme.echo")
	want, _ = json.Marshal(info)
	if !bytes.Equal(res.Data, want) {
		t.Fatalf("info Data\n%s\nwant\n%s", res.Data, want)
	}
	_, err = conn.Call(ctx, &transport.Request{Type: transport.TypeInfo, Info: &transport.InfoRequest{Skill: "acme.nope"}})
	if back := remoteErr(t, err); !errors.Is(back, host.ErrNotInstalled) {
		t.Fatalf("info of a missing skill: %v", back)
	}

	// call, plain and with the report
	res, err = call(ctx, conn, "acme.echo", "echo", []byte(`{"hi":1}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != `{"hi":1}` || string(res.Data) != `{"ran_on":"local"}` {
		t.Fatalf("call = %q, %s", res.Output, res.Data)
	}
	res, err = call(ctx, conn, "acme.echo", "echo", []byte("x"), true)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RanOn   string `json:"ran_on"`
		SkillID string `json:"skill_id"`
		Version string `json:"version"`
		Tool    string `json:"tool"`
		Fuel    uint64 `json:"fuel_consumed"`
		Logs    []any  `json:"logs"`
	}
	if err := json.Unmarshal(res.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "x" || rep.RanOn != "local" || rep.SkillID != "acme.echo" || rep.Version != "1.0.0" || rep.Tool != "acme.echo" || rep.Fuel == 0 || rep.Logs == nil {
		t.Fatalf("report call = %q, %s", res.Output, res.Data)
	}

	// errors map back to the host's sentinels, with the local message.
	_, localErr := f.h.Call(ctx, "acme.echo", "nope", nil)
	_, err = call(ctx, conn, "acme.echo", "nope", nil, false)
	back := remoteErr(t, err)
	if !errors.Is(back, host.ErrNoTool) || back.Error() != localErr.Error() {
		t.Fatalf("no tool: %v, local %v", back, localErr)
	}
	_, err = call(ctx, conn, "acme.nope", "echo", nil, false)
	if back := remoteErr(t, err); !errors.Is(back, host.ErrNotInstalled) {
		t.Fatalf("missing skill: %v", back)
	}
	if err := f.h.Quarantine(ctx, "acme.echo", "test", "op"); err != nil {
		t.Fatal(err)
	}
	_, err = call(ctx, conn, "acme.echo", "echo", nil, false)
	if back := remoteErr(t, err); !errors.Is(back, host.ErrNotEligible) {
		t.Fatalf("quarantined skill: %v", back)
	}

	// A device that is not a node cannot offer skills.
	_, err = conn.Call(ctx, &transport.Request{Type: transport.TypeOffer, Offer: &transport.OfferRequest{Skills: []transport.SkillOffer{{ID: "acme.echo", Version: "1.0.0", Digest: "x"}}}})
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Code != CodeForbidden {
		t.Fatalf("offer from a cli device: %v", err)
	}
}

// remoteErr checks err is a RemoteError and maps it back.
func remoteErr(t *testing.T, err error) error {
	t.Helper()
	var re *transport.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("want a remote error, got %v", err)
	}
	return host.ErrorFromRemote(re)
}

// 1,000 calls at once over 50 connections, each answered with its own
// input (200 under the race detector; make test runs both passes).
func TestConcurrentCalls(t *testing.T) {
	conns, perConn := 50, 20
	if raceEnabled {
		perConn = 4
	}
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cs := make([]*transport.Conn, conns)
	for i := range cs {
		cs[i] = f.dial(t, c)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns*perConn)
	for i := range conns {
		for j := range perConn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := fmt.Appendf(nil, `{"conn":%d,"call":%d}`, i, j)
				res, err := call(ctx, cs[i], "acme.echo", "echo", in, false)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(res.Output, in) {
					errs <- fmt.Errorf("call %d/%d: output %q", i, j, res.Output)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d calls failed", n, conns*perConn)
	}
	t.Logf("%d calls over %d connections in %v", conns*perConn, conns, time.Since(start))
}

// Revoking a connected device from another Host on the same state dir
// (another process's view) cuts its connection within a second, and its
// next handshake fails.
func TestRevocationCutsConnection(t *testing.T) {
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	other := f.pair(t, identity.KindCLI)
	conn := f.dial(t, c)
	otherConn := f.dial(t, other)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := call(ctx, conn, "acme.echo", "echo", []byte("a"), false); err != nil {
		t.Fatal(err)
	}

	h2, err := host.Open(ctx, f.dir, hostOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	id2, err := h2.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := id2.Manager.Revoke(ctx, c.id, "lost laptop"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	case <-time.After(time.Second):
		t.Fatal("the revoked device's connection is still open a second later")
	}
	t.Logf("cut %v after the revocation", time.Since(start))
	_, err = call(ctx, conn, "acme.echo", "echo", []byte("b"), false)
	if !errors.Is(err, transport.ErrDeviceClosed) {
		t.Fatalf("call on the cut connection: %v, want ErrDeviceClosed", err)
	}
	// Its next handshake fails.
	if again, err := transport.Dial(ctx, f.addr, c.options()); err == nil {
		_, err = call(ctx, again, "acme.echo", "echo", []byte("c"), false)
		again.Close()
		if !errors.Is(err, transport.ErrRefused) {
			t.Fatalf("call after redial: %v, want ErrRefused", err)
		}
	} else if !errors.Is(err, transport.ErrRefused) {
		t.Fatalf("redial: %v, want ErrRefused", err)
	}
	f.logs.Wait(t, "transport: connection refused", map[string]string{"reason": transport.ReasonHook, "device": c.id})
	// Other devices go on.
	if _, err := call(ctx, otherConn, "acme.echo", "echo", []byte("d"), false); err != nil {
		t.Fatalf("another device after the revocation: %v", err)
	}
}

func TestRenewOverMTLS(t *testing.T) {
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	conn := f.dial(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	csr, key := newCSR(t)
	res, err := conn.Call(ctx, &transport.Request{Type: transport.TypeRenew, Renew: &transport.RenewRequest{CSR: csr}})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	renewed := &client{id: c.id, cert: tls.Certificate{Certificate: [][]byte{res.Output}, PrivateKey: key}, ca: c.ca}
	newConn := f.dial(t, renewed)
	if r, err := call(ctx, newConn, "acme.echo", "echo", []byte("new"), false); err != nil || string(r.Output) != "new" {
		t.Fatalf("call with the renewed certificate: %v", err)
	}
	if id, _ := identity.DeviceIDFromCert(newConn.TLS().PeerCertificates[0]); id != "" {
		t.Fatal("the daemon's certificate names a device")
	}
	// The old certificate still works (until it expires).
	oldConn := f.dial(t, c)
	if _, err := call(ctx, oldConn, "acme.echo", "echo", []byte("old"), false); err != nil {
		t.Fatalf("call with the old certificate after renewal: %v", err)
	}
	// A bad CSR is refused with the identity sentinel's code.
	_, err = conn.Call(ctx, &transport.Request{Type: transport.TypeRenew, Renew: &transport.RenewRequest{CSR: []byte("junk")}})
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Code != "invalid_certificate_request" {
		t.Fatalf("renew with a bad CSR: %v", err)
	}
}

// A call in flight when the daemon is told to stop runs to its end (here
// the skill's 1 s timeout) and its answer arrives; new connections are
// refused meanwhile.
func TestGracefulShutdown(t *testing.T) {
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	conn := f.dial(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		err     error
		elapsed time.Duration
	}
	got := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := call(ctx, conn, "acme.spin", "spin", nil, false)
		got <- result{err, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	f.cancel()
	r := <-got
	if errors.Is(r.err, transport.ErrShutdown) || r.elapsed < 900*time.Millisecond {
		t.Fatalf("in-flight call cut by shutdown after %v: %v", r.elapsed, r.err)
	}
	back := remoteErr(t, r.err)
	if !errors.Is(back, context.DeadlineExceeded) {
		var te *host.TrapError
		if !errors.As(back, &te) {
			t.Fatalf("spin ended with %v (%v), want its timeout", back, r.err)
		}
	}
	t.Logf("in-flight call answered after %v: %v", r.elapsed, back)
	f.stop(t)
	if _, err := transport.Dial(ctx, f.addr, c.options()); err == nil {
		t.Fatal("dial after shutdown succeeded")
	}
}

func TestNewWithoutIdentity(t *testing.T) {
	h, err := host.Open(context.Background(), t.TempDir(), host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, err = New(context.Background(), Options{Host: h, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, host.ErrNoIdentity) {
		t.Fatalf("New without an identity: %v, want ErrNoIdentity", err)
	}
}

func TestWithRanOn(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, `{"ran_on":"n1"}`},
		{`{"ran_on":"local","skill_id":"a"}`, `{"ran_on":"n1","skill_id":"a"}`},
		{`[1]`, `{"ran_on":"n1"}`},
	} {
		if got := string(withRanOn(json.RawMessage(tc.in), "n1")); got != tc.want {
			t.Errorf("withRanOn(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// The daemon's own certificate is re-issued on the next handshake once it
// is within identity.RenewBefore of expiring, without a restart.
func TestServerCertificateRenewed(t *testing.T) {
	f := startDaemon(t, nil)
	c := f.pair(t, identity.KindCLI)
	first := f.dial(t, c).TLS().PeerCertificates[0]
	f.d.certMu.Lock()
	old := *f.d.cert
	leaf := *old.Leaf
	leaf.NotAfter = time.Now().Add(time.Minute) // as if it were about to expire
	old.Leaf = &leaf
	f.d.cert = &old
	f.d.certMu.Unlock()
	second := f.dial(t, c).TLS().PeerCertificates[0]
	if second.Equal(first) || time.Until(second.NotAfter) < 23*time.Hour {
		t.Fatalf("certificate not renewed: serial %v → %v, not after %v", first.SerialNumber, second.SerialNumber, second.NotAfter)
	}
	// Unchanged while fresh.
	if third := f.dial(t, c).TLS().PeerCertificates[0]; !third.Equal(second) {
		t.Fatal("a fresh certificate was re-issued")
	}
}

// Re-pairing a device revokes its earlier certificate: a connection opened
// with it is cut within a second, the new certificate's stays.
func TestRepairingCutsOldCertificate(t *testing.T) {
	f := startDaemon(t, nil)
	dev, err := identity.NewDeviceIdentity()
	if err != nil {
		t.Fatal(err)
	}
	old := f.pairAs(t, identity.KindCLI, dev)
	oldConn := f.dial(t, old)
	renewed := f.pairAs(t, identity.KindCLI, dev)
	newConn := f.dial(t, renewed)
	select {
	case <-oldConn.Done():
	case <-time.After(time.Second):
		t.Fatal("the connection of the revoked certificate is still open a second after re-pairing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := call(ctx, newConn, "acme.echo", "echo", []byte("new"), false); err != nil {
		t.Fatalf("the re-paired certificate's connection: %v", err)
	}
	f.logs.Wait(t, "transport: closed certificate connections", map[string]string{"device": dev.ID()})
}
