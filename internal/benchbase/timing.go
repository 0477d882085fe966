package benchbase

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Input1KiB returns the 1 KiB input of the echo benchmarks.
func Input1KiB() []byte { return bytes.Repeat([]byte("0123456789abcdef"), 64) }

// Interleaved runs op b.N times on the clock and, every `every`
// iterations, each baseline in turn off the clock; it returns each
// baseline's mean time per call. Running the baselines among the measured
// calls, rather than in a separate benchmark, keeps a ratio honest on a
// machine whose speed drifts (other work, frequency scaling).
//
// The baselines run at most 256 times per b.N: a slow baseline among very
// fast operations (a new instance among pooled ones) would otherwise make
// the benchmark run for many minutes off the clock.
func Interleaved(b *testing.B, every int, op func(), baselines ...func()) []time.Duration {
	b.Helper()
	every = max(every, b.N/256)
	sums := make([]time.Duration, len(baselines))
	var n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
		if i%every == 0 {
			b.StopTimer()
			for j, f := range baselines {
				t0 := time.Now()
				f()
				sums[j] += time.Since(t0)
			}
			n++
			b.StartTimer()
		}
	}
	b.StopTimer()
	for j := range sums {
		sums[j] /= time.Duration(n)
	}
	return sums
}

// PerOp is the benchmark's time on the clock per iteration.
func PerOp(b *testing.B) time.Duration { return b.Elapsed() / time.Duration(b.N) }

// Split runs op calls times in all, spread over the given number of
// goroutines, and waits for them.
func Split(goroutines, calls int, op func()) {
	var wg sync.WaitGroup
	for g := range goroutines {
		n := calls / goroutines
		if g == 0 {
			n += calls % goroutines
		}
		wg.Go(func() {
			for range n {
				op()
			}
		})
	}
	wg.Wait()
}
