package host_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
)

// skillSpec describes a test skill; zero fields take working defaults.
type skillSpec struct {
	publisher string // default "acme"
	name      string // skill id is publisher.name; default "echo"
	version   string // default "1.0.0"
	module    []byte // default goodModule("echo")
	memory    uint64 // quotas.max_memory_bytes; default 1 MiB
	key       ed25519.PrivateKey
	minHost   string // compat.min_palyra_version; default 0.1.0
}

// goodModule exports each tool as () -> i32, imports one Extism kernel
// function and has a 1..16 page memory: everything the audit wants.
func goodModule(tools ...string) []byte {
	return moduleWith(tools, &wasm.Import{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "input_length", DescFunc: 1})
}

func moduleWith(tools []string, imports ...*wasm.Import) []byte {
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

func (s skillSpec) withDefaults(t *testing.T) skillSpec {
	if s.publisher == "" {
		s.publisher = "acme"
	}
	if s.name == "" {
		s.name = "echo"
	}
	if s.version == "" {
		s.version = "1.0.0"
	}
	if s.module == nil {
		s.module = goodModule("echo")
	}
	if s.memory == 0 {
		s.memory = 1 << 20
	}
	if s.key == nil {
		s.key = newKey(t)
	}
	if s.minHost == "" {
		s.minHost = "0.1.0"
	}
	return s
}

// build returns the artifact bytes for s.
func (s skillSpec) build(t testing.TB) []byte {
	t.Helper()
	id := s.publisher + "." + s.name
	m, err := manifest.Parse(fmt.Appendf(nil, `
manifest_version = 2
skill_id = %q
name = "Test skill"
version = %q
publisher = %q

[[entrypoints.tools]]
id = "%s.echo"
name = "echo"
description = "Echo the input"
input_schema = { type = "object" }
output_schema = { type = "object" }

[capabilities.quotas]
max_memory_bytes = %d

[compat]
required_protocol_major = 1
min_palyra_version = %q

[operator]
display_name = "Test skill"
summary = "A skill the tests build."
`, id, s.version, s.publisher, s.publisher, s.memory, s.minHost))
	if err != nil {
		t.Fatal(err)
	}
	const modPath = "modules/echo.wasm"
	sbom := fmt.Appendf(nil, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
 "metadata":{"component":{"type":"application","name":%q,"version":%q}},
 "components":[{"type":"file","name":%q,"hashes":[{"alg":"SHA-256","content":%q}]}]}`,
		id, s.version, modPath, artifact.SHA256Hex(s.module))
	prov := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1",
 "subject":[{"name":%q,"digest":{"sha256":%q}}],
 "predicateType":"https://slsa.dev/provenance/v1",
 "predicate":{"buildDefinition":{"buildType":"https://example.invalid/test/v1","externalParameters":{}},"runDetails":{"builder":{"id":"test"}}},
 "builder":{"id":"test"}}`, modPath, artifact.SHA256Hex(s.module))
	b, err := artifact.Build(artifact.BuildRequest{
		Manifest: m, Modules: []artifact.File{{Path: modPath, Data: s.module}},
		SBOM: sbom, Provenance: prov, Key: s.key, SignedAt: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes
}

// file writes the artifact into a temp dir and returns its path.
func (s skillSpec) file(t *testing.T) string {
	t.Helper()
	s = s.withDefaults(t)
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%s.%s-%s.palyra-skill", s.publisher, s.name, s.version))
	if err := os.WriteFile(path, s.build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openHost(t testing.TB, dir string, opts host.Options) *host.Host {
	t.Helper()
	h, err := host.Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
