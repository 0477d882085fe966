package benchbase

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// RawGuest is palyra's test guest (internal/runtime/testdata/guest)
// instantiated in plain wazero, every import but WASI a stub: the floor
// for a call. It calls the guest's raw exports, which take their input
// as (ptr, len) in guest memory and involve no host function.
type RawGuest struct {
	ctx           context.Context
	mod           api.Module
	noop, rawEcho api.Function
	buf           uint32 // from raw_buf: where inputs are written
	bufLen        int
	stack         [2]uint64
	noopStack     [1]uint64
}

// NewRawGuest instantiates the guest with the compilation cache in
// cacheDir, for inputs of up to maxInput bytes. closeOnDone is wazero's
// WithCloseOnContextDone: true compiles termination checks into loops and
// calls, the price of being able to stop a guest that never calls out.
func NewRawGuest(tb testing.TB, wasm []byte, cacheDir string, closeOnDone bool, maxInput int) *RawGuest {
	tb.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		tb.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(closeOnDone))
	tb.Cleanup(func() { r.Close(ctx); cache.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
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
			tb.Fatal(err)
		}
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
		tb.Fatal(err)
	}
	g := &RawGuest{ctx: ctx, mod: mod, noop: mod.ExportedFunction("noop"), rawEcho: mod.ExportedFunction("raw_echo"), bufLen: maxInput}
	res, err := mod.ExportedFunction("raw_buf").Call(ctx, uint64(maxInput))
	if err != nil {
		tb.Fatal(err)
	}
	g.buf = uint32(res[0])
	return g
}

// Noop calls the guest's noop.
func (g *RawGuest) Noop() {
	if err := g.noop.CallWithStack(g.ctx, g.noopStack[:]); err != nil {
		panic(err)
	}
}

// Call calls the guest's export fn, which takes no parameters.
func (g *RawGuest) Call(fn string) {
	f := g.mod.ExportedFunction(fn)
	if f == nil {
		panic("benchbase: the guest exports no " + fn)
	}
	if err := f.CallWithStack(g.ctx, g.noopStack[:]); err != nil {
		panic(err)
	}
}

// Echo writes in into guest memory, calls raw_echo(ptr, len), and copies
// the output out, as a host must to return it.
func (g *RawGuest) Echo(in []byte) []byte {
	if len(in) > g.bufLen {
		panic("benchbase: input larger than the raw guest's buffer")
	}
	mem := g.mod.Memory()
	mem.Write(g.buf, in)
	g.stack[0], g.stack[1] = uint64(g.buf), uint64(len(in))
	if err := g.rawEcho.CallWithStack(g.ctx, g.stack[:]); err != nil {
		panic(err)
	}
	out, _ := mem.Read(uint32(g.stack[0]), uint32(len(in)))
	return bytes.Clone(out)
}
