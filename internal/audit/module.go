package audit

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"
	"github.com/tetratelabs/wazero"

	"github.com/palyra/palyra-go/internal/artifact"
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
// not provide: an unknown namespace, an unknown function in a known one, or
// a memory, table or global (the runtime exports functions only).
func (a *auditor) checkImportAllowlist(mod *module) {
	var bad []string
	for _, im := range mod.m.ImportSection {
		switch {
		case !knownNamespace(im.Module):
			bad = append(bad, fmt.Sprintf("%s.%s (unknown module)", im.Module, im.Name))
		case im.Type != wasm.ExternTypeFunc:
			bad = append(bad, fmt.Sprintf("%s.%s (%s import; only functions are provided)", im.Module, im.Name, wasm.ExternTypeName(im.Type)))
		case !knownImport(im.Module, im.Name):
			bad = append(bad, fmt.Sprintf("%s.%s (no such host function)", im.Module, im.Name))
		}
	}
	details := map[string]any{"module_path": mod.path, "allowed_modules": []string{nsExtismEnv, nsExtismUser, nsPalyraEnv, nsWASIP1}}
	if len(bad) > 0 {
		details["imports"] = bad
		a.fail(checkImportAllowlist, fmt.Sprintf("module '%s' imports what the runtime does not provide: %s", mod.path, listed(bad)), details)
		return
	}
	a.pass(checkImportAllowlist, fmt.Sprintf("module '%s' imports only host functions the runtime provides", mod.path), details)
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

// checkToolExports checks that each tool's name is an exported function of
// exactly one module, callable the way Extism calls plugin functions (no
// parameters, at most one i32 result). undecoded counts modules that
// failed earlier checks: a tool they might export is still missing as far
// as the audit can tell, and the message says so.
func (a *auditor) checkToolExports(mf *manifest.Manifest, mods []*module, undecoded int) {
	note := ""
	if undecoded > 0 {
		note = fmt.Sprintf(" (%d module(s) could not be decoded)", undecoded)
	}
	for _, t := range mf.Entrypoints.Tools {
		var in []string
		var bad []string
		for _, mod := range mods {
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
