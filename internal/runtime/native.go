package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/palyra/palyra-go/internal/guestabi"
)

// ABI is a module's guest ABI; see package guestabi.
type ABI = guestabi.ABI

// The guest ABIs a module can use.
const (
	ABIExtism = guestabi.Extism
	ABIPalyra = guestabi.Palyra
)

// ErrABI is matched by the error of a call made through the other ABI's
// entry: Call on a Palyra-native plugin (it has no input or output), or
// Run on a module that imports more than Palyra's host capabilities.
var ErrABI = errors.New("runtime: wrong guest ABI")

// NativeGrants are the capabilities a Palyra-native plugin is told it has
// (Palyra's CapabilityGrantSet). The guest sees only their handles: each
// class is canonicalized (entries trimmed, empty ones dropped, sorted,
// deduplicated) and its i-th entry's handle is the class's base plus i
// (http 10000, secret 20000, storage 30000, channel 40000); an index out
// of range, or negative, gets -1.
type NativeGrants struct {
	HTTPHosts       []string
	SecretKeys      []string
	StoragePrefixes []string
	Channels        []string
}

// Capability classes, in the order of nativeHandles.
const (
	capHTTP = iota
	capSecret
	capStorage
	capChannel
	capClasses
)

// nativeHandles are the plugin's handle counts per class: the handles
// themselves are base + index, as in Palyra's build_handles.
type nativeHandles [capClasses]int32

var capBases = [capClasses]int32{guestabi.HTTPHandleBase, guestabi.SecretHandleBase, guestabi.StorageHandleBase, guestabi.ChannelHandleBase}

func (g NativeGrants) handles() nativeHandles {
	var h nativeHandles
	for i, s := range [capClasses][]string{g.HTTPHosts, g.SecretKeys, g.StoragePrefixes, g.Channels} {
		h[i] = int32(len(canonical(s)))
	}
	return h
}

// Handles returns the handles the guest sees, per class, in index order:
// what http-handle(0), http-handle(1)… return, and so on.
func (g NativeGrants) Handles() (http, secret, storage, channel []int32) {
	h := g.handles()
	out := make([][]int32, capClasses)
	for c := range capClasses {
		for i := range h[c] {
			out[c] = append(out[c], capBases[c]+i)
		}
	}
	return out[capHTTP], out[capSecret], out[capStorage], out[capChannel]
}

// canonical is Palyra's dedupe_sorted.
func canonical(s []string) []string {
	var out []string
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compileCapabilities builds the host module a Palyra-native guest's
// CapabilitiesModule imports resolve to. Like the Extism host functions,
// it is shared and finds the instance in the call's context.
func (r *Runtime) compileCapabilities(ctx context.Context) (wazero.CompiledModule, error) {
	b := r.wz.NewHostModuleBuilder(guestabi.CapabilitiesModule)
	i32 := []api.ValueType{api.ValueTypeI32}
	for c, name := range [capClasses]string{"http", "secret", "storage", "channel"} {
		b.NewFunctionBuilder().WithGoModuleFunction(capCount(c), nil, i32).Export(name + "-count")
		b.NewFunctionBuilder().WithGoModuleFunction(capHandle(c), i32, i32).Export(name + "-handle")
	}
	return b.Compile(ctx)
}

func capCount(class int) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		stack[0] = api.EncodeI32(current(ctx).p.handles[class])
	}
}

func capHandle(class int) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		i := api.DecodeI32(stack[0])
		h := int32(-1)
		if i >= 0 && i < current(ctx).p.handles[class] {
			h = capBases[class] + i
		}
		stack[0] = api.EncodeI32(h)
	}
}

// ABI returns the guest ABI the module is written for, from its imports:
// ABIPalyra when it imports from guestabi.CapabilitiesModule, else
// ABIExtism. A module that imports nothing at all can also be run with
// Run (see guestabi.Detect for how the host picks, per tool).
func (m *Module) ABI() ABI { return m.abi }

// ABIFor returns the module's ABI for the given tools and entrypoint, as
// guestabi.Detect decides it: a module that imports nothing is
// Palyra-native when it exports the entrypoint as () -> i32 and none of
// the tools' names.
func (m *Module) ABIFor(tools []string, entrypoint string) ABI {
	return guestabi.Detect(guestabi.Module{
		ImportModules: m.importModules,
		Exported: func(name string) bool {
			e, ok := m.exports[name]
			return ok && e.i32
		},
		ExportsFunction: func(name string) bool {
			_, ok := m.compiled.ExportedFunctions()[name]
			return ok
		},
	}, tools, entrypoint)
}

// RunsNative reports whether Run can run the module: its imports are all
// Palyra host capabilities with their types (or it has none), and it
// imports no memory.
func (m *Module) RunsNative() error { return m.nativeErr }

// detectABI sets m.abi and m.nativeErr from the compiled module's imports.
func (m *Module) detectABI() {
	var names []string
	var bad []string
	for _, f := range m.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		names = append(names, mod)
		if mod != guestabi.CapabilitiesModule {
			bad = append(bad, fmt.Sprintf("%s.%s (Palyra gives no WASI or Extism import)", mod, name))
			continue
		}
		params, ok := guestabi.CapabilityFunction(name)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s.%s (no such host capability)", mod, name))
		case len(f.ParamTypes()) != params || !allI32(f.ParamTypes()) ||
			len(f.ResultTypes()) != 1 || f.ResultTypes()[0] != api.ValueTypeI32:
			bad = append(bad, fmt.Sprintf("%s.%s (wrong type)", mod, name))
		}
	}
	for _, mem := range m.compiled.ImportedMemories() {
		mod, name, _ := mem.Import()
		names = append(names, mod)
		bad = append(bad, fmt.Sprintf("%s.%s (memory import)", mod, name))
	}
	m.importModules = names
	m.abi = guestabi.Detect(guestabi.Module{ImportModules: names}, nil, "")
	if len(bad) > 0 {
		m.nativeErr = fmt.Errorf("%w: cannot run as a Palyra-native module: imports %s", ErrABI, strings.Join(bad, ", "))
	}
}

func allI32(ts []api.ValueType) bool {
	for _, t := range ts {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}

// Run runs a Palyra-native call: the module's entrypoint, an exported
// function of type () -> i32, with no input, no output, no WASI, and the
// plugin's NativeGrants as capability handles; it returns the i32 (the
// exit code). The containment is Call's: the fuel budget, the timeout, ctx,
// the memory and table limits, and a trapped or stopped instance is
// discarded. The module's start function runs before the first call on an
// instance, as wasmtime runs it at instantiation; no language runtime
// initialisation (_initialize) runs, as in Palyra.
//
// Errors: ErrABI when the module cannot run natively (see RunsNative),
// ErrNoFunction when entrypoint is not an exported () -> i32 function,
// and Call's others (*TrapError, ErrFuelExhausted, context errors,
// ErrClosed). A non-zero exit code is a result, not an error.
func (p *Plugin) Run(ctx context.Context, entrypoint string) (int32, CallInfo, error) {
	if err := p.mod.nativeErr; err != nil {
		return 0, CallInfo{}, fmt.Errorf("runtime: %s: %w", entrypoint, err)
	}
	fn, ok := p.mod.exports[entrypoint]
	if !ok || !fn.i32 {
		return 0, CallInfo{}, fmt.Errorf("%w: %q (a Palyra-native entrypoint is an exported () -> i32 function)", ErrNoFunction, entrypoint)
	}
	if err := ctx.Err(); err != nil {
		return 0, CallInfo{}, fmt.Errorf("runtime: %s: %w", entrypoint, err)
	}
	s, err := p.acquire(ctx)
	if err != nil {
		return 0, CallInfo{}, fmt.Errorf("runtime: %s: %w", entrypoint, err)
	}
	inst := s.inst
	inst.calls++
	info := CallInfo{Instance: inst.id, Calls: inst.calls}
	inst.lastFuel = 0
	keep, err := inst.invoke(ctx, entrypoint, inst.function(entrypoint, fn), false)
	info.Fuel = inst.lastFuel
	rc := int32(uint32(inst.stack[0]))
	p.release(s, keep)
	if err != nil {
		return 0, info, err
	}
	return rc, info, nil
}
