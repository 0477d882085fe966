package runtime

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/palyra/palyra-go/internal/benchbase"
)

// The benchmarks compare palyra's runtime with extism/go-sdk and with raw
// wazero on the same guest module (testdata/guest). Ratios are measured
// in the same benchmark: the baseline runs interleaved with the measured
// loop, its time kept off the clock, and the ratio is reported with
// b.ReportMetric (the baselines are in internal/benchbase, shared with
// the host's benchmarks):
//
//	x-faster-than-gosdk  go-sdk's time per call / palyra's (goal: noop >= 50,
//	                     Extism-style 1 KiB echo >= 10)
//	x-of-raw             palyra's time per call / raw wazero's (goal: bulk
//	                     1 KiB echo <= 3)

var echoInput = benchbase.Input1KiB()

func mustCall(p *Plugin, fn string, in []byte) []byte {
	out, err := p.Call(context.Background(), fn, in)
	if err != nil {
		panic(err)
	}
	return out
}

func BenchmarkCall(b *testing.B) {
	wasm := guestWasm(b)
	p := newPlugin(b, PluginConfig{PoolSize: 1})
	sdk := benchbase.GoSDKPlugin(b, wasm, cacheDir)
	raw := benchbase.NewRawGuest(b, wasm, cacheDir, true, len(echoInput))
	rawNoTerm := benchbase.NewRawGuest(b, wasm, cacheDir, false, len(echoInput))
	for _, fn := range []string{"echo", "echo_bulk"} {
		if out := mustCall(p, fn, echoInput); !bytes.Equal(out, echoInput) {
			b.Fatalf("%s is broken", fn)
		}
	}
	if out := benchbase.SDKCall(sdk, "echo", echoInput); !bytes.Equal(out, echoInput) {
		b.Fatal("go-sdk echo is broken")
	}
	if out := raw.Echo(echoInput); !bytes.Equal(out, echoInput) {
		b.Fatal("raw echo is broken")
	}

	b.Run("noop/palyra", func(b *testing.B) {
		b.ReportAllocs()
		sdkTime := benchbase.Interleaved(b, 64, func() { mustCall(p, "noop", nil) }, func() { benchbase.SDKCall(sdk, "noop", nil) })[0]
		benchbase.ReportFaster(b, "gosdk", sdkTime)
	})
	b.Run("noop/gosdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchbase.SDKCall(sdk, "noop", nil)
		}
	})
	b.Run("noop/raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw.Noop()
		}
	})
	b.Run("noop/raw-without-termination-checks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rawNoTerm.Noop()
		}
	})
	b.Run("echo1KiB/palyra-extism-u64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		sdkTime := benchbase.Interleaved(b, 16, func() { mustCall(p, "echo", echoInput) }, func() { benchbase.SDKCall(sdk, "echo", echoInput) })[0]
		benchbase.ReportFaster(b, "gosdk", sdkTime)
	})
	b.Run("echo1KiB/palyra-bulk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		base := benchbase.Interleaved(b, 64, func() { mustCall(p, "echo_bulk", echoInput) },
			func() { raw.Echo(echoInput) }, func() { rawNoTerm.Echo(echoInput) })
		benchbase.ReportOf(b, "raw", base[0])
		benchbase.ReportOf(b, "raw-without-checks", base[1])
	})
	b.Run("echo1KiB/gosdk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			benchbase.SDKCall(sdk, "echo", echoInput)
		}
	})
	b.Run("echo1KiB/raw", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			raw.Echo(echoInput)
		}
	})
	b.Run("echo1KiB/raw-without-termination-checks", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			rawNoTerm.Echo(echoInput)
		}
	})
}

// BenchmarkComputeMetered measures a compute-bound guest function (work:
// a heapsort of 20,000 numbers and a hash, no host call) metered in fuel,
// against the same module uninstrumented in plain wazero. Goal: at most
// 1.3× (wasmtime's own fuel metering costs about that much).
func BenchmarkComputeMetered(b *testing.B) {
	wasm := guestWasm(b)
	p := newPlugin(b, PluginConfig{PoolSize: 1, FuelBudget: 1 << 40})
	raw := benchbase.NewRawGuest(b, wasm, cacheDir, false, 16)
	_, info, err := p.CallInfo(context.Background(), "work", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(info.Fuel), "fuel/op")
	base := benchbase.Interleaved(b, 8, func() { mustCall(p, "work", nil) }, func() { raw.Call("work") })
	benchbase.ReportOf(b, "raw-uninstrumented", base[0])
}

// BenchmarkInstanceFromPool measures taking a warm instance from the pool
// and putting it back, against creating and closing one.
func BenchmarkInstanceFromPool(b *testing.B) {
	ctx := context.Background()
	p := newPlugin(b, PluginConfig{PoolSize: 1})
	mustCall(p, "noop", nil)
	b.ReportAllocs()
	// A new instance takes milliseconds, a pooled one nanoseconds: one
	// in 65536 keeps the run short.
	create := benchbase.Interleaved(b, 1<<16, func() {
		s, err := p.acquire(ctx)
		if err != nil {
			panic(err)
		}
		p.release(s, true)
	}, func() {
		inst, err := p.newInstance(ctx)
		if err != nil {
			panic(err)
		}
		p.discard(inst)
	})[0]
	benchbase.ReportFaster(b, "new-instance", create)
}

// BenchmarkColdStart measures a new Runtime, Compile, NewPlugin and a first
// call, with the on-disk compilation cache already holding the module,
// against the same without a cache.
func BenchmarkColdStart(b *testing.B) {
	wasm := guestWasm(b)
	ctx := context.Background()
	dir := b.TempDir()
	start := func(cacheDir string) {
		r, err := New(ctx, Config{CompilationCacheDir: cacheDir})
		if err != nil {
			panic(err)
		}
		defer r.Close(ctx)
		mod, err := r.Compile(ctx, wasm)
		if err != nil {
			panic(err)
		}
		p, err := r.NewPlugin(ctx, mod, PluginConfig{})
		if err != nil {
			panic(err)
		}
		mustCall(p, "noop", nil)
	}
	start(dir) // fill the cache
	b.ReportAllocs()
	uncached := benchbase.Interleaved(b, 4, func() { start(dir) }, func() { start("") })[0]
	benchbase.ReportFaster(b, "no-cache", uncached)
}

// BenchmarkCallParallel measures how bulk 1 KiB echo throughput scales
// from one goroutine to two sharing a plugin with a pool of 2 instances:
// ratio_2v1 is two goroutines' calls per second over one's, measured in
// alternating rounds (benchbase.Scaling); ns/op is wall time per call
// with two. Goal: >= 1.6 on 2 cores.
func BenchmarkCallParallel(b *testing.B) {
	p := newPlugin(b, PluginConfig{PoolSize: 2})
	benchbase.Scaling(b, 2, func() { mustCall(p, "echo_bulk", echoInput) })
}

// BenchmarkCallExtismPlugin calls count_vowels, an Extism test plugin
// built with the Rust PDK (from go-sdk's wasm/ directory), in palyra and
// in go-sdk: the ABI's cost for a guest that is not written in Go.
func BenchmarkCallExtismPlugin(b *testing.B) {
	ctx := context.Background()
	wasm, err := os.ReadFile(goSDKDir(b) + "/wasm/count_vowels.wasm")
	if err != nil {
		b.Fatal(err)
	}
	p := pluginOf(b, newRuntime(b), wasm, PluginConfig{PoolSize: 1})
	sdk := benchbase.GoSDKPlugin(b, wasm, cacheDir)
	in := bytes.Repeat([]byte("a quick brown fox "), 57) // ~1 KiB
	if got, want := mustCall(p, "count_vowels", in), benchbase.SDKCall(sdk, "count_vowels", in); !bytes.Equal(got, want) {
		b.Fatalf("palyra %q, go-sdk %q", got, want)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	sdkTime := benchbase.Interleaved(b, 16, func() {
		if _, err := p.Call(ctx, "count_vowels", in); err != nil {
			panic(err)
		}
	}, func() { benchbase.SDKCall(sdk, "count_vowels", in) })[0]
	benchbase.ReportFaster(b, "gosdk", sdkTime)
}
