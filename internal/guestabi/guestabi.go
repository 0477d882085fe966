// Package guestabi names the two guest ABIs a skill module can be written
// for, and decides which one a module uses. The runtime, the audit and the
// host all decide it here, so that what the audit accepts is what the
// runtime links and what `palyra skills inspect` reports.
//
//   - Extism: the Extism kernel ABI (extism:host/env and friends, WASI
//     preview 1), palyra's sdk or any Extism PDK. A tool is the exported
//     function named by the tool's `name`; it reads input, writes output.
//   - Palyra: Palyra's own plugin ABI (crates/palyra-plugins): imports only
//     from palyra:plugins/host-capabilities@0.1.0, no WASI, no input or
//     output; every tool calls the entrypoint `run: () -> i32` (or the
//     manifest's [operator.plugin] default_entrypoint) and the i32 is the
//     result.
package guestabi

import (
	"strings"

	"github.com/palyra/palyra-go/internal/manifest"
)

// ABI is a guest ABI.
type ABI uint8

// The guest ABIs.
const (
	// Extism is the Extism kernel ABI.
	Extism ABI = iota
	// Palyra is Palyra's native plugin ABI.
	Palyra
)

// String returns the name `palyra skills inspect` shows: "extism" or
// "palyra-native".
func (a ABI) String() string {
	if a == Palyra {
		return "palyra-native"
	}
	return "extism"
}

// MarshalText makes an ABI its name in JSON.
func (a ABI) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// CapabilitiesModule is the import module of Palyra's host capabilities
// (palyra_plugins_sdk::HOST_CAPABILITIES_IMPORT_MODULE).
const CapabilitiesModule = "palyra:plugins/host-capabilities@0.1.0"

// DefaultEntrypoint is the export a Palyra-native tool call runs when the
// manifest names none (palyra_plugins_sdk::DEFAULT_RUNTIME_ENTRYPOINT).
const DefaultEntrypoint = "run"

// CapabilityFunction reports whether name is one of the eight functions of
// CapabilitiesModule and how many i32 parameters it takes: the *-count
// functions take none, the *-handle functions take an index; all return
// one i32 (wasmtime's func_wrap of Palyra's host functions).
func CapabilityFunction(name string) (params int, ok bool) {
	switch name {
	case "http-count", "secret-count", "storage-count", "channel-count":
		return 0, true
	case "http-handle", "secret-handle", "storage-handle", "channel-handle":
		return 1, true
	}
	return 0, false
}

// Module is what Detect looks at in a module.
type Module struct {
	// ImportModules are the module names of its imports, one per import.
	ImportModules []string
	// Exported reports whether the module exports name as a function of
	// type () -> i32.
	Exported func(name string) bool
	// ExportsFunction reports whether the module exports name as a
	// function of any type.
	ExportsFunction func(name string) bool
}

// Detect returns the ABI of m for the given tool names (nil: decide from
// the module alone) and entrypoint ("": DefaultEntrypoint):
//
//   - Palyra when m imports anything from CapabilitiesModule;
//   - Palyra when m imports nothing at all, exports the entrypoint as
//     () -> i32, and exports none of the tools' names (a Palyra plugin
//     that uses no capability: the tools cannot be Extism functions of it);
//   - Extism otherwise.
//
// A module mixing CapabilitiesModule with other imports is Palyra here,
// and refused by the audit and the runtime: Palyra gives no WASI and no
// Extism kernel.
func Detect(m Module, tools []string, entrypoint string) ABI {
	for _, ns := range m.ImportModules {
		if ns == CapabilitiesModule {
			return Palyra
		}
	}
	if len(m.ImportModules) > 0 || len(tools) == 0 {
		return Extism
	}
	if entrypoint == "" {
		entrypoint = DefaultEntrypoint
	}
	if m.Exported == nil || !m.Exported(entrypoint) {
		return Extism
	}
	for _, t := range tools {
		if m.ExportsFunction != nil && m.ExportsFunction(t) {
			return Extism
		}
	}
	return Palyra
}

// Handle bases, per capability class (Palyra's *_HANDLE_BASE): the handle
// of the i-th granted capability of a class is its base plus i.
const (
	HTTPHandleBase    = 10_000
	SecretHandleBase  = 20_000
	StorageHandleBase = 30_000
	ChannelHandleBase = 40_000
)

// Entrypoint returns the export a Palyra-native tool call of m runs: its
// [operator.plugin] default_entrypoint, else DefaultEntrypoint. (Palyra's
// daemon lets a plugin binding override it too; a palyra host has no
// bindings, so the manifest is the only place.)
func Entrypoint(m *manifest.Manifest) string {
	if m.Operator != nil && m.Operator.Plugin != nil && m.Operator.Plugin.DefaultEntrypoint != "" {
		return strings.TrimSpace(m.Operator.Plugin.DefaultEntrypoint)
	}
	return DefaultEntrypoint
}

// ModulePath returns the module a Palyra-native tool call of m runs when
// it names one: its [operator.plugin] default_module_path, else "" (then
// the artifact's only module; several are an error, as in Palyra).
func ModulePath(m *manifest.Manifest) string {
	if m.Operator != nil && m.Operator.Plugin != nil {
		return strings.TrimSpace(m.Operator.Plugin.DefaultModulePath)
	}
	return ""
}

// ToolNames returns the names of m's tools, for Detect.
func ToolNames(m *manifest.Manifest) []string {
	out := make([]string, len(m.Entrypoints.Tools))
	for i, t := range m.Entrypoints.Tools {
		out[i] = t.Name
	}
	return out
}
