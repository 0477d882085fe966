package transport

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkCall measures one 1 KiB echo round trip over a live connection
// on 127.0.0.1 (a stream, a request frame, the handler, a response frame):
// the transport's floor under a remote skill call. It reports p50 and p99
// latency besides the mean. "parallel" runs GOMAXPROCS callers on one
// connection.
func BenchmarkCall(b *testing.B) {
	ts := startServer(b, echo, func(o *ServerOptions) { o.Logger = slogDiscard() })
	c := ts.dial(b, "BENCH")
	input := bytes.Repeat([]byte("x"), 1024)
	req := &Request{Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "echo", Input: input}}
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if _, err := c.Call(ctx, req); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
	})
	b.Run("parallel", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				start := time.Now()
				if _, err := c.Call(ctx, req); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		reportPercentiles(b, lat)
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkDecodeRequest: decoding a 1 KiB call request, the strict fast
// decoder against the token-by-token reference it replaced.
func BenchmarkDecodeRequest(b *testing.B) {
	data, err := EncodeRequest(&Request{ID: 7, Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "echo", Input: bytes.Repeat([]byte("x"), 1024), Timeout: time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeEnvelope(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeEnvelopeReference(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
