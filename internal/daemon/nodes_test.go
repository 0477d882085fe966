package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/secrets"
	"github.com/palyra/palyra-go/internal/testskill"
	"github.com/palyra/palyra-go/internal/transport"
)

// nodeLimits are short so a dead peer is noticed quickly.
var nodeLimits = transport.Limits{
	HandshakeTimeout: 2 * time.Second,
	IdleTimeout:      5 * time.Second,
	KeepAlive:        time.Second,
	ReadTimeout:      2 * time.Second,
	WriteTimeout:     2 * time.Second,
}

// testPKI is a real identity CA in a real encrypted secret store.
type testPKI struct {
	ca *identity.CertificateAuthority
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	s, err := secrets.Open(filepath.Join(t.TempDir(), "secrets"), secrets.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := identity.NewCA(context.Background(), identity.NewSecretsStore(s), identity.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca}
}

func (p *testPKI) cert(t testing.TB, device string) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var der []byte
	if device == "" {
		_, der, err = p.ca.IssueServer(k.Public(), []string{"127.0.0.1"})
	} else {
		_, der, err = p.ca.IssueClient(device, k.Public())
	}
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// routingDaemon is a stand-in for the daemon's handler with only the node
// parts: offers go to the nodeSet, calls to route (no local fallback).
type routingDaemon struct {
	pki   *testPKI
	nodes *nodeSet
	addr  string
}

func startRoutingDaemon(t testing.TB) *routingDaemon {
	t.Helper()
	d := &routingDaemon{pki: newTestPKI(t), nodes: &nodeSet{}}
	s, err := transport.Listen("127.0.0.1:0", transport.ServerOptions{
		Certificate: d.pki.cert(t, ""),
		ClientCAs:   d.pki.ca.Pool(),
		Logger:      slog.New(slog.DiscardHandler),
		Limits:      nodeLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	d.addr = s.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, func(ctx context.Context, peer transport.Peer, req *transport.Request) (*transport.Result, error) {
			switch req.Type {
			case transport.TypeOffer:
				return &transport.Result{}, d.nodes.offer(ctx, peer, req.Offer)
			}
			return nil, fmt.Errorf("unexpected %s", req.Type)
		})
	}()
	t.Cleanup(func() {
		cancel()
		s.Close()
		<-done
	})
	return d
}

// dial connects as device, accepting the daemon's calls.
func (d *routingDaemon) dial(t testing.TB, device string) *transport.Conn {
	t.Helper()
	c, err := transport.Dial(context.Background(), d.addr, transport.ClientOptions{
		Certificate:   d.pki.cert(t, device),
		RootCAs:       d.pki.ca.Pool(),
		AcceptStreams: true,
		Logger:        slog.New(slog.DiscardHandler),
		Limits:        nodeLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitOffer waits until the daemon has device in its node set offering key.
func (d *routingDaemon) waitOffer(t testing.TB, device string, key skillKey) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.nodes.mu.Lock()
		nd := d.nodes.nodes[device]
		ok := false
		if nd != nil {
			_, ok = nd.offers[key]
		}
		d.nodes.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("node %s never offered %v; nodes %v", device, key, d.nodes.nodeIDs())
}

func (d *routingDaemon) waitGone(t testing.TB, device string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if !slices.Contains(d.nodes.nodeIDs(), device) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("node %s still in the set", device)
}

// skills are the real signed artifacts the tests install: an echo skill
// at two versions and a skill whose "spin" tool runs until stopped.
type skills struct {
	echo, echo2, spin string // artifact paths
}

func buildSkills(t testing.TB) skills {
	key := testskill.NewKey(t)
	return skills{
		echo:  testskill.Spec{Key: key, Name: "echo", Version: "1.0.0", Module: testskill.EchoModule("echo")}.File(t),
		echo2: testskill.Spec{Key: key, Name: "echo", Version: "1.1.0", Module: testskill.EchoModule("echo")}.File(t),
		spin:  testskill.Spec{Key: key, Name: "spin", Module: testskill.SpinModule(false), Tools: []string{"ok", "spin"}, TimeoutMS: 30000, Fuel: 1 << 50}.File(t),
	}
}

// nodeHost opens a host in a fresh state dir with the given artifacts
// installed (all eligible).
func nodeHost(t testing.TB, artifacts ...string) *host.Host {
	t.Helper()
	ctx := context.Background()
	h, err := host.Open(ctx, t.TempDir(), host.Options{Policy: &host.Policy{FuelBudget: 1 << 50}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	for _, a := range artifacts {
		if _, err := h.Install(ctx, a, host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func keyOf(t testing.TB, h *host.Host, id string) skillKey {
	t.Helper()
	info, err := h.Info(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return skillKey{id, info.Status.Version, info.Status.PayloadSHA256}
}

// runningNode is RunNode on its own connection.
type runningNode struct {
	conn   *transport.Conn
	cancel context.CancelFunc
	done   chan struct{} // closed when RunNode has returned err
	err    error
}

func startNode(t testing.TB, d *routingDaemon, device string, h *host.Host) *runningNode {
	t.Helper()
	conn := d.dial(t, device)
	ctx, cancel := context.WithCancel(context.Background())
	n := &runningNode{conn: conn, cancel: cancel, done: make(chan struct{})}
	go func() {
		n.err = RunNode(ctx, conn, h, NodeOptions{OfferInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		close(n.done)
	}()
	t.Cleanup(func() {
		cancel()
		conn.Close()
		<-n.done
	})
	return n
}

func routeCall(ctx context.Context, d *routingDaemon, key skillKey, tool, input string) (string, string, error) {
	res, id, err := d.nodes.route(ctx, &transport.CallRequest{Skill: key.id, Tool: tool, Input: []byte(input)}, key.version, key.digest)
	if err != nil {
		return "", id, err
	}
	return string(res.Output), id, nil
}

func TestRouteToNodeWithSameVersion(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	same := nodeHost(t, sk.echo)
	other := nodeHost(t, sk.echo2)
	key := keyOf(t, same, "acme.echo")
	otherKey := keyOf(t, other, "acme.echo")
	if key == otherKey {
		t.Fatal("two versions with one key")
	}
	startNode(t, d, "NODE-OTHER", other)
	d.waitOffer(t, "NODE-OTHER", otherKey)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only a node of another version: not used.
	if _, _, err := routeCall(ctx, d, key, "echo", "hi"); !errors.Is(err, errNoNode) {
		t.Fatalf("route with only another version: %v, want errNoNode", err)
	}
	// Same id and version, another digest: not used either.
	if _, _, err := routeCall(ctx, d, skillKey{key.id, key.version, otherKey.digest}, "echo", "hi"); !errors.Is(err, errNoNode) {
		t.Fatalf("route to a digest nobody has: %v, want errNoNode", err)
	}
	startNode(t, d, "NODE-SAME", same)
	d.waitOffer(t, "NODE-SAME", key)
	for i := range 5 {
		in := fmt.Sprint("call ", i)
		out, id, err := routeCall(ctx, d, key, "echo", in)
		if err != nil || out != in || id != "NODE-SAME" {
			t.Fatalf("route: %q on %q, %v; want %q on NODE-SAME", out, id, err, in)
		}
	}
	out, id, err := routeCall(ctx, d, otherKey, "echo", "v2")
	if err != nil || out != "v2" || id != "NODE-OTHER" {
		t.Fatalf("route 1.1.0: %q on %q, %v", out, id, err)
	}
}

func TestRouteNoNode(t *testing.T) {
	var ns nodeSet // the zero value is an empty set
	_, _, err := ns.route(context.Background(), &transport.CallRequest{Skill: "acme.echo", Tool: "echo"}, "1.0.0", "abc")
	if !errors.Is(err, errNoNode) {
		t.Fatalf("route on an empty set: %v", err)
	}
	ns.drop("nobody")
}

func TestRouteLeastBusy(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	h1, h2 := nodeHost(t, sk.spin), nodeHost(t, sk.spin)
	key := keyOf(t, h1, "acme.spin")
	if k2 := keyOf(t, h2, "acme.spin"); k2 != key {
		t.Fatalf("one artifact, two keys: %v %v", key, k2)
	}
	startNode(t, d, "NODE-A", h1)
	startNode(t, d, "NODE-B", h2)
	d.waitOffer(t, "NODE-A", key)
	d.waitOffer(t, "NODE-B", key)

	// Idle nodes share the calls.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[string]int{}
	for range 4 {
		_, id, err := routeCall(ctx, d, key, "ok", "")
		if err != nil {
			t.Fatal(err)
		}
		seen[id]++
	}
	if seen["NODE-A"] != 2 || seen["NODE-B"] != 2 {
		t.Fatalf("idle nodes got %v, want 2 each", seen)
	}

	// A long call keeps one node busy: every later call goes to the other.
	spinCtx, spinCancel := context.WithCancel(context.Background())
	spinDone := make(chan string, 1)
	go func() {
		_, id, _ := routeCall(spinCtx, d, key, "spin", "")
		spinDone <- id
	}()
	var busy string
	deadline := time.Now().Add(5 * time.Second)
	for busy == "" && time.Now().Before(deadline) {
		d.nodes.mu.Lock()
		for id, nd := range d.nodes.nodes {
			if nd.inFlight == 1 {
				busy = id
			}
		}
		d.nodes.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	if busy == "" {
		t.Fatal("the spin call never started")
	}
	for range 4 {
		_, id, err := routeCall(ctx, d, key, "ok", "")
		if err != nil {
			t.Fatal(err)
		}
		if id == busy {
			t.Fatalf("a call went to the busy node %s", busy)
		}
	}
	spinCancel()
	if id := <-spinDone; id != busy {
		t.Fatalf("spin ran on %q, counted on %q", id, busy)
	}
}

// TestNodeKilledMidCall: the node's connection dies while a slow tool
// runs; the caller gets an error well within its deadline, the node is
// dropped, and a reconnected node is used again.
func TestNodeKilledMidCall(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	h := nodeHost(t, sk.spin)
	key := keyOf(t, h, "acme.spin")
	n := startNode(t, d, "NODE-K", h)
	d.waitOffer(t, "NODE-K", key)

	const deadline = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	type result struct {
		id  string
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		_, id, err := routeCall(ctx, d, key, "spin", "")
		done <- result{id, err, time.Now()}
	}()
	// Let the call reach the node, then kill the node's connection.
	waitInFlight(t, d, "NODE-K")
	killed := time.Now()
	n.conn.Close()
	var r result
	select {
	case r = <-done:
	case <-time.After(deadline):
		t.Fatal("the call hangs on a dead node")
	}
	if r.err == nil || !errors.Is(r.err, host.ErrNodeLost) || r.id != "NODE-K" {
		t.Fatalf("call on a killed node: on %q, %v; want host.ErrNodeLost from NODE-K", r.id, r.err)
	}
	if took := r.at.Sub(killed); took > 2*time.Second {
		t.Fatalf("the error came %s after the node died", took)
	} else {
		t.Logf("the caller had its error %s after the node died", took)
	}
	d.waitGone(t, "NODE-K")
	if _, _, err := routeCall(ctx, d, key, "ok", ""); !errors.Is(err, errNoNode) {
		t.Fatalf("route after the node died: %v, want errNoNode", err)
	}
	select {
	case <-n.done:
		if n.err == nil {
			t.Fatal("RunNode returned nil when its connection died")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunNode did not return when its connection died")
	}

	// It reconnects and offers again: used again.
	startNode(t, d, "NODE-K", h)
	d.waitOffer(t, "NODE-K", key)
	if _, id, err := routeCall(ctx, d, key, "ok", ""); err != nil || id != "NODE-K" {
		t.Fatalf("route after reconnect: on %q, %v", id, err)
	}
}

func waitInFlight(t testing.TB, d *routingDaemon, device string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d.nodes.mu.Lock()
		nd := d.nodes.nodes[device]
		busy := nd != nil && nd.inFlight > 0
		d.nodes.mu.Unlock()
		if busy {
			time.Sleep(100 * time.Millisecond) // the request reaches the guest
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no call in flight on %s", device)
}

// TestNodeCallerDeadline: a node that runs past the caller's deadline
// fails the call at the deadline (not later), and stays in the set: it
// is slow, not dead.
func TestNodeCallerDeadline(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	h := nodeHost(t, sk.spin)
	key := keyOf(t, h, "acme.spin")
	startNode(t, d, "NODE-S", h)
	d.waitOffer(t, "NODE-S", key)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := routeCall(ctx, d, key, "spin", "")
	if err == nil || errors.Is(err, host.ErrNodeLost) {
		t.Fatalf("spin past the deadline: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the call returned %s after a 300ms deadline", took)
	}
	if !slices.Contains(d.nodes.nodeIDs(), "NODE-S") {
		t.Fatal("a slow node was dropped")
	}
}

// TestNodeRefusesOtherVersion: a node refuses a call pinned to another
// version or digest than its eligible install, and re-offers when its
// install changes; the daemon then routes the new version to it.
func TestNodeRefusesOtherVersion(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	h := nodeHost(t, sk.echo)
	key := keyOf(t, h, "acme.echo")
	startNode(t, d, "NODE-V", h)
	d.waitOffer(t, "NODE-V", key)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Call the node as the daemon does, over the daemon's side of its
	// connection, with wrong pins.
	d.nodes.mu.Lock()
	daemonSide := d.nodes.nodes["NODE-V"].conn
	d.nodes.mu.Unlock()
	for _, pin := range []transport.CallRequest{
		{Skill: "acme.echo", Tool: "echo"},
		{Skill: "acme.echo", Tool: "echo", Version: "9.9.9", Digest: key.digest},
		{Skill: "acme.echo", Tool: "echo", Version: key.version, Digest: "deadbeef"},
		{Skill: "acme.nope", Tool: "echo", Version: key.version, Digest: key.digest},
	} {
		_, err := daemonSide.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &pin})
		var re *transport.RemoteError
		if !errors.As(err, &re) || re.Code != CodeVersionMismatch {
			t.Fatalf("call pinned %s@%s/%s: %v, want %s", pin.Skill, pin.Version, pin.Digest, err, CodeVersionMismatch)
		}
	}

	// Upgrade the node: it offers 1.1.0, and a call pinned to 1.0.0 that
	// reaches it anyway is refused and forgotten (errNoNode: run locally).
	if _, err := h.Install(ctx, sk.echo2, host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatal(err)
	}
	newKey := keyOf(t, h, "acme.echo")
	d.nodes.mu.Lock()
	d.nodes.nodes["NODE-V"].offers[key] = struct{}{} // as if the re-offer had not arrived yet
	d.nodes.mu.Unlock()
	if _, _, err := routeCall(ctx, d, key, "echo", "old"); !errors.Is(err, errNoNode) {
		t.Fatalf("route to a node that upgraded: %v, want errNoNode", err)
	}
	d.waitOffer(t, "NODE-V", newKey)
	if out, id, err := routeCall(ctx, d, newKey, "echo", "new"); err != nil || out != "new" || id != "NODE-V" {
		t.Fatalf("route 1.1.0: %q on %q, %v", out, id, err)
	}
}

// TestNodeSetConcurrent exercises offer, route, drop and connection loss
// at once (run with -race).
func TestNodeSetConcurrent(t *testing.T) {
	sk := buildSkills(t)
	d := startRoutingDaemon(t)
	h := nodeHost(t, sk.echo)
	key := keyOf(t, h, "acme.echo")
	startNode(t, d, "NODE-1", h)
	startNode(t, d, "NODE-2", h)
	d.waitOffer(t, "NODE-1", key)
	d.waitOffer(t, "NODE-2", key)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				in := fmt.Sprintf("%d/%d", g, i)
				out, _, err := routeCall(ctx, d, key, "echo", in)
				if errors.Is(err, errNoNode) {
					continue // both dropped for a moment
				}
				if err != nil || out != in {
					errs <- fmt.Errorf("%s: %q, %v", in, out, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			d.nodes.drop("NODE-2")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// NODE-2 re-offers only on change; it stays dropped, NODE-1 serves.
	if _, id, err := routeCall(ctx, d, key, "echo", "x"); err != nil || id != "NODE-1" {
		t.Fatalf("after drops: on %q, %v", id, err)
	}
}

// TestDaemonRoutesToJoinedNode: end to end through the daemon. A device
// paired as node joins with RunNode and offers the daemon's own version
// of a skill; a client's call runs on it and reports ran_on = the node's
// device id; a skill the node lacks runs locally; once the node leaves,
// the same call falls back to the daemon.
func TestDaemonRoutesToJoinedNode(t *testing.T) {
	f := startDaemon(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	art := testskill.Spec{Publisher: "beta", Name: "shared", Module: testskill.EchoModule("echo"), Key: testskill.NewKey(t)}.File(t)
	if _, err := f.h.Install(ctx, art, host.InstallOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	nh := nodeHost(t, art)
	key := keyOf(t, nh, "beta.shared")

	nc := f.pair(t, identity.KindNode)
	opts := nc.options()
	opts.AcceptStreams = true
	conn, err := transport.Dial(ctx, f.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nctx, ncancel := context.WithCancel(ctx)
	nodeDone := make(chan error, 1)
	go func() {
		nodeDone <- RunNode(nctx, conn, nh, NodeOptions{OfferInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	}()
	(&routingDaemon{nodes: f.d.nodes}).waitOffer(t, nc.id, key)

	cli := f.dial(t, f.pair(t, identity.KindCLI))
	ranOn := func(skill string) string {
		t.Helper()
		res, err := call(ctx, cli, skill, "echo", []byte("hello"), true)
		if err != nil {
			t.Fatalf("call %s: %v", skill, err)
		}
		var data struct {
			RanOn   string `json:"ran_on"`
			SkillID string `json:"skill_id"`
		}
		if err := json.Unmarshal(res.Data, &data); err != nil || string(res.Output) != "hello" || data.SkillID != skill {
			t.Fatalf("call %s: output %q, data %s, %v", skill, res.Output, res.Data, err)
		}
		return data.RanOn
	}
	if got := ranOn("beta.shared"); got != nc.id {
		t.Fatalf("beta.shared ran on %q, want the node %s", got, nc.id)
	}
	if got := ranOn("acme.echo"); got != "local" {
		t.Fatalf("acme.echo (not on the node) ran on %q, want local", got)
	}
	ncancel()
	<-nodeDone
	conn.Close()
	(&routingDaemon{nodes: f.d.nodes}).waitGone(t, nc.id)
	if got := ranOn("beta.shared"); got != "local" {
		t.Fatalf("beta.shared after the node left ran on %q, want local", got)
	}
}
