package audit

import (
	"context"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/runtime"
)

// worstCases are modules that just pass the default compile limits and
// module size, each maxing out what its shape costs the compiler most.
func worstCases() []struct {
	name string
	bs   []bomb
} {
	d := DefaultPolicy()
	chain := func(depth int) int64 { return int64(depth) * int64(depth+1) / 2 }
	loopDepth := 1
	for chain(loopDepth+1) <= d.MaxLoopNestingTotal {
		loopDepth++
	}
	return []struct {
		name string
		bs   []bomb
	}{
		{"straight code 8 MiB", []bomb{{funcs: 8, fill: DefaultMaxFunctionBodyBytes - 100}}},
		{"nested blocks", []bomb{{funcs: int(d.MaxControlNestingTotal / chain(d.MaxControlDepth)), depth: d.MaxControlDepth, kind: 0x02}}},
		{"nested ifs", []bomb{{funcs: int(d.MaxControlNestingTotal / chain(d.MaxControlDepth)), depth: d.MaxControlDepth, kind: 0x04}}},
		{"nested ifs 1000 deep", []bomb{{funcs: int(d.MaxControlNestingTotal / chain(1000)), depth: 1000, kind: 0x04}}},
		{"nested loops", []bomb{{funcs: 1, depth: loopDepth, kind: 0x03}}},
		{"loops", []bomb{{funcs: int(d.MaxLoopNestingTotal), depth: 1, kind: 0x03}}},
		{"locals", []bomb{{funcs: int(d.MaxModuleLocals / int64(d.MaxFunctionLocals)), locals: uint32(d.MaxFunctionLocals), fill: 20}}},
		{"br_tables", []bomb{{funcs: int(d.MaxModuleBrTableTargets / int64(d.MaxBrTableTargets)), depth: 1, kind: 0x02, brTable: d.MaxBrTableTargets}}},
		{"all at once", []bomb{
			{funcs: int(d.MaxControlNestingTotal/chain(1000)) - 1, depth: 1000, kind: 0x04},
			{funcs: 1, depth: loopDepth, kind: 0x03},
			{funcs: int(d.MaxModuleLocals/int64(d.MaxFunctionLocals)) - 1, locals: uint32(d.MaxFunctionLocals), fill: 20},
			{funcs: int(d.MaxModuleBrTableTargets/int64(d.MaxBrTableTargets)) - 1, depth: 1, kind: 0x02, brTable: d.MaxBrTableTargets},
			{funcs: 6, fill: DefaultMaxFunctionBodyBytes - 100},
		}},
	}
}

// BenchmarkCompileWorstCase compiles, as the host does (runtime.Compile:
// instrumented, wazero's optimizing compiler), modules that just pass the
// default compile limits, and reports the time in ms per compile. The
// largest of these bounds what one module can cost the host to load.
func BenchmarkCompileWorstCase(b *testing.B) {
	ctx := context.Background()
	p := DefaultPolicy()
	for _, wc := range worstCases() {
		b.Run(wc.name, func(b *testing.B) {
			data := buildModule(wc.bs...)
			if int64(len(data)) > p.MaxModuleBytes {
				b.Fatalf("%d bytes, above max_module_bytes", len(data))
			}
			sh, err := checkBounds(data)
			if err != nil {
				b.Fatal(err)
			}
			for _, l := range p.codeLimits(sh) {
				if l.value > l.limit {
					b.Fatalf("%s %d > %d: not a module that passes", l.name, l.value, l.limit)
				}
			}
			var total time.Duration
			for range b.N {
				b.StopTimer()
				rt, err := runtime.New(ctx, runtime.Config{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				m, err := rt.Compile(ctx, data)
				total += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				m.Close(ctx)
				rt.Close(ctx)
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/compile")
			b.ReportMetric(float64(len(data)), "module-bytes")
		})
	}
}
