package benchbase

import (
	"context"
	"testing"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// extismEnv is the Extism kernel ABI's namespace, which go-sdk provides.
const extismEnv = "extism:host/env"

// GoSDKPlugin instantiates wasm in extism/go-sdk with the compilation
// cache in cacheDir. Imports go-sdk does not provide (palyra's extras:
// its secret function, the bulk path) are stubs that panic: the guest
// declares them, the calls benchmarked do not reach them.
//
// The plugin has go-sdk's defaults: no timeout, hence no termination
// checks (which palyra always compiles in); only the cache is added.
func GoSDKPlugin(tb testing.TB, wasm []byte, cacheDir string) *extism.Plugin {
	tb.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cache.Close(ctx) })
	rcfg := wazero.NewRuntimeConfig().WithCompilationCache(cache)

	var stubs []extism.HostFunction
	for _, f := range importedFuncs(tb, rcfg, wasm) {
		ns, name, _ := f.Import()
		if ns == extismEnv || ns == wasi_snapshot_preview1.ModuleName {
			continue
		}
		s := extism.NewHostFunctionWithStack(name, func(context.Context, *extism.CurrentPlugin, []uint64) {
			panic("stub " + name)
		}, f.ParamTypes(), f.ResultTypes())
		s.SetNamespace(ns)
		stubs = append(stubs, s)
	}
	cp, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		extism.PluginConfig{EnableWasi: true, RuntimeConfig: rcfg}, stubs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cp.Close(ctx) })
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(ctx) })
	return p
}

// importedFuncs lists the functions wasm imports (compiled through the
// cache, so the compilation is reused).
func importedFuncs(tb testing.TB, rcfg wazero.RuntimeConfig, wasm []byte) []api.FunctionDefinition {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, rcfg)
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return compiled.ImportedFunctions()
}

// SDKCall calls fn in p and returns its output; it panics on an error,
// which a benchmark's setup has ruled out.
func SDKCall(p *extism.Plugin, fn string, in []byte) []byte {
	_, out, err := p.Call(fn, in)
	if err != nil {
		panic(err)
	}
	return out
}
