package benchbase

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Input1KiB returns the 1 KiB input of the echo benchmarks.
func Input1KiB() []byte { return bytes.Repeat([]byte("0123456789abcdef"), 64) }

// baselineBatch is how many calls of a fast baseline are timed together.
const baselineBatch = 16

// Interleaved runs op b.N times on the clock and, every `every`
// iterations, each baseline in turn off the clock; it returns each
// baseline's mean time per call. Running the baselines among the measured
// calls, rather than in a separate benchmark, keeps a ratio honest on a
// machine whose speed drifts (other work, frequency scaling).
//
// A baseline faster than 5 µs is timed as a batch of baselineBatch calls
// after a first one: a single call right after the timer stops runs on
// cold caches. Slower ones are timed alone (a batch of go-sdk calls would
// time its garbage collections).
func Interleaved(b *testing.B, every int, op func(), baselines ...func()) []time.Duration {
	b.Helper()
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
				d := time.Since(t0)
				if d < 5*time.Microsecond {
					t0 = time.Now()
					for range baselineBatch {
						f()
					}
					d = time.Since(t0) / baselineBatch
				}
				sums[j] += d
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

// split runs op calls times in all, spread evenly over the given number
// of goroutines, and waits for them.
func split(goroutines, calls int, op func()) {
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

// ReportFaster reports how many times faster than a baseline the
// benchmark's operation is, and the baseline's time per call: the metrics
// "x-faster-than-NAME" and "NAME-ns/op".
func ReportFaster(b *testing.B, name string, baseline time.Duration) {
	b.ReportMetric(float64(baseline)/float64(PerOp(b)), "x-faster-than-"+name)
	b.ReportMetric(float64(baseline.Nanoseconds()), name+"-ns/op")
}

// ReportOf reports the benchmark's operation's time as a multiple of a
// baseline's, and the baseline's time per call: the metrics "x-of-NAME"
// and "NAME-ns/op".
func ReportOf(b *testing.B, name string, baseline time.Duration) {
	b.ReportMetric(float64(PerOp(b))/float64(baseline), "x-of-"+name)
	b.ReportMetric(float64(baseline.Nanoseconds()), name+"-ns/op")
}

// scalingRound is how many calls each round of Scaling makes: a few
// milliseconds of calls, long enough that starting the goroutines is
// noise, short enough that both sides of the ratio see the same load.
const scalingRound = 1 << 13

// Scaling measures how op's throughput scales from one goroutine to n on
// this machine. It runs op b.N times on the clock, in rounds whose calls
// n goroutines share (claiming them a batch at a time), and after each
// round makes as many calls on one goroutine, off the clock; ns/op is
// then wall time per call with n goroutines. It reports
// "1-goroutine-ns/op" and the ratio of the two throughputs (n
// goroutines' calls per second over one's) as the metric "ratio_<n>v1",
// and returns that ratio. Alternating the rounds, rather than timing one
// goroutine in another benchmark, keeps the ratio honest on a machine
// whose load drifts.
//
// It also reports "cpu_<n>v1": the process's CPU time per call with n
// goroutines over that with one (garbage collection included). It says
// what contention costs whatever else the machine runs: 1 when calls side
// by side cost no more than calls alone, whereas ratio_<n>v1 can reach n
// only on n idle cores. "cpus" is the CPUs the process got with n
// goroutines (CPU time over wall time): below n, the machine's other
// work, or calls waiting for each other, took the rest.
func Scaling(b *testing.B, n int, op func()) float64 {
	b.Helper()
	split(n, n*64, op) // every goroutine's instance warm
	var one, cpuN, cpuOne time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(scalingRound, b.N-done)
		c0 := processCPU()
		share(n, k, op)
		c1 := processCPU()
		b.StopTimer()
		t0 := time.Now()
		c2 := processCPU()
		share(1, k, op)
		cpuOne += processCPU() - c2
		one += time.Since(t0)
		cpuN += c1 - c0
		b.StartTimer()
		done += k
	}
	b.StopTimer()
	ratio := float64(one) / float64(b.Elapsed())
	b.ReportMetric(float64(one.Nanoseconds())/float64(b.N), "1-goroutine-ns/op")
	b.ReportMetric(ratio, fmt.Sprintf("ratio_%dv1", n))
	if cpuOne > 0 {
		b.ReportMetric(float64(cpuN)/float64(cpuOne), fmt.Sprintf("cpu_%dv1", n))
		b.ReportMetric(float64(cpuN)/float64(b.Elapsed()), "cpus")
	}
	return ratio
}

// shareBatch is how many calls a goroutine of share claims at a time.
const shareBatch = 64

// share runs op calls times in all on n goroutines that claim the calls
// shareBatch at a time, and waits for them: unlike a fixed split, a
// goroutine that runs slower (an interrupt, another process) does not
// leave the others idle at the end, for the cost of one atomic add per
// batch.
func share(n, calls int, op func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				end := int(next.Add(shareBatch))
				start := end - shareBatch
				if start >= calls {
					return
				}
				for range min(end, calls) - start {
					op()
				}
			}
		})
	}
	wg.Wait()
}
