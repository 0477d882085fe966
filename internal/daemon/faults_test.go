package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
	"github.com/palyra/palyra-go/internal/transport/faultclient"
)

// TestFaults: a real daemon over a real state dir refuses each bad client
// with a logged reason: certificates from another CA, expired, of a
// revoked device, or none; a wrong ALPN; oversize frames (refused on the
// length prefix, before any payload is read or allocated); garbage on a
// stream; a client that opens streams and never finishes a request on
// them (reset at the read deadline, which frees them). A good client
// calls a real skill throughout, from another goroutine, and after each
// case: none of its calls fails.
func TestFaults(t *testing.T) {
	const (
		maxStreams  = 4
		readTimeout = time.Second
	)
	f := startDaemon(t, func(o *Options) {
		o.Limits.MaxStreams = maxStreams
		o.Limits.ReadTimeout = readTimeout
	})
	good := f.dial(t, f.pair(t, identity.KindCLI))
	echo(t, good, "before")

	// The good client's calls, all through the table.
	stop := make(chan struct{})
	var calls atomic.Int64
	var bgErr error
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			in := fmt.Sprint("during ", i)
			res, err := call(ctx, good, "acme.echo", "echo", []byte(in), false)
			cancel()
			if err == nil && string(res.Output) != in {
				err = fmt.Errorf("output %q", res.Output)
			}
			if err != nil {
				bgErr = fmt.Errorf("call %q: %w", in, err)
				return
			}
			calls.Add(1)
		}
	}()

	// refused dials with the real client and checks the refusal reaches it.
	refused := func(t *testing.T, opts transport.ClientOptions) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := transport.Dial(ctx, f.addr, opts)
		if err == nil {
			// TLS 1.3: the client is done before the daemon has checked
			// its certificate; the refusal arrives next.
			_, err = call(ctx, conn, "acme.echo", "echo", []byte("must not run"), false)
			conn.Close()
		}
		if !errors.Is(err, transport.ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
	}
	// bad is a paired device whose credentials the bad clients use (the
	// daemon rate-limits pairing: five at once per peer address).
	bad := f.pair(t, identity.KindCLI)
	// raw opens a raw connection as bad, from a socket of its own: the
	// daemon's records about it name its address as "remote".
	raw := func(t *testing.T) (*quic.Conn, string) {
		t.Helper()
		d := faultclient.NewDialer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		qc, err := d.Dial(ctx, f.addr, bad.tlsConfig(transport.ALPN))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { qc.CloseWithError(0, "") })
		return qc, d.Addr()
	}
	// stranger is a device id nobody paired.
	stranger := func(t *testing.T) string {
		dev, err := identity.NewDeviceIdentity()
		if err != nil {
			t.Fatal(err)
		}
		return dev.ID()
	}
	// stillServes checks a well-formed request on a new stream of qc is
	// answered: the daemon kept the connection.
	stillServes := func(t *testing.T, qc *quic.Conn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := qc.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(faultclient.Frame(faultclient.ListRequest())); err != nil {
			t.Fatal(err)
		}
		st.Close()
		data, err := faultclient.ReadAnswer(st, 5*time.Second)
		if err != nil {
			t.Fatalf("a good request on the same connection: %v", err)
		}
		if resp, err := transport.DecodeResponse(data); err != nil || resp.Error != nil {
			t.Fatalf("a good request on the same connection: %s, %v", data, err)
		}
	}

	type fault struct {
		name string
		// run misbehaves, checks what the bad client got, and returns the
		// log record the daemon must write: message and attributes.
		run func(t *testing.T) (msg string, attrs map[string]string)
	}
	const connRefused, streamRefused = "transport: connection refused", "transport: stream refused"
	faults := []fault{
		{"certificate from another CA", func(t *testing.T) (string, map[string]string) {
			id := stranger(t)
			opts := bad.options()
			opts.Certificate = newTestPKI(t).cert(t, id)
			refused(t, opts)
			return connRefused, map[string]string{"reason": transport.ReasonUnknownCA, "device": id}
		}},
		{"expired certificate", func(t *testing.T) (string, map[string]string) {
			id := stranger(t)
			opts := bad.options()
			opts.Certificate = f.expiredCert(t, id)
			refused(t, opts)
			return connRefused, map[string]string{"reason": transport.ReasonExpired, "device": id}
		}},
		{"revoked device", func(t *testing.T) (string, map[string]string) {
			c := f.pair(t, identity.KindCLI)
			echo(t, f.dial(t, c), "before the revocation")
			id, err := f.h.Identity(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := id.Manager.Revoke(context.Background(), c.id, "test"); err != nil {
				t.Fatal(err)
			}
			refused(t, c.options())
			return connRefused, map[string]string{"reason": transport.ReasonHook, "device": c.id}
		}},
		{"no client certificate", func(t *testing.T) (string, map[string]string) {
			conf := bad.tlsConfig(transport.ALPN)
			conf.Certificates = nil
			d := faultclient.NewDialer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if answer, err := d.Request(ctx, f.addr, conf); err == nil {
				t.Fatalf("answered without a certificate: %s", answer)
			}
			return connRefused, map[string]string{"reason": transport.ReasonNoCertificate, "remote": d.Addr()}
		}},
		{"wrong ALPN", func(t *testing.T) (string, map[string]string) {
			d := faultclient.NewDialer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if answer, err := d.Request(ctx, f.addr, bad.tlsConfig("h3")); err == nil {
				t.Fatalf("answered over ALPN h3: %s", answer)
			}
			return connRefused, map[string]string{"reason": transport.ReasonALPN, "remote": d.Addr()}
		}},
	}
	for _, bs := range faultclient.BadStreams(transport.MaxFrameSize) {
		code, reason := transport.CodeBadRequest, transport.ReasonBadRequest
		if bs.TooLarge {
			// The length prefix alone is refused: a daemon that waited
			// for the payload would reset the stream at its read
			// deadline instead of answering this.
			code, reason = transport.CodeFrameTooLarge, transport.ReasonFrameTooLarge
		}
		faults = append(faults, fault{"stream: " + bs.Name, func(t *testing.T) (string, map[string]string) {
			qc, remote := raw(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := qc.OpenStreamSync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := bs.Write(st); err != nil {
				t.Fatal(err)
			}
			data, err := faultclient.ReadAnswer(st, 5*time.Second)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp, err := transport.DecodeResponse(data)
			if err != nil || resp.Error == nil || resp.Error.Code != code {
				t.Fatalf("answer %s (%v), want error code %s", data, err, code)
			}
			stillServes(t, qc)
			return streamRefused, map[string]string{"reason": reason, "device": bad.id, "remote": remote}
		}})
	}
	faults = append(faults, fault{"streams opened and never finished", func(t *testing.T) (string, map[string]string) {
		qc, remote := raw(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Every stream the daemon allows this connection, each stalled
		// (the first ones with nothing written at all).
		start := time.Now()
		stalled := make([]*quic.Stream, maxStreams)
		for i := range stalled {
			st, err := qc.OpenStreamSync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := faultclient.Stall(st, i); err != nil {
				t.Fatal(err)
			}
			stalled[i] = st
		}
		echo(t, good, "while streams stall")
		for i, st := range stalled {
			if _, err := faultclient.WaitReset(st, readTimeout+5*time.Second); err != nil {
				t.Fatalf("stalled stream %d: %v", i, err)
			}
		}
		t.Logf("%d stalled streams reset %v after they opened (read timeout %v)", maxStreams, time.Since(start).Round(time.Millisecond), readTimeout)
		// Each reset was logged, and freed its stream: the connection
		// serves a normal request again.
		for deadline := time.Now().Add(5 * time.Second); ; {
			n := len(f.logs.Find(streamRefused, map[string]string{"reason": transport.ReasonReadTimeout, "device": bad.id, "remote": remote}))
			if n == maxStreams {
				break
			}
			if n > maxStreams || time.Now().After(deadline) {
				t.Fatalf("%d read timeouts logged for %d stalled streams", n, maxStreams)
			}
			time.Sleep(10 * time.Millisecond)
		}
		stillServes(t, qc)
		return streamRefused, map[string]string{"reason": transport.ReasonReadTimeout, "device": bad.id, "remote": remote}
	}})

	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			start := time.Now()
			msg, attrs := fc.run(t)
			rec := f.logs.Wait(t, msg, attrs)
			if rec.Attrs["err"] == "" {
				t.Errorf("the refusal record gives no error: %v", rec.Attrs)
			}
			echo(t, good, "after "+fc.name)
			t.Logf("refused and logged (%s) in %v", attrs["reason"], time.Since(start).Round(time.Millisecond))
		})
	}
	close(stop)
	bg.Wait()
	if bgErr != nil {
		t.Fatalf("the good client failed during the faults: %v", bgErr)
	}
	if calls.Load() == 0 {
		t.Fatal("the good client made no call during the faults")
	}
	t.Logf("the good client made %d calls during the faults", calls.Load())
	echo(t, good, "after all")
}
