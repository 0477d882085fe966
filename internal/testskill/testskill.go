// Package testskill builds small, real, signed skill artifacts for tests:
// a Wasm module that passes the static audit, a valid manifest, SBOM and
// provenance, signed with a fresh Ed25519 key.
package testskill

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/sbom"
)

// Spec describes a test skill; zero fields take working defaults.
type Spec struct {
	Publisher string // default "acme"
	Name      string // skill id is publisher.name; default "echo"
	Version   string // default "1.0.0"
	Module    []byte // default GoodModule("echo")
	Memory    uint64 // quotas.max_memory_bytes; default 1 MiB
	Key       ed25519.PrivateKey
	MinHost   string // compat.min_palyra_version; default 0.1.0
	MaxHost   string // compat.max_palyra_version; default none
	// ProtocolMajor is compat.required_protocol_major; default 1.
	ProtocolMajor int
	// Tools are the exported functions the manifest declares as tools,
	// each with id publisher.<export>; default ["echo"].
	Tools []string
	// TimeoutMS is quotas.wall_clock_timeout_ms; default Palyra's 30000.
	TimeoutMS uint64
	// Fuel is quotas.fuel_budget; default Palyra's 10,000,000.
	Fuel uint64
	// Capabilities are TOML lines of the [capabilities] table, e.g.
	// `http_egress_allowlist = ["api.example.com"]`.
	Capabilities string
	// GoModules, as "path@version", are the Go modules the SBOM lists as
	// compiled into the module (an SBOM made by internal/sbom); default
	// none, and a minimal SBOM listing the module file alone.
	GoModules []string
	// SkillID, if set, is the skill id instead of publisher.name.
	SkillID string
	// InputSchema and OutputSchema are every tool's schemas, as TOML
	// inline tables; default {} (no constraint: the test modules take and
	// return bytes that need not be JSON).
	InputSchema, OutputSchema string
}

// GoodModule returns a module that exports each tool as () -> i32, imports one Extism kernel
// function and has a 1..16 page memory: everything the audit wants.
func GoodModule(tools ...string) []byte {
	return ModuleWith(tools, &wasm.Import{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "input_length", DescFunc: 1})
}

// ModuleWith returns a module exporting tools, with the given imports.
func ModuleWith(tools []string, imports ...*wasm.Import) []byte {
	m := &wasm.Module{
		TypeSection: []*wasm.FunctionType{
			{Results: []wasm.ValueType{wasm.ValueTypeI32}},
			{Results: []wasm.ValueType{wasm.ValueTypeI64}},
		},
		ImportSection: imports,
		MemorySection: &wasm.Memory{Min: 1, Max: 16, IsMaxEncoded: true},
	}
	n := uint32(m.ImportFuncCount())
	for i, name := range tools {
		m.FunctionSection = append(m.FunctionSection, 0)
		m.CodeSection = append(m.CodeSection, &wasm.Code{Body: []byte{wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}})
		m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: name, Index: n + uint32(i)})
	}
	m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeMemory, Name: "memory"})
	return binary.EncodeModule(m)
}

// EchoModule returns a module whose tools each return their input as
// their output, through the Extism kernel ABI (output_set(input_offset(),
// input_length())): the smallest skill that does something observable.
func EchoModule(tools ...string) []byte {
	i64 := []wasm.ValueType{wasm.ValueTypeI64}
	m := &wasm.Module{
		TypeSection: []*wasm.FunctionType{
			{Results: []wasm.ValueType{wasm.ValueTypeI32}}, // a tool
			{Results: i64}, // input_offset, input_length
			{Params: []wasm.ValueType{wasm.ValueTypeI64, wasm.ValueTypeI64}}, // output_set
		},
		ImportSection: []*wasm.Import{
			{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "input_offset", DescFunc: 1},
			{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "input_length", DescFunc: 1},
			{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "output_set", DescFunc: 2},
		},
		MemorySection: &wasm.Memory{Min: 1, Max: 16, IsMaxEncoded: true},
	}
	body := []byte{
		wasm.OpcodeCall, 0, // input_offset
		wasm.OpcodeCall, 1, // input_length
		wasm.OpcodeCall, 2, // output_set
		wasm.OpcodeI32Const, 0,
		wasm.OpcodeEnd,
	}
	for i, name := range tools {
		m.FunctionSection = append(m.FunctionSection, 0)
		m.CodeSection = append(m.CodeSection, &wasm.Code{Body: body})
		m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: name, Index: 3 + uint32(i)})
	}
	m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeMemory, Name: "memory"})
	return binary.EncodeModule(m)
}

// SpinModule returns a hostile module: tool "spin" loops forever, tool
// "ok" returns at once (2 units of fuel), and with startLoop the module's
// start function loops forever, which a host must stop like a call.
func SpinModule(startLoop bool) []byte {
	spin := []byte{wasm.OpcodeLoop, 0x40, wasm.OpcodeBr, 0, wasm.OpcodeEnd, wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}
	m := &wasm.Module{
		TypeSection:     []*wasm.FunctionType{{Results: []wasm.ValueType{wasm.ValueTypeI32}}, {}},
		MemorySection:   &wasm.Memory{Min: 1, Max: 16, IsMaxEncoded: true},
		FunctionSection: []wasm.Index{0, 0, 1},
		CodeSection: []*wasm.Code{
			{Body: spin},
			{Body: []byte{wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}},
			{Body: []byte{wasm.OpcodeLoop, 0x40, wasm.OpcodeBr, 0, wasm.OpcodeEnd, wasm.OpcodeEnd}},
		},
		ExportSection: []*wasm.Export{
			{Type: wasm.ExternTypeFunc, Name: "spin", Index: 0},
			{Type: wasm.ExternTypeFunc, Name: "ok", Index: 1},
			{Type: wasm.ExternTypeMemory, Name: "memory"},
		},
	}
	if startLoop {
		start := wasm.Index(2)
		m.StartSection = &start
	}
	return binary.EncodeModule(m)
}

// withDefaults fills the zero fields.
func (s Spec) withDefaults() (Spec, error) {
	if s.Publisher == "" {
		s.Publisher = "acme"
	}
	if s.Name == "" {
		s.Name = "echo"
	}
	if s.Version == "" {
		s.Version = "1.0.0"
	}
	if s.Module == nil {
		s.Module = GoodModule("echo")
	}
	if len(s.Tools) == 0 {
		s.Tools = []string{"echo"}
	}
	if s.Fuel == 0 {
		s.Fuel = manifest.DefaultFuelBudget
	}
	if s.TimeoutMS == 0 {
		s.TimeoutMS = manifest.DefaultWallClockTimeoutMS
	}
	if s.Memory == 0 {
		s.Memory = 1 << 20
	}
	if s.Key == nil {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return s, err
		}
		s.Key = k
	}
	if s.MinHost == "" {
		s.MinHost = "0.1.0"
	}
	if s.ProtocolMajor == 0 {
		s.ProtocolMajor = 1
	}
	return s, nil
}

// Build returns the artifact bytes for s (zero fields take defaults),
// failing t on error.
func (s Spec) Build(t testing.TB) []byte {
	t.Helper()
	b, err := s.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bytes returns the artifact bytes for s (zero fields take defaults).
func (s Spec) Bytes() ([]byte, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	id := s.Publisher + "." + s.Name
	if s.SkillID != "" {
		id = s.SkillID
	}
	maxHost := ""
	if s.MaxHost != "" {
		maxHost = fmt.Sprintf("max_palyra_version = %q", s.MaxHost)
	}
	var tools strings.Builder
	for _, t := range s.Tools {
		fmt.Fprintf(&tools, `
[[entrypoints.tools]]
id = "%s.%s"
name = %q
description = "Test tool %s"
input_schema = %s
output_schema = %s
`, s.Publisher, t, t, t, cmp.Or(s.InputSchema, "{}"), cmp.Or(s.OutputSchema, "{}"))
	}
	m, err := manifest.Parse(fmt.Appendf(nil, `
manifest_version = 2
skill_id = %q
name = "Test skill"
version = %q
publisher = %q
%s
[capabilities]
%s

[capabilities.quotas]
max_memory_bytes = %d
wall_clock_timeout_ms = %d
fuel_budget = %d

[compat]
required_protocol_major = %d
min_palyra_version = %q
%s

[operator]
display_name = "Test skill"
summary = "A skill the tests build."
`, id, s.Version, s.Publisher, tools.String(), s.Capabilities, s.Memory, s.TimeoutMS, s.Fuel, s.ProtocolMajor, s.MinHost, maxHost))
	if err != nil {
		return nil, err
	}
	const modPath = "modules/echo.wasm"
	bom := fmt.Appendf(nil, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
 "metadata":{"component":{"type":"application","name":%q,"version":%q}},
 "components":[{"type":"file","name":%q,"hashes":[{"alg":"SHA-256","content":%q}]}]}`,
		id, s.Version, modPath, artifact.SHA256Hex(s.Module))
	if len(s.GoModules) > 0 {
		var gms []sbom.GoModule
		for _, gm := range s.GoModules {
			path, version, _ := strings.Cut(gm, "@")
			gms = append(gms, sbom.GoModule{Path: path, Version: version, SHA256: artifact.SHA256Hex([]byte(gm))})
		}
		if bom, err = sbom.Generate(sbom.Skill{ID: id, Version: s.Version, Publisher: s.Publisher},
			[]sbom.Module{{Path: modPath, SHA256: artifact.SHA256Hex(s.Module), GoModules: gms}}, sbom.Options{}); err != nil {
			return nil, err
		}
	}
	prov := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1",
 "subject":[{"name":%q,"digest":{"sha256":%q}}],
 "predicateType":"https://slsa.dev/provenance/v1",
 "predicate":{"buildDefinition":{"buildType":"https://example.invalid/test/v1","externalParameters":{}},"runDetails":{"builder":{"id":"test"}}},
 "builder":{"id":"test"}}`, modPath, artifact.SHA256Hex(s.Module))
	b, err := artifact.Build(artifact.BuildRequest{
		Manifest: m, Modules: []artifact.File{{Path: modPath, Data: s.Module}},
		SBOM: bom, Provenance: prov, Key: s.Key, SignedAt: time.Unix(1700000000, 0),
	})
	if err != nil {
		return nil, err
	}
	return b.Bytes, nil
}

// Write writes the artifact into dir as SKILL_ID-VERSION.palyra-skill and
// returns its path.
func (s Spec) Write(dir string) (string, error) {
	s, err := s.withDefaults()
	if err != nil {
		return "", err
	}
	data, err := s.Bytes()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%s-%s.palyra-skill", s.Publisher, s.Name, s.Version))
	return path, os.WriteFile(path, data, 0o644)
}

// File writes the artifact into a temp dir and returns its path.
func (s Spec) File(t testing.TB) string {
	t.Helper()
	path, err := s.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// NewKey returns a fresh Ed25519 signing key.
func NewKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
