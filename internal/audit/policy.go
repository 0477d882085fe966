package audit

// Policy is the operator's audit policy: limits on module structure and the
// capability classes it lets through. JSON names follow Palyra's
// SkillSecurityAuditPolicy where Palyra has the field.
//
// A zero or negative limit means "the default", as an absent key does in
// Palyra's policy file, so Policy{} is DefaultPolicy() and a policy can
// never be loosened by forgetting a field. The Allow fields default to
// false.
type Policy struct {
	// MaxModuleBytes caps each module's size; checked before the module is
	// handed to a decoder.
	MaxModuleBytes int64 `json:"max_module_bytes"`
	// MaxExportedFunctions caps the function exports of each module.
	MaxExportedFunctions int `json:"max_exported_functions"`
	// MaxImports caps the imports (of any kind) of each module.
	MaxImports int `json:"max_imports"`
	// MaxFunctions caps the functions each module defines.
	MaxFunctions int `json:"max_functions"`
	// MaxTableElements caps the elements each module's tables hold at
	// instantiation, summed over its tables.
	MaxTableElements int64 `json:"max_table_elements"`
	// MaxDataSegments caps the data segments of each module.
	MaxDataSegments int `json:"max_data_segments"`

	// The compile limits bound how long compiling a module can take: the
	// audit checks them on the module's bytes before any decoder or
	// compiler runs. wazero's compile time grows with the code's size,
	// and faster with some shapes of it: quadratically with how deeply
	// control instructions nest (more so for loops, which the runtime
	// instruments), linearly but steeply with br_table targets and
	// declared locals. Per-function limits alone do not bound a module
	// of many such functions, hence the module-wide sums.

	// MaxFunctionBodyBytes caps the size of one function body.
	MaxFunctionBodyBytes int64 `json:"max_function_body_bytes"`
	// MaxControlDepth caps how many control instructions (block, loop,
	// if, try_table) are open at once in a function, its own body not
	// counted.
	MaxControlDepth int `json:"max_control_depth"`
	// MaxControlNestingTotal caps, over every control instruction of a
	// module, the sum of how deeply each is nested (1 for one directly in
	// a function body): a chain of n nested blocks counts n(n+1)/2.
	MaxControlNestingTotal int64 `json:"max_control_nesting_total"`
	// MaxLoopNestingTotal caps the same sum over a module's loops,
	// counting only loops: n loops one after another count n, n nested
	// ones n(n+1)/2.
	MaxLoopNestingTotal int64 `json:"max_loop_nesting_total"`
	// MaxFunctionLocals caps the locals one function declares, summed
	// over its local declarations. At most 50,000 (V8's and wasmtime's
	// limit): wazero's decoder allocates for each declared local, so a
	// larger value counts as 50,000.
	MaxFunctionLocals int `json:"max_function_locals"`
	// MaxModuleLocals caps the locals declared by all of a module's
	// functions.
	MaxModuleLocals int64 `json:"max_module_locals"`
	// MaxBrTableTargets caps the targets of one br_table instruction, its
	// default target not counted.
	MaxBrTableTargets int `json:"max_br_table_targets"`
	// MaxModuleBrTableTargets caps the targets of all of a module's
	// br_table instructions.
	MaxModuleBrTableTargets int64 `json:"max_module_br_table_targets"`

	// AllowDeviceCapabilities lets manifests declaring
	// capabilities.device_capabilities pass.
	AllowDeviceCapabilities bool `json:"allow_device_capabilities"`
	// AllowNodeCapabilities lets manifests declaring
	// capabilities.node_capabilities pass.
	AllowNodeCapabilities bool `json:"allow_node_capabilities"`
	// AllowWildcardCapabilities lets manifests with any
	// capabilities.wildcard_opt_in flag set pass.
	AllowWildcardCapabilities bool `json:"allow_wildcard_capabilities"`

	// VulnerabilityFeedHook is the path of the OSV vulnerability feed (a
	// JSON file or a directory of them, e.g. an export of the Go
	// vulnerability database) the SBOM's Go modules are matched against;
	// the caller loads it into Input.VulnerabilityFeed. Without one the
	// vulnerability_feed_hook check warns. The JSON name is Palyra's.
	VulnerabilityFeedHook string `json:"vulnerability_feed_hook,omitempty"`
	// VulnerabilitySeverityThreshold is the lowest severity that fails the
	// audit: low, moderate, high or critical (default low: every known
	// vulnerability fails). Findings below it warn. A finding no record
	// grades (the Go vulndb grades none) ranks as high.
	VulnerabilitySeverityThreshold string `json:"vulnerability_severity_threshold,omitempty"`
}

// DefaultVulnerabilitySeverityThreshold fails the audit on any known
// vulnerability, graded or not.
const DefaultVulnerabilitySeverityThreshold = "low"

// Default limits. The two Palyra has are Palyra's, so an artifact that
// passes here passes Palyra's audit too; the others sit well above what real
// guests need (a Go wasip1 guest linking net/http, encoding/json, regexp and
// text/template: ~8,700 functions, ~12,800 table elements, 33 imports,
// 100,000 data segments) and well below what would let one module tie up
// the host.
const (
	// DefaultMaxModuleBytes is Palyra's 8 MiB.
	DefaultMaxModuleBytes = 8 << 20
	// DefaultMaxExportedFunctions is Palyra's 128.
	DefaultMaxExportedFunctions = 128
	// DefaultMaxImports: every host function palyra provides (46 WASI,
	// 32 Extism, palyra's own) fits twice over.
	DefaultMaxImports = 256
	// DefaultMaxFunctions is ten times a large Go guest; compile time and
	// memory grow with it.
	DefaultMaxFunctions = 100_000
	// DefaultMaxTableElements: table elements are allocated by the host at
	// instantiation, outside the memory quota, so they get their own cap.
	DefaultMaxTableElements = 100_000
	// DefaultMaxDataSegments is the limit engines share (V8's
	// kV8MaxWasmDataSegments) and the Go linker stays within.
	DefaultMaxDataSegments = 100_000
)

// Default compile limits. The largest values measured in real guests — the
// repo's Go guests (test guest, examples, SDK guests, the three palyra-gen
// templates) and the 29 modules of extism/go-sdk v1.7.1's wasm/ folder
// (Go, TinyGo, Rust, C, Haskell) — are in each comment; the defaults leave
// several times that. BenchmarkCompileWorstCase compiles modules that
// just pass them. On a 2-core machine, idle: 8 MiB of straight-line code
// 0.75 s, 200,000 br_table targets 0.65 s, one module maxing every limit
// at once 1.6 s (2 to 3 times that with the machine busy; the Go guests
// compile at about 0.65 s per MB of code there).
const (
	// DefaultMaxFunctionBodyBytes: largest body 79,964 bytes
	// (hello_haskell.wasm); Go guests 50,636 (the files template).
	DefaultMaxFunctionBodyBytes = 1 << 20
	// DefaultMaxControlDepth: deepest nesting 1,706 (hello_haskell.wasm);
	// Go guests 549 (the runtime's largest function).
	DefaultMaxControlDepth = 4096
	// DefaultMaxControlNestingTotal: largest sum 3,778,398 (the files
	// template); a Go guest's grows with its code, about 1.4 per byte, so
	// a Go module of the maximum size would have some 7,000,000.
	DefaultMaxControlNestingTotal = 10_000_000
	// DefaultMaxLoopNestingTotal: largest sum 1,890 (the files template,
	// whose loops are never nested); deepest loop nesting in any guest, 6.
	DefaultMaxLoopNestingTotal = 25_000
	// DefaultMaxFunctionLocals is V8's and wasmtime's 50,000; largest
	// in a guest 2,452 (nested.c.instr.wasm), Go guests 20.
	DefaultMaxFunctionLocals = 50_000
	// DefaultMaxModuleLocals: largest sum 11,005 (the files template).
	DefaultMaxModuleLocals = 1_000_000
	// DefaultMaxBrTableTargets: largest br_table 3,125 targets
	// (hello_haskell.wasm); Go guests 1,144.
	DefaultMaxBrTableTargets = 16_384
	// DefaultMaxModuleBrTableTargets: largest sum 91,951 (the files
	// template), about 0.034 per byte of Go code; each target costs some
	// 7 µs to compile.
	DefaultMaxModuleBrTableTargets = 200_000
)

// hardMaxFunctionLocals is the most MaxFunctionLocals can be: past it
// wazero's decoder allocation per function is no longer bounded.
const hardMaxFunctionLocals = 50_000

// DefaultPolicy returns the limits above with every Allow field false.
func DefaultPolicy() Policy {
	return Policy{
		MaxModuleBytes:       DefaultMaxModuleBytes,
		MaxExportedFunctions: DefaultMaxExportedFunctions,
		MaxImports:           DefaultMaxImports,
		MaxFunctions:         DefaultMaxFunctions,
		MaxTableElements:     DefaultMaxTableElements,
		MaxDataSegments:      DefaultMaxDataSegments,

		MaxFunctionBodyBytes:    DefaultMaxFunctionBodyBytes,
		MaxControlDepth:         DefaultMaxControlDepth,
		MaxControlNestingTotal:  DefaultMaxControlNestingTotal,
		MaxLoopNestingTotal:     DefaultMaxLoopNestingTotal,
		MaxFunctionLocals:       DefaultMaxFunctionLocals,
		MaxModuleLocals:         DefaultMaxModuleLocals,
		MaxBrTableTargets:       DefaultMaxBrTableTargets,
		MaxModuleBrTableTargets: DefaultMaxModuleBrTableTargets,

		VulnerabilitySeverityThreshold: DefaultVulnerabilitySeverityThreshold,
	}
}

// withDefaults fills zero and negative limits from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxModuleBytes <= 0 {
		p.MaxModuleBytes = d.MaxModuleBytes
	}
	if p.MaxExportedFunctions <= 0 {
		p.MaxExportedFunctions = d.MaxExportedFunctions
	}
	if p.MaxImports <= 0 {
		p.MaxImports = d.MaxImports
	}
	if p.MaxFunctions <= 0 {
		p.MaxFunctions = d.MaxFunctions
	}
	if p.MaxTableElements <= 0 {
		p.MaxTableElements = d.MaxTableElements
	}
	if p.MaxDataSegments <= 0 {
		p.MaxDataSegments = d.MaxDataSegments
	}
	if p.MaxFunctionBodyBytes <= 0 {
		p.MaxFunctionBodyBytes = d.MaxFunctionBodyBytes
	}
	if p.MaxControlDepth <= 0 {
		p.MaxControlDepth = d.MaxControlDepth
	}
	if p.MaxControlNestingTotal <= 0 {
		p.MaxControlNestingTotal = d.MaxControlNestingTotal
	}
	if p.MaxLoopNestingTotal <= 0 {
		p.MaxLoopNestingTotal = d.MaxLoopNestingTotal
	}
	if p.MaxFunctionLocals <= 0 {
		p.MaxFunctionLocals = d.MaxFunctionLocals
	}
	p.MaxFunctionLocals = min(p.MaxFunctionLocals, hardMaxFunctionLocals)
	if p.MaxModuleLocals <= 0 {
		p.MaxModuleLocals = d.MaxModuleLocals
	}
	if p.MaxBrTableTargets <= 0 {
		p.MaxBrTableTargets = d.MaxBrTableTargets
	}
	if p.MaxModuleBrTableTargets <= 0 {
		p.MaxModuleBrTableTargets = d.MaxModuleBrTableTargets
	}
	if p.VulnerabilitySeverityThreshold == "" {
		p.VulnerabilitySeverityThreshold = d.VulnerabilitySeverityThreshold
	}
	return p
}
