package guestabi

import (
	"slices"
	"testing"

	"github.com/palyra/palyra-go/internal/manifest"
)

func TestDetect(t *testing.T) {
	exports := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	for _, c := range []struct {
		name  string
		m     Module
		tools []string
		entry string
		want  ABI
	}{
		{"capabilities import", Module{ImportModules: []string{CapabilitiesModule}}, nil, "", Palyra},
		{"capabilities and WASI (refused elsewhere)", Module{ImportModules: []string{"wasi_snapshot_preview1", CapabilitiesModule}}, nil, "", Palyra},
		{"extism import", Module{ImportModules: []string{"extism:host/env"}, Exported: exports("run"), ExportsFunction: exports("run")}, []string{"echo"}, "", Extism},
		{"no imports, run, tool not exported", Module{Exported: exports("run"), ExportsFunction: exports("run")}, []string{"echo"}, "", Palyra},
		{"no imports, tool exported", Module{Exported: exports("run", "echo"), ExportsFunction: exports("run", "echo")}, []string{"echo"}, "", Extism},
		{"no imports, module alone", Module{Exported: exports("run"), ExportsFunction: exports("run")}, nil, "", Extism},
		{"no imports, other entrypoint", Module{Exported: exports("main"), ExportsFunction: exports("main")}, []string{"echo"}, "main", Palyra},
		{"no imports, run of another type", Module{Exported: exports(), ExportsFunction: exports("run")}, []string{"echo"}, "", Extism},
	} {
		if got := Detect(c.m, c.tools, c.entry); got != c.want {
			t.Errorf("%s: Detect = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCapabilityFunction(t *testing.T) {

	for _, class := range []string{"http", "secret", "storage", "channel"} {
		if p, ok := CapabilityFunction(class + "-count"); !ok || p != 0 {
			t.Errorf("%s-count: %d, %v", class, p, ok)
		}
		if p, ok := CapabilityFunction(class + "-handle"); !ok || p != 1 {
			t.Errorf("%s-handle: %d, %v", class, p, ok)
		}

	}
	for _, bad := range []string{"http_count", "HTTP-count", "http-open", ""} {
		if _, ok := CapabilityFunction(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEntrypointAndModulePath(t *testing.T) {
	m := &manifest.Manifest{}
	if Entrypoint(m) != "run" || ModulePath(m) != "" {
		t.Errorf("defaults: %q %q", Entrypoint(m), ModulePath(m))
	}
	m.Operator = &manifest.Operator{Plugin: &manifest.Plugin{DefaultEntrypoint: "main", DefaultModulePath: "modules/b.wasm"}}
	if Entrypoint(m) != "main" || ModulePath(m) != "modules/b.wasm" {
		t.Errorf("operator.plugin: %q %q", Entrypoint(m), ModulePath(m))
	}
}
