package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"
	"github.com/tetratelabs/wazero"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/guestabi"
	"github.com/palyra/palyra-go/internal/manifest"
)

const wasmPageSize = 64 << 10

// module is a module that passed validation, decoded.
type module struct {
	path string
	m    *wasm.Module
}

// newValidator returns the wazero runtime modules are validated with. The
// interpreter is enough: validation is the same in both engines, and the
// interpreter's compile step costs a fraction of the optimizing compiler's.
// Its default features (WebAssembly 2.0) are the runtime's.
func newValidator(ctx context.Context) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
}

func (a *auditor) checkModulePresence(modules []artifact.File) {
	if len(modules) == 0 {
		a.fail(checkModulePresence, "artifact does not contain any modules/*.wasm entries", nil)
		return
	}
	paths := make([]string, len(modules))
	for i, f := range modules {
		paths[i] = f.Path
	}
	a.pass(checkModulePresence, fmt.Sprintf("artifact includes %d wasm module(s)", len(modules)), map[string]any{"modules": paths})
}

// checkModule runs the per-module checks and returns the decoded module,
// or nil when it is too large or invalid (and the checks that need its
// structure cannot run).
func (a *auditor) checkModule(ctx context.Context, rt wazero.Runtime, mf *manifest.Manifest, f artifact.File) *module {
	size := int64(len(f.Data))
	sizeDetails := map[string]any{"module_path": f.Path, "module_bytes": size, "max_module_bytes": a.p.MaxModuleBytes}
	// The size gate comes first: an oversized module never reaches a
	// decoder.
	if size > a.p.MaxModuleBytes {
		a.fail(checkModuleSize, fmt.Sprintf("module '%s' exceeds max_module_bytes (%d > %d)", f.Path, size, a.p.MaxModuleBytes), sizeDetails)
		return nil
	}
	a.pass(checkModuleSize, fmt.Sprintf("module '%s' is within max_module_bytes (%d <= %d)", f.Path, size, a.p.MaxModuleBytes), sizeDetails)

	// The bounds walk comes next: it rejects what would make a decoder
	// allocate past the module's size and measures the code, which must be
	// within the compile limits before wazero compiles it.
	sh, err := checkBounds(f.Data)
	if err != nil {
		a.fail(checkModuleValidation, fmt.Sprintf("module '%s' failed validation: %v", f.Path, err), map[string]any{"module_path": f.Path})
		return nil
	}
	if !a.checkCode(f.Path, sh) {
		return nil
	}
	wm, err := decode(ctx, rt, f.Data)
	if err != nil {
		a.fail(checkModuleValidation, fmt.Sprintf("module '%s' failed validation: %v", f.Path, err), map[string]any{"module_path": f.Path})
		return nil
	}
	a.pass(checkModuleValidation, fmt.Sprintf("module '%s' is a valid WebAssembly 2.0 module", f.Path), map[string]any{"module_path": f.Path})

	mod := &module{path: f.Path, m: wm}
	a.checkExportedFunctions(mod)
	a.checkFilesystemImports(mod, &mf.Capabilities)
	a.checkImportAllowlist(mod)
	a.checkCapabilityImports(mod, &mf.Capabilities)
	a.checkMemory(mod, mf.Capabilities.Quotas.MaxMemoryBytes)
	a.checkTables(mod)
	a.checkCount(mod, checkImportLimit, "imports", len(wm.ImportSection), a.p.MaxImports, "max_imports")
	a.checkCount(mod, checkFunctionLimit, "defined functions", len(wm.FunctionSection), a.p.MaxFunctions, "max_functions")
	a.checkCount(mod, checkDataSegmentLimit, "data segments", len(wm.DataSection), a.p.MaxDataSegments, "max_data_segments")
	return mod
}

// decode validates data with wazero, then decodes its structure with
// wabin. data must have passed checkBounds and the compile limits, so
// that neither decoder sizes an allocation from a count the bytes cannot
// back and compiling it takes bounded time. wazero validates, as the
// runtime will; once it has accepted the module, wabin reads a
// well-formed one.
func decode(ctx context.Context, rt wazero.Runtime, data []byte) (m *wasm.Module, err error) {
	cm, err := rt.CompileModule(ctx, data)
	if err != nil {
		return nil, err
	}
	_ = cm.Close(context.WithoutCancel(ctx))

	// wabin is an older decoder than wazero's; should it trip over
	// something wazero accepted, that is a module we cannot audit, not a
	// reason to take the host down.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("decoding module structure: %v", r)
		}
	}()
	m, err = binary.DecodeModule(data, wasm.CoreFeaturesV2)
	if err != nil {
		return nil, fmt.Errorf("decoding module structure: %w", err)
	}
	return m, nil
}

func (a *auditor) checkExportedFunctions(mod *module) {
	n := 0
	for _, e := range mod.m.ExportSection {
		if e.Type == wasm.ExternTypeFunc {
			n++
		}
	}
	details := map[string]any{"module_path": mod.path, "exported_functions": n, "max_exported_functions": a.p.MaxExportedFunctions}
	if n > a.p.MaxExportedFunctions {
		a.fail(checkExportedFunctionLimit, fmt.Sprintf("module '%s' exports too many functions (%d > %d)", mod.path, n, a.p.MaxExportedFunctions), details)
		return
	}
	a.pass(checkExportedFunctionLimit, fmt.Sprintf("module '%s' export function count is within limit (%d <= %d)", mod.path, n, a.p.MaxExportedFunctions), details)
}

// checkFilesystemImports is Palyra's rule — no component-model
// wasi:filesystem import without filesystem roots — plus a warning for
// WASI preview 1 path functions without roots. Those are not a failure:
// without a preopen they cannot open anything, and Go's time and os
// packages import path_open in programs that never touch a file.
func (a *auditor) checkFilesystemImports(mod *module, c *manifest.Capabilities) {
	declared := len(c.Filesystem.ReadRoots) > 0 || len(c.Filesystem.WriteRoots) > 0
	var component, paths []string
	for _, im := range mod.m.ImportSection {
		switch {
		case isComponentFilesystem(im.Module):
			component = append(component, im.Module+"."+im.Name)
		case im.Type == wasm.ExternTypeFunc && isWASIPathFunc(im.Module, im.Name):
			paths = append(paths, im.Module+"."+im.Name)
		}
	}
	component, paths = unique(component), unique(paths)
	details := map[string]any{"module_path": mod.path, "filesystem_declared": declared}
	switch {
	case declared:
		a.pass(checkWASIFilesystemImports, fmt.Sprintf("module '%s' does not violate wasi:filesystem policy", mod.path), details)
	case len(component) > 0:
		details["imports"] = component
		a.fail(checkWASIFilesystemImports, fmt.Sprintf("module '%s' imports wasi:filesystem (%s) without declared filesystem capability", mod.path, listed(component)), details)
	case len(paths) > 0:
		details["imports"] = paths
		a.warn(checkWASIFilesystemImports, fmt.Sprintf("module '%s' imports WASI path functions (%s) but the manifest declares no filesystem roots; they will find no preopened directory", mod.path, listed(paths)), details)
	default:
		a.pass(checkWASIFilesystemImports, fmt.Sprintf("module '%s' does not violate wasi:filesystem policy", mod.path), details)
	}
}

// checkImportAllowlist fails a module importing anything the runtime does
// not provide: an unknown namespace, an unknown function in a known one, a
// Palyra host capability with another type than Palyra's, or a memory,
// table or global (the runtime exports functions only). A module importing
// Palyra's host capabilities must import nothing else: Palyra links no WASI
// and no Extism kernel for it, and neither does the runtime.
func (a *auditor) checkImportAllowlist(mod *module) {
	var bad, other []string
	native := false
	for _, im := range mod.m.ImportSection {
		if im.Module == nsPalyraCaps {
			native = true
		} else {
			other = append(other, im.Module+"."+im.Name)
		}
		switch {
		case !knownNamespace(im.Module):
			bad = append(bad, fmt.Sprintf("%s.%s (unknown module)", im.Module, im.Name))
		case im.Type != wasm.ExternTypeFunc:
			bad = append(bad, fmt.Sprintf("%s.%s (%s import; only functions are provided)", im.Module, im.Name, wasm.ExternTypeName(im.Type)))
		case !knownImport(im.Module, im.Name):
			bad = append(bad, fmt.Sprintf("%s.%s (no such host function)", im.Module, im.Name))
		case im.Module == nsPalyraCaps:
			params, _ := guestabi.CapabilityFunction(im.Name)
			if ft := typeAt(mod.m, im.DescFunc); ft == nil || !capabilityType(ft, params) {
				want := "() -> (i32)"
				if params == 1 {
					want = "(i32) -> (i32)"
				}
				bad = append(bad, fmt.Sprintf("%s.%s (type %s; Palyra's is %s)", im.Module, im.Name, typeString(ft), want))
			}
		}
	}
	details := map[string]any{"module_path": mod.path, "allowed_modules": []string{nsExtismEnv, nsExtismUser, nsPalyraEnv, nsWASIP1, nsPalyraCaps}}
	if native && len(other) > 0 {
		details["imports"] = unique(other)
		a.fail(checkImportAllowlist, fmt.Sprintf("module '%s' imports Palyra's host capabilities (%s) and also %s; a Palyra-native module gets only those: no WASI, no Extism kernel",
			mod.path, nsPalyraCaps, listed(unique(other))), details)
		return
	}
	if len(bad) > 0 {
		details["imports"] = bad
		a.fail(checkImportAllowlist, fmt.Sprintf("module '%s' imports what the runtime does not provide: %s", mod.path, listed(bad)), details)
		return
	}
	a.pass(checkImportAllowlist, fmt.Sprintf("module '%s' imports only host functions the runtime provides", mod.path), details)
}

// capabilityType reports whether ft is the core type of a Palyra host
// capability with params i32 parameters: (i32{params}) -> i32.
func capabilityType(ft *wasm.FunctionType, params int) bool {
	if len(ft.Params) != params || len(ft.Results) != 1 || ft.Results[0] != wasm.ValueTypeI32 {
		return false
	}
	for _, p := range ft.Params {
		if p != wasm.ValueTypeI32 {
			return false
		}
	}
	return true
}

func typeAt(m *wasm.Module, t wasm.Index) *wasm.FunctionType {
	if int(t) < len(m.TypeSection) {
		return m.TypeSection[t]
	}
	return nil
}

// checkCapabilityImports warns when a module imports the host function of
// a capability its manifest does not request. It is a warning, not a
// failure: the runtime denies the call anyway, and PDKs such as Extism's
// JavaScript one import every host function whether the plugin uses it or
// not. It still tells the operator the manifest and the code disagree.
func (a *auditor) checkCapabilityImports(mod *module, c *manifest.Capabilities) {
	secrets := false
	for _, s := range c.Secrets {
		secrets = secrets || len(s.KeyNames) > 0
	}
	found := false
	for _, im := range mod.m.ImportSection {
		if im.Type != wasm.ExternTypeFunc {
			continue
		}
		switch {
		case im.Module == nsExtismEnv && im.Name == httpRequestFunc && len(c.HTTPEgressAllowlist) == 0:
			found = true
			a.warn(checkCapabilityImports,
				fmt.Sprintf("module '%s' imports %s.%s but capabilities.http_egress_allowlist is empty; every request will be denied", mod.path, im.Module, im.Name),
				map[string]any{"module_path": mod.path, "import": im.Module + "." + im.Name, "capability": "http_egress_allowlist"})
		case im.Module == nsExtismUser && im.Name == secretGetFunc && !secrets:
			found = true
			a.warn(checkCapabilityImports,
				fmt.Sprintf("module '%s' imports %s.%s but capabilities.secrets requests no key; every lookup will be denied", mod.path, im.Module, im.Name),
				map[string]any{"module_path": mod.path, "import": im.Module + "." + im.Name, "capability": "secrets"})
		}
	}
	if !found {
		a.pass(checkCapabilityImports, fmt.Sprintf("module '%s' imports no host function of a capability the manifest does not request", mod.path),
			map[string]any{"module_path": mod.path})
	}
}

// checkMemory compares each memory's limits with the manifest's memory
// quota. The minimum is allocated at instantiation, so a minimum above the
// quota can never run: failure. A maximum above the quota is only a
// warning: the runtime caps the memory at the quota, and memory.grow past
// it fails inside the guest, which a guest must handle anyway. No maximum
// at all is fine for the same reason.
func (a *auditor) checkMemory(mod *module, quota uint64) {
	var mems []*wasm.Memory
	for _, im := range mod.m.ImportSection {
		if im.Type == wasm.ExternTypeMemory && im.DescMem != nil {
			mems = append(mems, im.DescMem)
		}
	}
	if mod.m.MemorySection != nil {
		mems = append(mems, mod.m.MemorySection)
	}
	if len(mems) == 0 {
		a.pass(checkMemoryLimits, fmt.Sprintf("module '%s' declares no memory", mod.path),
			map[string]any{"module_path": mod.path, "max_memory_bytes": quota})
		return
	}
	for _, mem := range mems {
		details := map[string]any{"module_path": mod.path, "min_pages": mem.Min, "max_memory_bytes": quota}
		if mem.IsMaxEncoded {
			details["max_pages"] = mem.Max
		}
		minBytes := uint64(mem.Min) * wasmPageSize
		maxBytes := uint64(mem.Max) * wasmPageSize
		switch {
		case minBytes > quota:
			a.fail(checkMemoryLimits, fmt.Sprintf("module '%s' memory needs %d pages (%d bytes) at instantiation, above capabilities.quotas.max_memory_bytes (%d)",
				mod.path, mem.Min, minBytes, quota), details)
		case mem.IsMaxEncoded && maxBytes > quota:
			a.warn(checkMemoryLimits, fmt.Sprintf("module '%s' memory declares a maximum of %d pages (%d bytes), above capabilities.quotas.max_memory_bytes (%d); the runtime caps it at the quota, so growing past it fails inside the guest",
				mod.path, mem.Max, maxBytes, quota), details)
		default:
			a.pass(checkMemoryLimits, fmt.Sprintf("module '%s' memory fits capabilities.quotas.max_memory_bytes (%d pages, %d bytes, <= %d)",
				mod.path, mem.Min, minBytes, quota), details)
		}
	}
}

// checkTables sums the initial size of a module's tables, which the host
// allocates at instantiation outside the memory quota, and checks each
// declared maximum: one above the limit is a table the runtime will never
// let grow that far. A table with no maximum passes; the runtime bounds
// its growth.
func (a *auditor) checkTables(mod *module) {
	var n int64
	var over []string
	see := func(what string, t *wasm.Table) {
		n += int64(t.Min)
		if t.Max != nil && int64(*t.Max) > a.p.MaxTableElements {
			over = append(over, fmt.Sprintf("%s declares a maximum of %d elements", what, *t.Max))
		}
	}
	tableIndex := 0
	for _, im := range mod.m.ImportSection {
		if im.Type == wasm.ExternTypeTable && im.DescTable != nil {
			see(fmt.Sprintf("table %d (imported)", tableIndex), im.DescTable)
			tableIndex++
		}
	}
	for _, t := range mod.m.TableSection {
		see(fmt.Sprintf("table %d", tableIndex), t)
		tableIndex++
	}
	details := map[string]any{"module_path": mod.path, "table_elements": n, "max_table_elements": a.p.MaxTableElements}
	switch {
	case n > a.p.MaxTableElements:
		a.fail(checkTableLimit, fmt.Sprintf("module '%s' tables start with too many elements (%d > %d)", mod.path, n, a.p.MaxTableElements), details)
	case len(over) > 0:
		details["problems"] = over
		a.fail(checkTableLimit, fmt.Sprintf("module '%s' %s, above max_table_elements (%d)", mod.path, listed(over), a.p.MaxTableElements), details)
	default:
		a.pass(checkTableLimit, fmt.Sprintf("module '%s' table size is within limit (%d <= %d)", mod.path, n, a.p.MaxTableElements), details)
	}
}

func (a *auditor) checkCount(mod *module, id, what string, n, limit int, limitName string) {
	details := map[string]any{"module_path": mod.path, "count": n, limitName: limit}
	if n > limit {
		a.fail(id, fmt.Sprintf("module '%s' has too many %s (%d > %s %d)", mod.path, what, n, limitName, limit), details)
		return
	}
	a.pass(id, fmt.Sprintf("module '%s' has %d %s, within %s (%d)", mod.path, n, what, limitName, limit), details)
}

// checkToolExports checks that each tool can be called. An Extism tool:
// its name is an exported function of exactly one module, callable the
// way Extism calls plugin functions (no parameters, at most one i32
// result). A Palyra-native tool (no Extism module exports its name, and
// the module Palyra would run is native; see guestabi.Detect): that module
// — [operator.plugin] default_module_path, else the only module — exports
// the entrypoint (default_entrypoint, else "run") as () -> i32; the
// tool's name need not be exported. undecoded counts modules that failed
// earlier checks: a tool they might export is still missing as far as
// the audit can tell, and the message says so.
func (a *auditor) checkToolExports(mf *manifest.Manifest, mods []*module, undecoded int) {
	note := ""
	if undecoded > 0 {
		note = fmt.Sprintf(" (%d module(s) could not be decoded)", undecoded)
	}
	tools, entry := guestabi.ToolNames(mf), guestabi.Entrypoint(mf)
	abis := make([]guestabi.ABI, len(mods))
	for i, mod := range mods {
		abis[i] = moduleABI(mod.m, tools, entry)
	}
	for _, t := range mf.Entrypoints.Tools {
		var in []string
		var bad []string
		for i, mod := range mods {
			if abis[i] == guestabi.Palyra {
				continue
			}
			e := findExport(mod.m, t.Name)
			if e == nil {
				continue
			}
			if e.Type != wasm.ExternTypeFunc {
				bad = append(bad, fmt.Sprintf("module '%s' exports '%s' as a %s, not a function", mod.path, t.Name, wasm.ExternTypeName(e.Type)))
				continue
			}
			in = append(in, mod.path)
			if ft := funcType(mod.m, e.Index); ft == nil || !callable(ft) {
				bad = append(bad, fmt.Sprintf("module '%s' exports '%s' with type %s; Extism calls plugin functions with no parameters and at most one i32 result",
					mod.path, t.Name, typeString(ft)))
			}
		}
		details := map[string]any{"tool_id": t.ID, "tool_name": t.Name, "modules": strs(in)}
		if len(in) == 0 && len(bad) == 0 {
			if done := a.checkNativeTool(mf, t, mods, abis, entry, details); done {
				continue
			}
		}
		switch {
		case len(in) > 1:
			a.fail(checkToolExports, fmt.Sprintf("tool '%s' (%s) is exported by more than one module: %s", t.Name, t.ID, listed(in)), details)
		case len(bad) > 0:
			details["problems"] = bad
			a.fail(checkToolExports, fmt.Sprintf("tool '%s' (%s) cannot be called: %s", t.Name, t.ID, listed(bad)), details)
		case len(in) == 0:
			a.fail(checkToolExports, fmt.Sprintf("tool '%s' (%s) is not exported as a function by any module%s", t.Name, t.ID, note), details)
		default:
			a.pass(checkToolExports, fmt.Sprintf("tool '%s' (%s) is exported by module '%s'", t.Name, t.ID, in[0]), details)
		}
	}
}

// checkNativeTool checks a tool no Extism module exports, as Palyra runs
// it, when the module it would run is Palyra-native; it reports whether it
// recorded the check (false: not a native tool, the caller reports it
// missing).
func (a *auditor) checkNativeTool(mf *manifest.Manifest, t manifest.Tool, mods []*module, abis []guestabi.ABI, entry string, details map[string]any) bool {
	i := -1
	if want := guestabi.ModulePath(mf); want != "" {
		i = slices.IndexFunc(mods, func(m *module) bool { return m.path == want })
	} else if len(mods) == 1 {
		i = 0
	}
	if i < 0 || abis[i] != guestabi.Palyra {
		return false
	}
	mod := mods[i]
	details["modules"] = []string{mod.path}
	details["abi"] = guestabi.Palyra.String()
	details["entrypoint"] = entry
	e := findExport(mod.m, entry)
	switch {
	case e == nil || e.Type != wasm.ExternTypeFunc:
		a.fail(checkToolExports, fmt.Sprintf("tool '%s' (%s) runs module '%s' (Palyra-native ABI), which does not export its entrypoint '%s' as a function", t.Name, t.ID, mod.path, entry), details)
	case !entrypointType(funcType(mod.m, e.Index)):
		a.fail(checkToolExports, fmt.Sprintf("tool '%s' (%s) runs module '%s' (Palyra-native ABI), whose entrypoint '%s' has type %s; Palyra calls () -> (i32)",
			t.Name, t.ID, mod.path, entry, typeString(funcType(mod.m, e.Index))), details)
	default:
		a.pass(checkToolExports, fmt.Sprintf("tool '%s' (%s) runs entrypoint '%s' of module '%s' (Palyra-native ABI)", t.Name, t.ID, entry, mod.path), details)
	}
	return true
}

// entrypointType reports whether ft is () -> i32.
func entrypointType(ft *wasm.FunctionType) bool {
	return ft != nil && len(ft.Params) == 0 && len(ft.Results) == 1 && ft.Results[0] == wasm.ValueTypeI32
}

// moduleABI decides the ABI of a decoded module (guestabi.Detect).
func moduleABI(m *wasm.Module, tools []string, entry string) guestabi.ABI {
	g := guestabi.Module{
		Exported: func(name string) bool {
			e := findExport(m, name)
			return e != nil && e.Type == wasm.ExternTypeFunc && entrypointType(funcType(m, e.Index))
		},
		ExportsFunction: func(name string) bool {
			e := findExport(m, name)
			return e != nil && e.Type == wasm.ExternTypeFunc
		},
	}
	for _, im := range m.ImportSection {
		g.ImportModules = append(g.ImportModules, im.Module)
	}
	return guestabi.Detect(g, tools, entry)
}

// ModuleABI returns the guest ABI of the module in data for the tools of
// mf (guestabi.Detect), for `palyra skills inspect`. It reads the module's
// structure only after the bounds check, so untrusted bytes cannot make
// the decoder allocate more than they back; it does not validate the
// module (the audit does).
func ModuleABI(data []byte, mf *manifest.Manifest) (abi guestabi.ABI, err error) {
	if _, err := checkBounds(data); err != nil {
		return 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			abi, err = 0, fmt.Errorf("decoding module structure: %v", r)
		}
	}()
	m, err := binary.DecodeModule(data, wasm.CoreFeaturesV2)
	if err != nil {
		return 0, fmt.Errorf("decoding module structure: %w", err)
	}
	return moduleABI(m, guestabi.ToolNames(mf), guestabi.Entrypoint(mf)), nil
}

func findExport(m *wasm.Module, name string) *wasm.Export {
	for _, e := range m.ExportSection {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// funcType resolves a function index — imported functions first, then
// defined ones — to its type, or nil if the index is out of range.
func funcType(m *wasm.Module, idx wasm.Index) *wasm.FunctionType {
	typeOf := func(t wasm.Index) *wasm.FunctionType {
		if int(t) < len(m.TypeSection) {
			return m.TypeSection[t]
		}
		return nil
	}
	for _, im := range m.ImportSection {
		if im.Type != wasm.ExternTypeFunc {
			continue
		}
		if idx == 0 {
			return typeOf(im.DescFunc)
		}
		idx--
	}
	if int(idx) < len(m.FunctionSection) {
		return typeOf(m.FunctionSection[idx])
	}
	return nil
}

func callable(ft *wasm.FunctionType) bool {
	return len(ft.Params) == 0 && (len(ft.Results) == 0 || len(ft.Results) == 1 && ft.Results[0] == wasm.ValueTypeI32)
}

func typeString(ft *wasm.FunctionType) string {
	if ft == nil {
		return "unknown"
	}
	s := "("
	for i, v := range ft.Params {
		if i > 0 {
			s += ", "
		}
		s += wasm.ValueTypeName(v)
	}
	s += ") -> ("
	for i, v := range ft.Results {
		if i > 0 {
			s += ", "
		}
		s += wasm.ValueTypeName(v)
	}
	return s + ")"
}
