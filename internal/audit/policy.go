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

	// AllowDeviceCapabilities lets manifests declaring
	// capabilities.device_capabilities pass.
	AllowDeviceCapabilities bool `json:"allow_device_capabilities"`
	// AllowNodeCapabilities lets manifests declaring
	// capabilities.node_capabilities pass.
	AllowNodeCapabilities bool `json:"allow_node_capabilities"`
	// AllowWildcardCapabilities lets manifests with any
	// capabilities.wildcard_opt_in flag set pass.
	AllowWildcardCapabilities bool `json:"allow_wildcard_capabilities"`

	// VulnerabilityFeedHook names the vulnerability feed the host matches
	// SBOM components against. The audit records it; without one the
	// vulnerability_feed_hook check warns.
	VulnerabilityFeedHook string `json:"vulnerability_feed_hook,omitempty"`
}

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

// DefaultPolicy returns the limits above with every Allow field false.
func DefaultPolicy() Policy {
	return Policy{
		MaxModuleBytes:       DefaultMaxModuleBytes,
		MaxExportedFunctions: DefaultMaxExportedFunctions,
		MaxImports:           DefaultMaxImports,
		MaxFunctions:         DefaultMaxFunctions,
		MaxTableElements:     DefaultMaxTableElements,
		MaxDataSegments:      DefaultMaxDataSegments,
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
	return p
}
