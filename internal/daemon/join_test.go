package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/testskill"
	"github.com/palyra/palyra-go/internal/transport"
)

// relay forwards UDP datagrams between its clients and a server, until
// cut: then it drops every datagram both ways, as when a node's process
// is killed or its network fails (QUIC has no kernel state: the other end
// hears nothing, and learns of it only from its idle timeout). mend
// forwards again.
type relay struct {
	ln     *net.UDPConn
	target *net.UDPAddr
	cut    atomic.Bool

	mu  sync.Mutex
	ups map[string]*net.UDPConn // client address → its socket to the server
}

func startRelay(t testing.TB, target string) *relay {
	t.Helper()
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: ta, ups: map[string]*net.UDPConn{}}
	go r.serve()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, up := range r.ups {
			up.Close()
		}
	})
	return r
}

func (r *relay) addr() string { return r.ln.LocalAddr().String() }

func (r *relay) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.ln.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if r.cut.Load() {
			continue
		}
		r.mu.Lock()
		up := r.ups[from.String()]
		if up == nil {
			if up, err = net.DialUDP("udp", nil, r.target); err != nil {
				r.mu.Unlock()
				continue
			}
			r.ups[from.String()] = up
			go r.back(up, from)
		}
		r.mu.Unlock()
		_, _ = up.Write(buf[:n])
	}
}

// back forwards the server's datagrams on up to the client at to.
func (r *relay) back(up *net.UDPConn, to *net.UDPAddr) {
	buf := make([]byte, 64<<10)
	for {
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		if !r.cut.Load() {
			_, _ = r.ln.WriteToUDP(buf[:n], to)
		}
	}
}

// sharedSkill installs one signed artifact, beta.spin (tools ok and spin,
// spin running until its 30 s timeout), in the daemon's state dir and in
// a fresh node state dir, and returns the node's host and the pinned key.
func sharedSkill(t testing.TB, f *fixture) (*host.Host, skillKey) {
	t.Helper()
	art := testskill.Spec{Publisher: "beta", Name: "spin", Module: testskill.SpinModule(false), Tools: []string{"ok", "spin"}, TimeoutMS: 30000, Fuel: 1 << 50, Key: testskill.NewKey(t)}.File(t)
	if _, err := f.h.Install(context.Background(), art, host.InstallOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	nh := nodeHost(t, art)
	return nh, keyOf(t, nh, "beta.spin")
}

// joining is Join running for a node host in a goroutine.
type joining struct {
	done chan struct{} // closed when Join has returned err
	err  error
}

func joined(t testing.TB, nh *host.Host, creds *host.RemoteCredentials, limits transport.Limits, connected *atomic.Int64) *joining {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j := &joining{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.err = Join(ctx, nh, creds, JoinOptions{
			Node:        NodeOptions{OfferInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
			BackoffMin:  50 * time.Millisecond,
			BackoffMax:  time.Second,
			Remote:      host.RemoteOptions{Limits: limits},
			OnConnected: func() { connected.Add(1) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-j.done:
		case <-time.After(15 * time.Second):
			t.Error("Join did not return within 15 s of its context ending")
		}
	})
	return j
}

// remote is a paired CLI device's host.Remote, as an application has.
func (f *fixture) remote(t testing.TB) *host.Remote {
	t.Helper()
	ch, err := host.Open(context.Background(), t.TempDir(), host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	creds := f.pairHost(t, ch, identity.KindCLI)
	r, err := host.Dial(context.Background(), creds, host.RemoteOptions{Limits: testLimits, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// ranOn calls beta.spin's ok tool through r and returns where it ran.
func ranOn(t testing.TB, r *host.Remote) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, where, err := r.RunWhere(ctx, "beta.spin", "ok", nil)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	return where
}

// TestJoinReconnectsAfterRestart: the loop `palyra node --join` runs. A
// node joins and runs the daemon's calls; the daemon restarts (its
// connections end) and the node connects again by itself and offers
// again, and calls run on it again; once its device is revoked, Join
// stops for good with ErrNodeRefused.
func TestJoinReconnectsAfterRestart(t *testing.T) {
	f := startDaemon(t, nil)
	nh, key := sharedSkill(t, f)
	creds := f.pairHost(t, nh, identity.KindNode)
	var connected atomic.Int64
	j := joined(t, nh, creds, testLimits, &connected)
	(&routingDaemon{nodes: f.d.nodes}).waitOffer(t, creds.DeviceID, key)
	r := f.remote(t)
	if where := ranOn(t, r); where != creds.DeviceID {
		t.Fatalf("ran on %q, want the node %s", where, creds.DeviceID)
	}

	start := time.Now()
	f.restart(t)
	(&routingDaemon{nodes: f.d.nodes}).waitOffer(t, creds.DeviceID, key)
	t.Logf("the node offered to the restarted daemon %v after the restart began", time.Since(start).Round(time.Millisecond))
	if n := connected.Load(); n != 2 {
		t.Fatalf("connected %d times, want 2", n)
	}
	if where := ranOn(t, r); where != creds.DeviceID {
		t.Fatalf("after the restart the call ran on %q, want the node %s", where, creds.DeviceID)
	}

	id, err := f.h.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Manager.Revoke(context.Background(), creds.DeviceID, "retired"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.done:
		if !errors.Is(j.err, ErrNodeRefused) {
			t.Fatalf("Join after the revocation: %v, want ErrNodeRefused", j.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Join still running 10 s after its device was revoked")
	}
	if where := ranOn(t, r); where != "local" {
		t.Fatalf("after the node was revoked the call ran on %q, want local", where)
	}
}

// TestNodeLost: a node goes silent in the middle of a call (its process
// killed, or its network gone: no packet comes back). The caller, a
// host.Remote, gets host.ErrNodeLost (code node_lost, exit status 1,
// naming the node) once the daemon's idle timeout ends the connection,
// well before the caller's deadline; the call is not run again locally.
// The daemon drops the node and runs the next calls itself until the
// node (its Join loop) is back, and then routes to it again.
func TestNodeLost(t *testing.T) {
	limits := testLimits
	limits.IdleTimeout, limits.KeepAlive, limits.HandshakeTimeout = 2*time.Second, 500*time.Millisecond, 2*time.Second
	f := startDaemon(t, func(o *Options) { o.Limits = limits })
	nh, key := sharedSkill(t, f)
	creds := f.pairHost(t, nh, identity.KindNode)
	rl := startRelay(t, f.addr)
	viaRelay := *creds
	viaRelay.Addr = rl.addr()
	var connected atomic.Int64
	joined(t, nh, &viaRelay, limits, &connected)
	nodes := &routingDaemon{nodes: f.d.nodes}
	nodes.waitOffer(t, creds.DeviceID, key)
	r := f.remote(t)
	if where := ranOn(t, r); where != creds.DeviceID {
		t.Fatalf("ran on %q, want the node %s", where, creds.DeviceID)
	}

	const deadline = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := r.Call(ctx, "beta.spin", "spin", nil)
		got <- err
	}()
	waitInFlight(t, nodes, creds.DeviceID)
	rl.cut.Store(true)
	cutAt := time.Now()
	var err error
	select {
	case err = <-got:
	case <-time.After(deadline):
		t.Fatal("the call hangs on a silent node")
	}
	took := time.Since(cutAt)
	var re *transport.RemoteError
	if !errors.Is(err, host.ErrNodeLost) || !errors.As(err, &re) || re.Code != "node_lost" || re.ExitCode != 1 || !strings.Contains(err.Error(), creds.DeviceID) {
		t.Fatalf("call on a silent node: %v (%+v), want host.ErrNodeLost, code node_lost, exit 1, naming %s", err, re, creds.DeviceID)
	}
	if took > limits.IdleTimeout+5*time.Second {
		t.Fatalf("the error came %v after the node went silent (idle timeout %v)", took, limits.IdleTimeout)
	}
	t.Logf("the caller had %q %v after the node went silent (idle timeout %v)", err, took.Round(time.Millisecond), limits.IdleTimeout)
	f.logs.Wait(t, "daemon: call failed on a node", map[string]string{"node": creds.DeviceID})

	// Dropped: the daemon runs the calls itself meanwhile.
	nodes.waitGone(t, creds.DeviceID)
	if where := ranOn(t, r); where != "local" {
		t.Fatalf("with the node gone the call ran on %q, want local", where)
	}
	// The node's network comes back: its Join loop reconnects and offers.
	rl.cut.Store(false)
	nodes.waitOffer(t, creds.DeviceID, key)
	if where := ranOn(t, r); where != creds.DeviceID {
		t.Fatalf("after the node came back the call ran on %q, want the node %s", where, creds.DeviceID)
	}
	if n := connected.Load(); n < 2 {
		t.Fatalf("the node connected %d times, want a reconnection", n)
	}
}
