package identity

// Tests where two Managers share one secret store directory, as the
// daemon and the CLI do: each opens its own secrets.Store, so they share
// nothing but the files and the flock, exactly as two processes would.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// twoProcesses returns a daemon-side and a CLI-side Manager on one store
// directory.
func twoProcesses(t *testing.T, opts ManagerOptions) (daemon, cli *Manager) {
	t.Helper()
	dir := t.TempDir()
	daemon = newRegistry(t, openSecrets(t, dir), nil, opts)
	cli = newRegistry(t, openSecrets(t, dir), nil, opts)
	if !daemon.ca.Root().Equal(cli.ca.Root()) {
		t.Fatal("the two Managers have different CAs")
	}
	return daemon, cli
}

// waitState polls m until device id is in state want.
func waitState(t *testing.T, m *Manager, id string, want DeviceState) Device {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		devs, err := m.Devices(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if d.ID == id && d.State == want {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s never became %s: %+v", id, want, devs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestApprovalAcrossProcesses(t *testing.T) {
	type result struct {
		g   *PairingGrant
		err error
	}
	for _, tc := range []struct {
		name    string
		decide  func(cli *Manager, id string) error
		want    error
		state   DeviceState
		reason  string
		timeout bool
	}{
		{"approved", func(cli *Manager, id string) error { return cli.Approve(context.Background(), id) }, nil, DeviceCompleted, "", false},
		{"rejected", func(cli *Manager, id string) error { return cli.Reject(context.Background(), id, "unknown laptop") }, ErrPairingRejected, DeviceRejected, "unknown laptop", false},
		{"revoked while pending", func(cli *Manager, id string) error { return cli.Revoke(context.Background(), id, "no") }, ErrDeviceRevoked, DeviceRevoked, "", false},
		{"abandoned", nil, context.DeadlineExceeded, DeviceRejected, "abandoned", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			daemon, cli := twoProcesses(t, ManagerOptions{ApprovalPoll: 10 * time.Millisecond})
			pc := mint(t, daemon, CodeOptions{RequireApproval: true, Kind: KindNode})
			dev := newTestDevice(t)
			ctx := context.Background()
			if tc.timeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
			}
			_, release, err := daemon.beginAttempt(ctx, "p", pc.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			done := make(chan result, 1)
			go func() {
				g, err := daemon.completePairing(ctx, dev.request(pc.ID, KindNode))
				done <- result{g, err}
			}()
			pending := waitState(t, cli, dev.id.ID(), DevicePending)
			if len(pending.Certificates) != 0 || pending.CodeID != pc.ID {
				t.Fatalf("pending device: %+v", pending)
			}
			// A pending device has no certificate to pass the hook with.
			select {
			case r := <-done:
				t.Fatalf("pairing finished before the decision: %+v", r)
			case <-time.After(50 * time.Millisecond):
			}
			if tc.decide != nil {
				if err := tc.decide(cli, dev.id.ID()); err != nil {
					t.Fatal(err)
				}
			}
			r := <-done
			if !errors.Is(r.err, tc.want) || (tc.want == nil) != (r.g != nil) {
				t.Fatalf("completePairing = %+v, %v; want %v", r.g, r.err, tc.want)
			}
			d := waitState(t, cli, dev.id.ID(), tc.state)
			if !strings.HasPrefix(d.RejectReason, tc.reason) {
				t.Fatalf("reject reason %q, want %q", d.RejectReason, tc.reason)
			}
			if r.g != nil {
				cert, _ := x509.ParseCertificate(r.g.ClientCert)
				if err := daemon.CheckCertificate(context.Background(), cert); err != nil {
					t.Fatalf("approved certificate refused: %v", err)
				}
				// The CLI's snapshot is from its Approve, a moment before
				// the daemon issued; an unknown certificate is looked up
				// again once the snapshot is missReload old.
				time.Sleep(missReload)
				if err := cli.CheckCertificate(context.Background(), cert); err != nil {
					t.Fatalf("approved certificate refused by the other process: %v", err)
				}
			}
			// Decisions apply to pending devices only.
			if err := cli.Approve(context.Background(), dev.id.ID()); err == nil || !strings.Contains(err.Error(), "not pending") {
				t.Fatalf("Approve of a %s device = %v", tc.state, err)
			}
		})
	}
	_, cli := twoProcesses(t, ManagerOptions{})
	for _, f := range []func() error{
		func() error { return cli.Approve(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV") },
		func() error { return cli.Reject(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV", "") },
	} {
		if err := f(); !errors.Is(err, ErrUnknownDevice) {
			t.Fatalf("decision on an unknown device = %v, want ErrUnknownDevice", err)
		}
	}
}

// A revocation stored by another process reaches this one's hook within
// SnapshotMaxAge (plus the time of one reload).
func TestRevocationByAnotherProcessIsSeen(t *testing.T) {
	ctx := context.Background()
	daemon, cli := twoProcesses(t, ManagerOptions{})
	dev := newTestDevice(t)
	g := pair(t, daemon, dev, mint(t, daemon, CodeOptions{}))
	cert, _ := x509.ParseCertificate(g.ClientCert)
	if err := daemon.CheckCertificate(ctx, cert); err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, dev.id.ID(), "lost"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		err := daemon.CheckCertificate(ctx, cert)
		if errors.Is(err, ErrDeviceRevoked) {
			break
		}
		if err != nil {
			t.Fatalf("CheckCertificate = %v, want nil or ErrDeviceRevoked", err)
		}
		if time.Since(start) > time.Second {
			t.Fatal("the revocation was not seen within a second")
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	t.Logf("revocation seen after %v (bound %v)", elapsed, SnapshotMaxAge)
	if elapsed > SnapshotMaxAge+100*time.Millisecond {
		t.Fatalf("revocation seen after %v, bound %v", elapsed, SnapshotMaxAge)
	}
}

// Updates from two processes, interleaved, lose nothing: every mint,
// attempt and revocation of both is in the final registry.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	ctx := context.Background()
	opts := ManagerOptions{PeerBurst: 1000, GlobalBurst: 1000, MaxSessions: 100}
	daemon, cli := twoProcesses(t, opts)
	const n = 6
	devs := make([]*testDevice, n)
	for i := range devs {
		devs[i] = newTestDevice(t)
		pair(t, daemon, devs[i], mint(t, daemon, CodeOptions{}))
	}
	target := mint(t, daemon, CodeOptions{TTL: time.Hour})
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := 0; i < n; i++ {
		m := []*Manager{daemon, cli}[i%2]
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := m.MintCode(ctx, CodeOptions{TTL: time.Hour}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if err := m.Revoke(ctx, devs[i].id.ID(), fmt.Sprint("r", i)); err != nil {
				errs <- err
			}
		}()
		if i < MaxCodeAttempts-1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, release, err := m.beginAttempt(ctx, "p", target.ID)
				if err != nil {
					errs <- err
					return
				}
				release()
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	codes, err := daemon.Codes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != n+1 {
		t.Fatalf("%d codes, want %d: a mint was lost", len(codes), n+1)
	}
	for _, c := range codes {
		if c.ID == target.ID && c.Attempts != MaxCodeAttempts-1 {
			t.Fatalf("target code has %d attempts, want %d: an attempt was lost", c.Attempts, MaxCodeAttempts-1)
		}
	}
	list, err := cli.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.State != DeviceRevoked {
			t.Fatalf("device %s is %s: a revocation was lost", d.ID, d.State)
		}
	}
	doc, _ := daemon.load(ctx)
	if len(doc.RevokedCertificates) != n {
		t.Fatalf("%d revoked certificates, want %d", len(doc.RevokedCertificates), n)
	}
}
