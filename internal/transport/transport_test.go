package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/palyra/palyra-go/internal/transport/faultclient"
)

func TestCallRoundTrip(t *testing.T) {
	ts := startServer(t, echo, nil)
	c := ts.dial(t, "DEV1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	res, err := c.Call(ctx, &Request{Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte(`{"x":1}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != `{"x":1}` || string(res.Data) != `{"device":"DEV1"}` {
		t.Errorf("call result = %q / %s", res.Output, res.Data)
	}
	res, err = c.Call(ctx, &Request{Type: TypeList})
	if err != nil || string(res.Data) != `{"skills":["a","b"]}` {
		t.Errorf("list = %+v, %v", res, err)
	}
	res, err = c.Call(ctx, &Request{Type: TypeInfo, Info: &InfoRequest{Skill: "acme.echo"}})
	if err != nil || string(res.Data) != `{"id":"acme.echo"}` {
		t.Errorf("info = %+v, %v", res, err)
	}

	// A handler's coded error reaches the caller as a *RemoteError.
	_, err = c.Call(ctx, &Request{Type: TypeCall, Call: &CallRequest{Skill: "acme.gone", Tool: "fail"}})
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != "not_installed" || re.ExitCode != 1 || re.Message != "skill acme.gone is not installed" {
		t.Errorf("failing call: %v", err)
	}

	// A handler that panics fails its own request, not the server.
	_, err = c.Call(ctx, &Request{Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "panic"}})
	if !errors.As(err, &re) || re.Code != CodeInternal {
		t.Errorf("panicking handler: %v, want code %s", err, CodeInternal)
	}
	if recs := ts.logs.find("transport: handler panicked", ""); len(recs) != 1 || recs[0].Attrs["panic"] != "handler bug" {
		t.Errorf("panic log records: %v", recs)
	}
	mustEcho(t, c, "still serving")

	// The caller's deadline travels as the call's timeout and the handler
	// stops there.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err = c.Call(short, &Request{Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "block"}})
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &re) && re.Code == CodeDeadlineExceeded) {
		t.Errorf("blocking call: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("blocking call took %s", d)
	}

	// The server's certificate is what the client saw.
	if c.Peer().Certificate == nil || c.Peer().DeviceID != "" || c.TLS().NegotiatedProtocol != ALPN || c.TLS().Version != tls.VersionTLS13 {
		t.Errorf("client-side peer = %+v, ALPN %q", c.Peer(), c.TLS().NegotiatedProtocol)
	}
}

// TestManyConcurrentCalls: 1,000 calls at once over 50 connections (the
// issue's load figure), every answer the right one.
func TestManyConcurrentCalls(t *testing.T) {
	// A stream's request may wait for the CPU longer than the tests' 2 s
	// ReadTimeout on a loaded 2-core machine under -race (seen: code 514,
	// read_timeout, on 1 or 2 of the 1,000); this test is about answers,
	// not that timeout.
	ts := startServer(t, echo, func(o *ServerOptions) { o.Limits.ReadTimeout = 15 * time.Second })
	const conns, perConn = 50, 20
	cs := make([]*Conn, conns)
	for i := range cs {
		cs[i] = ts.dial(t, fmt.Sprintf("DEV%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var bad atomic.Int64
	errs := make(chan error, conns*perConn)
	for i, c := range cs {
		for j := range perConn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := fmt.Sprintf("conn %d call %d", i, j)
				out, err := callEcho(ctx, c, in)
				if err != nil || out != in {
					bad.Add(1)
					errs <- fmt.Errorf("%s: %q, %v", in, out, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if bad.Load() != 0 {
		t.Fatalf("%d of %d calls wrong", bad.Load(), conns*perConn)
	}
}

// TestRefusedHandshakes: each bad client is refused, the refusal is
// logged with its reason, and a good client on the same server keeps
// working throughout.
func TestRefusedHandshakes(t *testing.T) {
	var revoked sync.Map
	var hookRuns atomic.Int64
	ts := startServer(t, echo, func(o *ServerOptions) {
		o.VerifyPeer = func(cs tls.ConnectionState) error {
			hookRuns.Add(1)
			if len(cs.VerifiedChains) == 0 {
				return errors.New("hook called without verified chains")
			}
			uri := cs.PeerCertificates[0].URIs[0].String() // checked before the hook runs
			if _, ok := revoked.Load(uri); ok {
				return fmt.Errorf("device %s is revoked", uri)
			}
			return nil
		}
	})
	good := ts.dial(t, "GOOD")
	mustEcho(t, good, "before")

	other := newPKI(t)
	cases := []struct {
		name   string
		opts   func() ClientOptions
		alpn   string // dial with raw quic-go and this ALPN instead
		reason string
	}{
		{"certificate from another CA", func() ClientOptions {
			o := ts.clientOptions(t, "STRANGER")
			o.Certificate = other.client(t, "STRANGER")
			return o
		}, "", ReasonUnknownCA},
		{"expired certificate", func() ClientOptions {
			ts.pki.offset.Store(int64(-25 * time.Hour)) // issued 25 h ago, valid 24 h
			defer ts.pki.offset.Store(0)
			return ts.clientOptions(t, "OLD")
		}, "", ReasonExpired},
		{"server certificate used as a client's", func() ClientOptions {
			o := ts.clientOptions(t, "X")
			o.Certificate = ts.pki.server(t)
			return o
		}, "", ReasonBadUsage},
		{"certificate naming no device", func() ClientOptions {
			o := ts.clientOptions(t, "X")
			o.Certificate = ts.pki.clientWithoutDevice(t)
			return o
		}, "", ReasonNoDeviceID},
		{"revoked device (hook)", func() ClientOptions {
			revoked.Store("palyra://device/REVOKED", true)
			return ts.clientOptions(t, "REVOKED")
		}, "", ReasonHook},
		{"wrong ALPN", func() ClientOptions { return ts.clientOptions(t, "H3") }, "h3", ReasonALPN},
		{"no certificate", func() ClientOptions {
			o := ts.clientOptions(t, "NONE")
			o.Certificate = tls.Certificate{}
			return o
		}, ALPN, ReasonNoCertificate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			if tc.alpn != "" { // raw quic-go, to offer what Dial never would
				conf := &tls.Config{RootCAs: opts.RootCAs, ServerName: "localhost", NextProtos: []string{tc.alpn}}
				if opts.Certificate.PrivateKey != nil {
					conf.Certificates = []tls.Certificate{opts.Certificate}
				}
				if _, err := faultclient.NewDialer(t).Request(ctx, ts.addr, conf); err == nil {
					t.Fatal("a request went through")
				}
			} else {
				var c *Conn
				c, err = Dial(ctx, ts.addr, opts)
				if err == nil {
					// TLS 1.3: the client is done before the server has
					// checked its certificate; the refusal arrives next.
					_, err = callEcho(ctx, c, "should not run")
					c.Close()
				}
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("err = %v, want ErrRefused", err)
				}
			}
			rec := ts.logs.wait(t, "transport: connection refused", tc.reason)
			if rec.Attrs["remote"] == "" || rec.Attrs["err"] == "" {
				t.Errorf("refusal record lacks remote or err: %v", rec.Attrs)
			}
			mustEcho(t, good, "during "+tc.name)
		})
	}
	if hookRuns.Load() == 0 {
		t.Error("the hook never ran")
	}
	mustEcho(t, good, "after")
}

// rawStream opens a stream on c for a test to misbehave on.
func rawStream(t *testing.T, c *Conn) *quic.Stream {
	t.Helper()
	st, err := c.qc.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readError reads the server's answer on st: a decoded error response.
func readError(t *testing.T, st *quic.Stream) *RemoteError {
	t.Helper()
	data, err := faultclient.ReadAnswer(st, 5*time.Second)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp, err := DecodeResponse(data)
	if err != nil || resp.Error == nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	return resp.Error
}

// TestBadStreams: a frame over the limit, garbage bytes, a second frame
// after the request, each refused on its stream with an error answer and
// a logged reason; the connection and other clients keep working.
func TestBadStreams(t *testing.T) {
	ts := startServer(t, echo, nil)
	other := ts.dial(t, "OTHER")
	for _, tc := range faultclient.BadStreams(MaxFrameSize) {
		t.Run(tc.Name, func(t *testing.T) {
			code, reason := CodeBadRequest, ReasonBadRequest
			if tc.TooLarge {
				code, reason = CodeFrameTooLarge, ReasonFrameTooLarge
			}
			c := ts.dial(t, "BAD")
			before := len(ts.logs.find("transport: stream refused", reason))
			st := rawStream(t, c)
			if err := tc.Write(st); err != nil {
				t.Fatal(err)
			}
			if re := readError(t, st); re.Code != code {
				t.Errorf("answer code %q (%s), want %q", re.Code, re.Message, code)
			}
			ts.logs.wait(t, "transport: stream refused", reason)
			if after := len(ts.logs.find("transport: stream refused", reason)); after != before+1 {
				t.Errorf("%d new refusals logged, want 1", after-before)
			}
			recs := ts.logs.find("transport: stream refused", reason)
			if recs[len(recs)-1].Attrs["device"] != "BAD" {
				t.Errorf("refusal names device %q", recs[len(recs)-1].Attrs["device"])
			}
			mustEcho(t, c, "same connection still works")
			mustEcho(t, other, "other client still works")
		})
	}
}

// TestStalledStreamsFreed: a client opens as many streams as it may and
// never finishes a request on them (writes nothing, or part of one). Each is reset after ReadTimeout, which
// frees the stream credit for a normal call on the same connection, and
// another client is served meanwhile.
func TestStalledStreamsFreed(t *testing.T) {
	const maxStreams = 4
	readTimeout := 400 * time.Millisecond
	ts := startServer(t, echo, func(o *ServerOptions) {
		o.Limits.MaxStreams = maxStreams
		o.Limits.ReadTimeout = readTimeout
	})
	other := ts.dial(t, "OTHER")
	c := ts.dial(t, "STALLER")

	start := time.Now()
	var stalled []*quic.Stream
	for i := range maxStreams {
		st := rawStream(t, c)
		if err := faultclient.Stall(st, i); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, st)
	}
	// The other client is not held up by them.
	mustEcho(t, other, "while stalled")
	if d := time.Since(start); d >= readTimeout {
		t.Logf("other client's call ended %s after the stall began (read timeout %s)", d, readTimeout)
	}

	// A normal call on the staller's connection needs a stream: it gets one
	// once the server resets a stalled one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := callEcho(ctx, c, "after the stall")
	waited := time.Since(start)
	if err != nil || out != "after the stall" {
		t.Fatalf("call after stall: %q, %v", out, err)
	}
	if waited < readTimeout/2 {
		t.Errorf("call got a stream after %s, before any stalled stream could be freed", waited)
	}
	t.Logf("stalled streams freed; the next call completed %s after the stall began", waited)

	for i, st := range stalled {
		if code, err := faultclient.WaitReset(st, 3*time.Second); err != nil || code != streamTimeout {
			t.Errorf("stalled stream %d: reset %#x, %v; want a reset with code %#x", i, code, err, streamTimeout)
		}
	}
	if n := len(ts.logs.find("transport: stream refused", ReasonReadTimeout)); n != maxStreams {
		t.Errorf("%d read timeouts logged, want %d", n, maxStreams)
	}
}

// TestCloseDeviceCutsLiveConnection: a device with two connections, one
// with a call in flight; CloseDevice ends both well within a second, the
// call fails with ErrDeviceClosed, another device is untouched, and (the
// hook now refusing it) the device cannot come back.
func TestCloseDeviceCutsLiveConnection(t *testing.T) {
	var revoked atomic.Bool
	ts := startServer(t, echo, func(o *ServerOptions) {
		o.VerifyPeer = func(cs tls.ConnectionState) error {
			if revoked.Load() && cs.PeerCertificates[0].Subject.CommonName == "Palyra Device VICTIM" {
				return errors.New("device VICTIM is revoked")
			}
			return nil
		}
	})
	victimOpts := ts.clientOptions(t, "VICTIM")
	v1, err := Dial(context.Background(), ts.addr, victimOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2 := ts.dial(t, "VICTIM")
	bystander := ts.dial(t, "BYSTANDER")
	mustEcho(t, v1, "hello")
	mustEcho(t, v2, "hello")
	waitFor(t, func() bool { return ts.DeviceConns("VICTIM") == 2 })

	inFlight := make(chan error, 1)
	go func() {
		_, err := v1.Call(context.Background(), &Request{Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "block"}})
		inFlight <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the call reach the handler

	revoked.Store(true)
	start := time.Now()
	if n := ts.CloseDevice("VICTIM", "revoked by test"); n != 2 {
		t.Fatalf("CloseDevice closed %d connections, want 2", n)
	}
	select {
	case err := <-inFlight:
		d := time.Since(start)
		if !errors.Is(err, ErrDeviceClosed) {
			t.Errorf("in-flight call: %v, want ErrDeviceClosed", err)
		}
		if d > time.Second {
			t.Errorf("in-flight call cut after %s, want under 1 s", d)
		}
		t.Logf("in-flight call cut %s after CloseDevice", d)
	case <-time.After(time.Second):
		t.Fatal("in-flight call still running 1 s after CloseDevice")
	}
	select {
	case <-v2.Done():
	case <-time.After(time.Second):
		t.Fatal("idle connection of the device still open 1 s after CloseDevice")
	}
	if _, err := callEcho(context.Background(), v2, "x"); !errors.Is(err, ErrDeviceClosed) {
		t.Errorf("call on the closed idle connection: %v, want ErrDeviceClosed", err)
	}
	mustEcho(t, bystander, "unaffected")
	waitFor(t, func() bool { return ts.DeviceConns("VICTIM") == 0 })

	// Its next handshake fails in the hook.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.addr, victimOpts)
	if err == nil {
		_, err = callEcho(ctx, c, "back?")
		c.Close()
	}
	if !errors.Is(err, ErrRefused) {
		t.Errorf("redial after revocation: %v, want ErrRefused", err)
	}
	ts.logs.wait(t, "transport: connection refused", ReasonHook)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResumptionRunsHook: a client with a session cache resumes its TLS
// session on the second dial; the server's checks and the hook run on the
// resumed handshake too, so a device revoked since is refused.
func TestResumptionRunsHook(t *testing.T) {
	var revoked atomic.Bool
	var resumedChecks atomic.Int64
	ts := startServer(t, echo, func(o *ServerOptions) {
		o.VerifyPeer = func(cs tls.ConnectionState) error {
			if cs.DidResume {
				resumedChecks.Add(1)
			}
			if revoked.Load() {
				return errors.New("revoked")
			}
			return nil
		}
	})
	opts := ts.clientOptions(t, "RESUMER")
	opts.SessionCache = tls.NewLRUClientSessionCache(4)

	c1, err := Dial(context.Background(), ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustEcho(t, c1, "first") // by now the server's session ticket has arrived
	c1.Close()
	if c1.TLS().DidResume {
		t.Fatal("first connection claims resumption")
	}

	c2, err := Dial(context.Background(), ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustEcho(t, c2, "second")
	c2.Close()
	if !c2.TLS().DidResume {
		t.Fatal("second connection did not resume; the resumption test has nothing to check")
	}
	if resumedChecks.Load() == 0 {
		t.Fatal("the hook did not run on the resumed handshake")
	}

	revoked.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c3, err := Dial(ctx, ts.addr, opts)
	if err == nil {
		_, err = callEcho(ctx, c3, "third")
		c3.Close()
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("resumed dial of a revoked device: %v, want ErrRefused", err)
	}
	ts.logs.wait(t, "transport: connection refused", ReasonHook)
}

// TestGracefulShutdown: cancelling Serve's context lets a call in flight
// finish and answer, then closes the connections.
func TestGracefulShutdown(t *testing.T) {
	p := newPKI(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := func(ctx context.Context, peer Peer, req *Request) (*Result, error) {
		started <- struct{}{}
		<-release
		return &Result{Output: []byte("finished")}, nil
	}
	s, err := Listen("127.0.0.1:0", ServerOptions{
		Certificate: p.server(t), ClientCAs: p.ca.Pool(), Limits: testLimits,
		Logger: slogDiscard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, h) }()

	c, err := Dial(context.Background(), s.Addr().String(), ClientOptions{
		Certificate: p.client(t, "DEV"), RootCAs: p.ca.Pool(), Limits: testLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	result := make(chan error, 1)
	go func() {
		res, err := c.Call(context.Background(), &Request{Type: TypeList})
		if err == nil && string(res.Output) != "finished" {
			err = fmt.Errorf("output %q", res.Output)
		}
		result <- err
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a call in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-result; err != nil {
		t.Errorf("in-flight call during shutdown: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after the last call")
	}
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("connection not closed after shutdown")
	}
}

func TestCallRefusesBadRequestsBeforeSending(t *testing.T) {
	ts := startServer(t, echo, nil)
	c := ts.dial(t, "DEV")
	if _, err := c.Call(context.Background(), &Request{Type: TypeCall, Call: &CallRequest{Skill: "", Tool: "x"}}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("call without a skill: %v, want ErrBadMessage", err)
	}
	big := make([]byte, MaxFrameSize) // base64 makes it 4/3 as long
	if _, err := c.Call(context.Background(), &Request{Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t", Input: big}}); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversize call: %v, want ErrFrameTooLarge", err)
	}
	mustEcho(t, c, "connection unharmed")
}

// TestCancelReachesHandler: a caller that gives up (no deadline, just a
// cancel) ends the handler's context on the server.
func TestCancelReachesHandler(t *testing.T) {
	ended := make(chan error, 1)
	started := make(chan struct{}, 1)
	ts := startServer(t, func(ctx context.Context, peer Peer, req *Request) (*Result, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(5 * time.Second):
			ended <- errors.New("handler context still live 5 s after the caller gave up")
		}
		return nil, ctx.Err()
	}, nil)
	c := ts.dial(t, "DEV")
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, &Request{Type: TypeList})
		result <- err
	}()
	<-started
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("handler context: %v, want context.Canceled", err)
	}
}

// TestOverloaded: with every server-wide slot taken, a call whose timeout
// passes while waiting for one is answered "overloaded".
func TestOverloaded(t *testing.T) {
	release := make(chan struct{})
	holding := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, peer Peer, req *Request) (*Result, error) {
		if req.Type == TypeList {
			close(holding)
			<-release
		}
		return &Result{}, nil
	}, func(o *ServerOptions) { o.MaxConcurrentCalls = 1 })
	defer close(release)
	c := ts.dial(t, "DEV")
	go c.Call(context.Background(), &Request{Type: TypeList}) // takes the one slot
	<-holding
	_, err := c.Call(context.Background(), &Request{Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t", Timeout: 150 * time.Millisecond}})
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != CodeOverloaded {
		t.Errorf("call with no free slot: %v, want code %s", err, CodeOverloaded)
	}
}

// TestServerCallsBackANode: a client dialed with AcceptStreams serves
// requests the daemon opens toward it (how the daemon routes a call to a
// node); a client without it accepts none.
func TestServerCallsBackANode(t *testing.T) {
	var backTo sync.Map // device id -> *Conn, the daemon's view
	ts := startServer(t, func(ctx context.Context, peer Peer, req *Request) (*Result, error) {
		if req.Type == TypeList { // "join": remember the node's connection
			backTo.Store(peer.DeviceID, peer.Conn)
			return &Result{}, nil
		}
		return echo(ctx, peer, req)
	}, nil)

	nodeOpts := ts.clientOptions(t, "NODE")
	nodeOpts.AcceptStreams = true
	node, err := Dial(context.Background(), ts.addr, nodeOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	go node.Serve(nodeCtx, func(ctx context.Context, peer Peer, req *Request) (*Result, error) {
		if peer.DeviceID != "" || peer.Certificate == nil {
			return nil, fmt.Errorf("node sees peer %+v, want the daemon's certificate and no device id", peer)
		}
		return &Result{Output: append([]byte("node ran "), req.Call.Input...)}, nil
	})
	plain := ts.dial(t, "PLAIN")
	for _, c := range []*Conn{node, plain} {
		if _, err := c.Call(context.Background(), &Request{Type: TypeList}); err != nil {
			t.Fatal(err)
		}
	}

	v, _ := backTo.Load("NODE")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := v.(*Conn).Call(ctx, &Request{Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t", Input: []byte("x")}})
	if err != nil || string(res.Output) != "node ran x" {
		t.Fatalf("daemon -> node call: %+v, %v", res, err)
	}

	v, _ = backTo.Load("PLAIN")
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	if _, err := v.(*Conn).Call(short, &Request{Type: TypeList}); err == nil {
		t.Fatal("daemon opened a stream to a client that accepts none")
	}
}

// TestConnectionEndsWithItsCertificate: a connection opened with a client
// certificate about to expire is closed by the server when it does, and
// the client learns why.
func TestConnectionEndsWithItsCertificate(t *testing.T) {
	ts := startServer(t, echo, nil)
	ts.pki.offset.Store(int64(-(24*time.Hour - 1500*time.Millisecond))) // expires in 1.5 s
	opts := ts.clientOptions(t, "SHORT")
	ts.pki.offset.Store(0)
	c, err := Dial(context.Background(), ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustEcho(t, c, "while valid")
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open 5 s after its certificate expired")
	}
	if _, err := callEcho(context.Background(), c, "after"); !errors.Is(err, ErrCertificateExpired) {
		t.Errorf("call after expiry: %v, want ErrCertificateExpired", err)
	}
	waitFor(t, func() bool { return ts.DeviceConns("SHORT") == 0 })
}

// TestCertificateCallbacks: the server and the client can hand out their
// certificates per handshake (renewal without restarting).
func TestCertificateCallbacks(t *testing.T) {
	var served, presented atomic.Int64
	var serverCert tls.Certificate
	ts := startServer(t, echo, func(o *ServerOptions) {
		serverCert, o.Certificate = o.Certificate, tls.Certificate{}
		o.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			served.Add(1)
			return &serverCert, nil
		}
	})
	opts := ts.clientOptions(t, "CB")
	cert := opts.Certificate
	opts.Certificate = tls.Certificate{}
	opts.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		presented.Add(1)
		return &cert, nil
	}
	c, err := Dial(context.Background(), ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustEcho(t, c, "x")
	if served.Load() != 1 || presented.Load() != 1 {
		t.Errorf("callbacks ran %d (server) and %d (client) times, want 1 each", served.Load(), presented.Load())
	}
}

// TestMaxConnsPerDevice: one device cannot hold more connections than
// the bound; the extra one is refused with a logged reason, the others
// keep working, and a slot freed by a close is usable again.
func TestMaxConnsPerDevice(t *testing.T) {
	ts := startServer(t, echo, func(o *ServerOptions) { o.MaxConnsPerDevice = 2 })
	opts := ts.clientOptions(t, "GREEDY")
	var conns []*Conn
	for range 2 {
		c, err := Dial(context.Background(), ts.addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mustEcho(t, c, "within the bound")
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	extra, err := Dial(ctx, ts.addr, opts)
	if err == nil {
		_, err = callEcho(ctx, extra, "over the bound")
		extra.Close()
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("third connection: %v, want ErrRefused", err)
	}
	ts.logs.wait(t, "transport: connection refused", ReasonTooManyConns)
	mustEcho(t, conns[0], "still fine")

	conns[1].Close()
	waitFor(t, func() bool { return ts.DeviceConns("GREEDY") == 1 })
	again, err := Dial(ctx, ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	mustEcho(t, again, "slot reused")
}
