package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/palyra/palyra-go/internal/testartifact"
	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// inputs are what echo must return byte for byte.
func inputs() []struct {
	name string
	in   []byte
} {
	r := rand.New(rand.NewChaCha8([32]byte{'e', 'c', 'h', 'o'}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"small", []byte(`{"text":"hello"}`)},
		{"1KiB", random(1 << 10)},
		{"100KiB", random(100 << 10)},
		{"non-UTF8", []byte{0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80}},
	}
	for _, n := range []int{7, 8, 9} {
		tests = append(tests, struct {
			name string
			in   []byte
		}{"len" + strconv.Itoa(n), random(n)})
	}
	return tests
}

// TestEchoNative runs the tool's Go function against sdktest's host.
func TestEchoNative(t *testing.T) {
	for _, tt := range inputs() {
		t.Run(tt.name, func(t *testing.T) {
			var h sdktest.Host
			rc, out, err := h.Call(echo, tt.in)
			if rc != 0 || err != nil {
				t.Fatalf("rc %d, err %v", rc, err)
			}
			if !bytes.Equal(out, tt.in) {
				t.Fatalf("output differs from input (%d bytes, want %d)", len(out), len(tt.in))
			}
		})
	}
}

// TestEchoWasm builds the skill as palyra-gen does and runs it in Extism's
// reference host, confined to the memory its skill.toml asks for.
func TestEchoWasm(t *testing.T) {
	m := testartifact.Manifest(t, ".")
	wasm := testguest.Build(t, ".")

	ctx := context.Background()
	p, err := extism.NewPlugin(ctx, extism.Manifest{
		Wasm:   []extism.Wasm{extism.WasmData{Data: wasm, Name: "echo"}},
		Memory: &extism.ManifestMemory{MaxPages: uint32(m.Capabilities.Quotas.MaxMemoryBytes / 65536)},
	}, extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)

	// Every tool skill.toml names must be exported by the module.
	for _, tool := range m.Entrypoints.Tools {
		if !p.FunctionExists(tool.Name) {
			t.Errorf("skill.toml names tool %q, which the module does not export", tool.Name)
		}
	}

	// One instance serves every call, as a pooled host instance would.
	for _, tt := range inputs() {
		t.Run(tt.name, func(t *testing.T) {
			rc, out, err := p.Call("echo", tt.in)
			if rc != 0 || err != nil {
				t.Fatalf("rc %d, err %v", rc, err)
			}
			if !bytes.Equal(out, tt.in) {
				t.Fatalf("output differs from input (%d bytes, want %d)", len(out), len(tt.in))
			}
		})
	}
}

// TestManifest pins what the rest of the repository relies on.
func TestManifest(t *testing.T) {
	m := testartifact.Manifest(t, ".")
	if m.ManifestVersion != 2 || m.SkillID != "palyra.echo" || m.Publisher != "palyra" {
		t.Errorf("manifest %d %q by %q, want version 2 palyra.echo by palyra", m.ManifestVersion, m.SkillID, m.Publisher)
	}
	if len(m.Entrypoints.Tools) != 1 {
		t.Fatalf("%d tools, want 1", len(m.Entrypoints.Tools))
	}
	tool := m.Entrypoints.Tools[0]
	if tool.ID != m.Publisher+".echo" || tool.Name != "echo" {
		t.Errorf("tool %q named %q, want palyra.echo named echo", tool.ID, tool.Name)
	}
	if tool.InputSchema["type"] != "object" || tool.OutputSchema["type"] != "object" {
		t.Errorf("schemas are not JSON-schema objects: %v, %v", tool.InputSchema, tool.OutputSchema)
	}
	if m.Compat.RequiredProtocolMajor != 1 || m.Compat.MinPalyraVersion != "0.1.0" {
		t.Errorf("compat %+v", m.Compat)
	}
	if m.Operator == nil || m.Operator.DisplayName == "" || m.Operator.Summary == "" {
		t.Errorf("operator table missing display_name or summary: %+v", m.Operator)
	}
}
