package instrument

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/palyra/palyra-go/internal/testguest"
)

// computeWat is compute-bound: a hash over memory, a sort, and calls.
const computeWat = `(module
  (memory (export "memory") 1)
  ;; FNV-1a over the first n bytes of memory, r times.
  (func (export "fnv") (param $n i32) (param $r i32) (result i32)
    (local $h i32) (local $i i32)
    (local.set $h (i32.const 0x811c9dc5))
    (loop $rounds
      (local.set $i (i32.const 0))
      (loop $bytes
        (local.set $h (i32.mul
          (i32.xor (local.get $h) (i32.load8_u (local.get $i)))
          (i32.const 0x01000193)))
        (br_if $bytes (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (br_if $rounds (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
    (local.get $h))
  ;; Fill n i32s with a linear congruential sequence and insertion-sort them.
  (func (export "sort") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $x i32) (local $s i32)
    (local.set $s (i32.const 12345))
    (local.set $i (i32.const 0))
    (loop $fill
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 1103515245)) (i32.const 12345)))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $s))
      (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.set $i (i32.const 1))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (i32.load (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (local.get $i))
        (block $placed
          (loop $inner
            (br_if $placed (i32.eqz (local.get $j)))
            (br_if $placed (i32.le_s
              (i32.load (i32.sub (i32.shl (local.get $j) (i32.const 2)) (i32.const 4)))
              (local.get $x)))
            (i32.store (i32.shl (local.get $j) (i32.const 2))
              (i32.load (i32.sub (i32.shl (local.get $j) (i32.const 2)) (i32.const 4))))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $inner)))
        (i32.store (i32.shl (local.get $j) (i32.const 2)) (local.get $x))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.load (i32.const 0)))
  ;; Recursive fib: calls dominate.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))`

// BenchmarkCompute runs compute-bound functions on wazero's compiler,
// instrumented and metered (with an unmetered budget: the refills still
// happen) against the same module uninstrumented, and reports the ratio.
func BenchmarkCompute(b *testing.B) {
	orig := assemble(b, computeWat)
	inst := mustInstrument(b, orig)
	for _, tc := range []struct {
		fn     string
		params []uint64
	}{
		{"fnv", []uint64{65536, 16}},
		{"sort", []uint64{2000}},
		{"fib", []uint64{25}},
	} {
		b.Run(tc.fn, func(b *testing.B) {
			benchRatio(b, orig, inst, tc.fn, tc.params, nil)
		})
	}
}

// BenchmarkGoGuest does the same with a Go guest (testdata/compute):
// what the Go compiler makes of a hash and a sort.
func BenchmarkGoGuest(b *testing.B) {
	orig := testguest.Build(b, "./testdata/compute")
	inst := mustInstrument(b, orig)
	for _, fn := range []string{"hash", "sort"} {
		b.Run(fn, func(b *testing.B) {
			benchRatio(b, orig, inst, fn, nil, func(r wazero.Runtime) {
				wasi_snapshot_preview1.MustInstantiate(context.Background(), r)
			})
		})
	}
}

func benchRatio(b *testing.B, orig, inst []byte, fn string, params []uint64, setup func(wazero.Runtime)) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads|experimental.CoreFeaturesTailCall))
	b.Cleanup(func() { r.Close(ctx) })
	if setup != nil {
		setup(r)
	}
	load := func(wasm []byte) api.Function {
		c, err := r.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		m, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			b.Fatal(err)
		}
		if g, ok := m.ExportedGlobal(FuelGlobal).(api.MutableGlobal); ok {
			f, rs := Split(unmetered)
			g.Set(uint64(f))
			m.ExportedGlobal(ReserveGlobal).(api.MutableGlobal).Set(uint64(rs))
		}
		for _, init := range []string{"_initialize", StartExport} {
			if f := m.ExportedFunction(init); f != nil {
				if _, err := f.Call(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		return m.ExportedFunction(fn)
	}
	fo, fi := load(orig), load(inst)
	run := func(f api.Function, n int) time.Duration {
		start := time.Now()
		for range n {
			if _, err := f.Call(ctx, params...); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	// Interleaved, so that both see the same machine; the fastest run of
	// each is compared, as the machine's noise only ever adds time.
	to, ti := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			to = min(to, run(fo, 1))
			ti = min(ti, run(fi, 1))
		} else {
			ti = min(ti, run(fi, 1))
			to = min(to, run(fo, 1))
		}
	}
	b.ReportMetric(float64(to.Nanoseconds()), "ns-raw")
	b.ReportMetric(float64(ti.Nanoseconds()), "ns-metered")
	b.ReportMetric(float64(ti)/float64(to), "ratio")
}

// bulkBenchWat copies 16 bytes at a time, as LLVM's memcpy does with bulk
// memory on: with memory.copy, and with loads and stores for comparison
// (the same loop, with fuel metered, but nothing charged by length).
const bulkBenchWat = `(module
  (memory 1)
  (func (export "copy16") (param $n i32)
    (local $i i32)
    (loop $l
      (memory.copy
        (i32.and (i32.mul (local.get $i) (i32.const 16)) (i32.const 0x7ff0))
        (i32.and (i32.mul (local.get $i) (i32.const 48)) (i32.const 0x7ff0))
        (i32.const 16))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  (func (export "load16") (param $n i32)
    (local $i i32) (local $d i32) (local $s i32)
    (loop $l
      (local.set $d (i32.and (i32.mul (local.get $i) (i32.const 16)) (i32.const 0x7ff0)))
      (local.set $s (i32.and (i32.mul (local.get $i) (i32.const 48)) (i32.const 0x7ff0)))
      (i64.store (local.get $d) (i64.load (local.get $s)))
      (i64.store offset=8 (local.get $d) (i64.load offset=8 (local.get $s)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))))`

// BenchmarkBulk measures what metering by length adds to small bulk
// operations: the ratio of copy16 should stay close to load16's.
func BenchmarkBulk(b *testing.B) {
	orig := assemble(b, bulkBenchWat)
	inst := mustInstrument(b, orig)
	for _, fn := range []string{"copy16", "load16"} {
		b.Run(fn, func(b *testing.B) {
			benchRatio(b, orig, inst, fn, []uint64{1 << 20}, nil)
		})
	}
}
