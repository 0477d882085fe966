package daemon

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/identity"
)

// reportLatency adds p50 and p99 of the measured calls to b's report.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkEcho compares a 1 KiB echo through the daemon (one paired
// client connection over QUIC on 127.0.0.1) with host.Call in process.
func BenchmarkEcho(b *testing.B) {
	f := startDaemon(b, nil)
	c := f.pair(b, identity.KindCLI)
	conn := f.dial(b, c)
	in := make([]byte, 1024)
	for i := range in {
		in[i] = 'a' + byte(i%26)
	}
	ctx := context.Background()
	b.Run("remote", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if _, err := call(ctx, conn, "acme.echo", "echo", in, false); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
	b.Run("local", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if _, err := f.h.Call(ctx, "acme.echo", "echo", in); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
}

// BenchmarkPinned is the daemon's per-call lookup of its own install.
func BenchmarkPinned(b *testing.B) {
	f := startDaemon(b, nil)
	ctx := context.Background()
	for b.Loop() {
		if _, _, ok := f.d.pinned(ctx, "acme.echo"); !ok {
			b.Fatal("not pinned")
		}
	}
}
