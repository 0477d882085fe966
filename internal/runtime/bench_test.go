package runtime

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The benchmarks compare palyra's runtime with extism/go-sdk and with raw
// wazero on the same guest module (testdata/guest). Ratios are measured
// in the same benchmark: the baseline runs interleaved with the measured
// loop, its time kept off the clock, and the ratio is reported with
// b.ReportMetric:
//
//	x-faster-than-gosdk  go-sdk's time per call / palyra's (goal: noop >= 50,
//	                     Extism-style 1 KiB echo >= 10)
//	x-of-raw             palyra's time per call / raw wazero's (goal: bulk
//	                     1 KiB echo <= 3)

var echoInput = bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB

// interleaved runs op b.N times on the clock and, every `every`
// iterations, baseline off the clock; it returns the baseline's mean time
// per call.
func interleaved(b *testing.B, every int, op, baseline func()) time.Duration {
	var base time.Duration
	var n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
		if i%every == 0 {
			b.StopTimer()
			t0 := time.Now()
			baseline()
			base += time.Since(t0)
			n++
			b.StartTimer()
		}
	}
	b.StopTimer()
	return base / time.Duration(n)
}

func perOp(b *testing.B) time.Duration { return b.Elapsed() / time.Duration(b.N) }

// goSDKPlugin instantiates the guest in go-sdk, with stubs for palyra's
// extra imports, which the guest declares but these calls do not reach.
func goSDKPlugin(b *testing.B, wasm []byte) *extism.Plugin {
	b.Helper()
	ctx := context.Background()
	var stubs []extism.HostFunction
	stub := func(ns, name string, params, results []api.ValueType) {
		f := extism.NewHostFunctionWithStack(name, func(context.Context, *extism.CurrentPlugin, []uint64) {
			panic("stub " + name)
		}, params, results)
		f.SetNamespace(ns)
		stubs = append(stubs, f)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	stub(ExtismUser, secretGet, []api.ValueType{i64}, []api.ValueType{i64})
	stub(PalyraEnv, inputRead, []api.ValueType{i32, i32}, []api.ValueType{i32})
	stub(PalyraEnv, outputWrite, []api.ValueType{i32, i32}, nil)
	stub(PalyraEnv, errorWrite, []api.ValueType{i32, i32}, nil)
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cache.Close(ctx) })
	// go-sdk's defaults: no timeout, hence no termination checks (which
	// palyra always compiles in); only the compilation cache is added.
	cp, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		extism.PluginConfig{EnableWasi: true, RuntimeConfig: wazero.NewRuntimeConfig().WithCompilationCache(cache)},
		stubs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cp.Close(ctx) })
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// rawGuest is the guest instantiated in plain wazero, every import a
// stub: the floor for a call.
type rawGuest struct {
	mod           api.Module
	noop, rawEcho api.Function
	buf           uint32
	stack         [2]uint64
	noopStack     [1]uint64
	ctx           context.Context
}

func newRawGuest(b *testing.B, wasm []byte, closeOnDone bool) *rawGuest {
	b.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		b.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(closeOnDone))
	b.Cleanup(func() { r.Close(ctx); cache.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	builders := map[string]wazero.HostModuleBuilder{}
	for _, f := range compiled.ImportedFunctions() {
		ns, name, _ := f.Import()
		if ns == wasi_snapshot_preview1.ModuleName {
			continue
		}
		if builders[ns] == nil {
			builders[ns] = r.NewHostModuleBuilder(ns)
		}
		builders[ns].NewFunctionBuilder().WithGoFunction(api.GoFunc(func(context.Context, []uint64) {
			panic("stub " + name)
		}), f.ParamTypes(), f.ResultTypes()).Export(name)
	}
	for _, hb := range builders {
		if _, err := hb.Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
		b.Fatal(err)
	}
	g := &rawGuest{mod: mod, noop: mod.ExportedFunction("noop"), rawEcho: mod.ExportedFunction("raw_echo"), ctx: ctx}
	res, err := mod.ExportedFunction("raw_buf").Call(ctx, uint64(len(echoInput)))
	if err != nil {
		b.Fatal(err)
	}
	g.buf = uint32(res[0])
	return g
}

func (g *rawGuest) callNoop() {
	if err := g.noop.CallWithStack(g.ctx, g.noopStack[:]); err != nil {
		panic(err)
	}
}

// echo writes the input into guest memory, calls raw_echo(ptr, len), and
// copies the output out, as a host must to return it.
func (g *rawGuest) echo(in []byte) []byte {
	mem := g.mod.Memory()
	mem.Write(g.buf, in)
	g.stack[0], g.stack[1] = uint64(g.buf), uint64(len(in))
	if err := g.rawEcho.CallWithStack(g.ctx, g.stack[:]); err != nil {
		panic(err)
	}
	out, _ := mem.Read(uint32(g.stack[0]), uint32(len(in)))
	return bytes.Clone(out)
}

func mustCall(p *Plugin, fn string, in []byte) []byte {
	out, err := p.Call(context.Background(), fn, in)
	if err != nil {
		panic(err)
	}
	return out
}

func sdkCall(p *extism.Plugin, fn string, in []byte) []byte {
	_, out, err := p.Call(fn, in)
	if err != nil {
		panic(err)
	}
	return out
}

func BenchmarkCall(b *testing.B) {
	wasm := guestWasm(b)
	p := newPlugin(b, PluginConfig{PoolSize: 1})
	sdk := goSDKPlugin(b, wasm)
	raw := newRawGuest(b, wasm, true)
	rawNoTerm := newRawGuest(b, wasm, false)
	for _, fn := range []string{"echo", "echo_bulk"} {
		if out := mustCall(p, fn, echoInput); !bytes.Equal(out, echoInput) {
			b.Fatalf("%s is broken", fn)
		}
	}
	if out := sdkCall(sdk, "echo", echoInput); !bytes.Equal(out, echoInput) {
		b.Fatal("go-sdk echo is broken")
	}
	if out := raw.echo(echoInput); !bytes.Equal(out, echoInput) {
		b.Fatal("raw echo is broken")
	}

	b.Run("noop/palyra", func(b *testing.B) {
		b.ReportAllocs()
		sdkTime := interleaved(b, 64, func() { mustCall(p, "noop", nil) }, func() { sdkCall(sdk, "noop", nil) })
		b.ReportMetric(float64(sdkTime)/float64(perOp(b)), "x-faster-than-gosdk")
		b.ReportMetric(float64(sdkTime.Nanoseconds()), "gosdk-ns/op")
	})
	b.Run("noop/gosdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sdkCall(sdk, "noop", nil)
		}
	})
	b.Run("noop/raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw.callNoop()
		}
	})
	b.Run("noop/raw-without-termination-checks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rawNoTerm.callNoop()
		}
	})
	b.Run("echo1KiB/palyra-extism-u64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		sdkTime := interleaved(b, 16, func() { mustCall(p, "echo", echoInput) }, func() { sdkCall(sdk, "echo", echoInput) })
		b.ReportMetric(float64(sdkTime)/float64(perOp(b)), "x-faster-than-gosdk")
		b.ReportMetric(float64(sdkTime.Nanoseconds()), "gosdk-ns/op")
	})
	b.Run("echo1KiB/palyra-bulk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		rawTime := interleaved(b, 4, func() { mustCall(p, "echo_bulk", echoInput) }, func() { raw.echo(echoInput) })
		b.ReportMetric(float64(perOp(b))/float64(rawTime), "x-of-raw")
		b.ReportMetric(float64(rawTime.Nanoseconds()), "raw-ns/op")
	})
	b.Run("echo1KiB/gosdk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			sdkCall(sdk, "echo", echoInput)
		}
	})
	b.Run("echo1KiB/raw", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			raw.echo(echoInput)
		}
	})
	b.Run("echo1KiB/raw-without-termination-checks", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(echoInput)))
		for b.Loop() {
			rawNoTerm.echo(echoInput)
		}
	})
}

// BenchmarkInstanceFromPool measures taking a warm instance from the pool
// and putting it back, against creating and closing one.
func BenchmarkInstanceFromPool(b *testing.B) {
	ctx := context.Background()
	p := newPlugin(b, PluginConfig{PoolSize: 1})
	mustCall(p, "noop", nil)
	b.ReportAllocs()
	create := interleaved(b, 256, func() {
		inst, err := p.acquire(ctx)
		if err != nil {
			panic(err)
		}
		p.release(inst, true)
	}, func() {
		inst, err := p.newInstance(ctx)
		if err != nil {
			panic(err)
		}
		p.discard(inst)
	})
	b.ReportMetric(float64(create.Nanoseconds()), "new-instance-ns")
	b.ReportMetric(float64(create)/float64(perOp(b)), "x-faster-than-new-instance")
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
	uncached := interleaved(b, 4, func() { start(dir) }, func() { start("") })
	b.ReportMetric(float64(uncached.Nanoseconds()), "no-cache-ns")
	b.ReportMetric(float64(uncached)/float64(perOp(b)), "x-faster-than-no-cache")
}

// BenchmarkCallParallel measures echo throughput with 1 and 2 goroutines
// sharing a plugin with a pool of 2 instances (ns/op is wall time per
// call); the 2-goroutine run reports its speed-up over 1.
func BenchmarkCallParallel(b *testing.B) {
	p := newPlugin(b, PluginConfig{PoolSize: 2})
	run := func(goroutines, calls int) {
		var wg sync.WaitGroup
		for g := range goroutines {
			n := calls / goroutines
			if g == 0 {
				n += calls % goroutines
			}
			wg.Go(func() {
				for range n {
					mustCall(p, "echo_bulk", echoInput)
				}
			})
		}
		wg.Wait()
	}
	run(2, 100)
	b.Run("goroutines=1", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		run(1, b.N)
	})
	b.Run("goroutines=2", func(b *testing.B) {
		b.ReportAllocs()
		// The 1-goroutine baseline, timed in this benchmark too.
		t0 := time.Now()
		run(1, max(b.N, 64))
		one := time.Since(t0) / time.Duration(max(b.N, 64))
		b.ResetTimer()
		run(2, b.N)
		b.StopTimer()
		b.ReportMetric(float64(one)/float64(perOp(b)), "x-throughput-of-1")
	})
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
	sdk := goSDKPlugin(b, wasm)
	in := bytes.Repeat([]byte("a quick brown fox "), 57) // ~1 KiB
	if got, want := mustCall(p, "count_vowels", in), sdkCall(sdk, "count_vowels", in); !bytes.Equal(got, want) {
		b.Fatalf("palyra %q, go-sdk %q", got, want)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	sdkTime := interleaved(b, 16, func() {
		if _, err := p.Call(ctx, "count_vowels", in); err != nil {
			panic(err)
		}
	}, func() { sdkCall(sdk, "count_vowels", in) })
	b.ReportMetric(float64(sdkTime)/float64(perOp(b)), "x-faster-than-gosdk")
	b.ReportMetric(float64(sdkTime.Nanoseconds()), "gosdk-ns/op")
}
