package host_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/benchbase"
	"github.com/palyra/palyra-go/internal/daemon"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/testskill"
)

// BenchmarkRemoteEcho: a 1 KiB echo through palyra's daemon (QUIC mTLS
// on 127.0.0.1, one live connection, a paired client's *host.Remote)
// against the same call on the daemon's Host directly (host.Call). The
// two alternate call by call, so both see the same machine load. Metrics:
// remote-p50-us, remote-p99-us, local-p50-us, local-p99-us and
// x-remote-of-local (the ratio of the medians). ns/op is one remote plus
// one local call.
func BenchmarkRemoteEcho(b *testing.B) {
	ctx := context.Background()
	server := openHost(b, b.TempDir(), host.Options{Logger: quiet()})
	spec := skillSpec{Module: testskill.EchoModule("echo")}
	if _, err := server.Install(ctx, spec.File(b), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		b.Fatal(err)
	}
	id, _, err := server.InitIdentity(ctx)
	if err != nil {
		b.Fatal(err)
	}
	d, err := daemon.New(ctx, daemon.Options{Host: server, Listen: "127.0.0.1:0", Logger: quiet(), CheckEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	b.Cleanup(func() { stop(); <-done })

	code, err := id.Manager.MintCode(ctx, identity.CodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	client := openHost(b, b.TempDir(), host.Options{Logger: quiet()})
	addr := d.Addr().String()
	if _, err := client.PairRemote(ctx, addr, code.Code, host.PairOptions{}); err != nil {
		b.Fatal(err)
	}
	r, err := client.Dial(ctx, addr)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()

	in := benchbase.Input1KiB()
	for i := 0; i < 20; i++ { // warm both paths (the daemon's instance, the connection)
		ro, err := r.Call(ctx, "acme.echo", "echo", in)
		lo, lerr := server.Call(ctx, "acme.echo", "echo", in)
		if err != nil || lerr != nil || !bytes.Equal(ro, in) || !bytes.Equal(lo, in) {
			b.Fatalf("echo broken: remote %v, local %v", err, lerr)
		}
	}
	remote := make([]time.Duration, 0, b.N)
	local := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := r.Call(ctx, "acme.echo", "echo", in); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := server.Call(ctx, "acme.echo", "echo", in); err != nil {
			b.Fatal(err)
		}
		remote = append(remote, t1.Sub(t0))
		local = append(local, time.Since(t1))
	}
	b.StopTimer()
	benchbase.ReportLatencies(b, "remote", remote, "local", local)
}
