package audit

import (
	"testing"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/guestabi"
	"github.com/palyra/palyra-go/internal/manifest"
)

// Types of native test modules, after modSpec's two: (i32) -> i32 (a
// *-handle function), (i64) -> i32 (a wrong one) and () -> i64.
const (
	typeHandle   = 2
	typeI64Index = 3
)

var nativeTypes = []*wasm.FunctionType{
	{Params: []wasm.ValueType{wasm.ValueTypeI32}, Results: []wasm.ValueType{wasm.ValueTypeI32}},
	{Params: []wasm.ValueType{wasm.ValueTypeI64}, Results: []wasm.ValueType{wasm.ValueTypeI32}},
}

// capImports returns imports of all eight host capabilities, with
// Palyra's types.
func capImports() []*wasm.Import {
	var out []*wasm.Import
	for _, class := range []string{"http", "secret", "storage", "channel"} {
		out = append(out,
			&wasm.Import{Type: wasm.ExternTypeFunc, Module: guestabi.CapabilitiesModule, Name: class + "-count", DescFunc: 0},
			&wasm.Import{Type: wasm.ExternTypeFunc, Module: guestabi.CapabilitiesModule, Name: class + "-handle", DescFunc: typeHandle})
	}
	return out
}

func nativeModule(exports []string, imports ...*wasm.Import) []byte {
	return modSpec{tools: exports, imports: imports, extraTypes: nativeTypes}.build()
}

func TestAuditNativeABI(t *testing.T) {
	withPlugin := func(f *fixture, p manifest.Plugin) { f.m.Operator.Plugin = &p }
	tests := []struct {
		name   string
		mutate func(f *fixture)
		want   []expect
		passed bool
	}{
		{
			name: "all eight capabilities and run: the tool runs run",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"}, capImports()...)})
			},
			want: []expect{
				{checkImportAllowlist, StatusPass, []string{"modules/echo.wasm"}},
				{checkToolExports, StatusPass, []string{"tool 'echo'", "entrypoint 'run'", "Palyra-native"}},
			},
			passed: true,
		},
		{
			name: "a capability with another type than Palyra's",
			mutate: func(f *fixture) {
				imps := capImports()
				imps[1].DescFunc = typeI64Index // http-handle(i64)
				imps[2].DescFunc = 1            // secret-count() -> i64
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"}, imps...)})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"http-handle (type (i64) -> (i32); Palyra's is (i32) -> (i32))", "secret-count (type () -> (i64)"}}},
		},
		{
			name: "an unknown capability",
			mutate: func(f *fixture) {
				imp := &wasm.Import{Type: wasm.ExternTypeFunc, Module: guestabi.CapabilitiesModule, Name: "http-open", DescFunc: 0}
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"}, imp)})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"http-open (no such host function)"}}},
		},
		{
			name: "capabilities mixed with WASI",
			mutate: func(f *fixture) {
				// proc_exit's type does not matter here: the allowlist
				// checks the types of capabilities only.
				imps := append(capImports(), &wasm.Import{Type: wasm.ExternTypeFunc, Module: nsWASIP1, Name: "proc_exit", DescFunc: typeHandle})
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"}, imps...)})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"Palyra's host capabilities", "wasi_snapshot_preview1.proc_exit", "no WASI"}}},
		},
		{
			name: "capabilities mixed with the Extism kernel",
			mutate: func(f *fixture) {
				imps := append(capImports(), funcImport(nsExtismEnv, "input_length"))
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"}, imps...)})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"extism:host/env.input_length", "no Extism kernel"}}},
		},
		{
			name: "native module without its entrypoint",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"echo"}, capImports()...)})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"tool 'echo'", "does not export its entrypoint 'run'"}}},
		},
		{
			name: "native entrypoint of the wrong type",
			mutate: func(f *fixture) {
				mod := modSpec{imports: capImports(), extraTypes: nativeTypes, edit: func(m *wasm.Module) {
					m.FunctionSection = append(m.FunctionSection, 1) // () -> i64
					m.CodeSection = append(m.CodeSection, &wasm.Code{Body: []byte{wasm.OpcodeI64Const, 0, wasm.OpcodeEnd}})
					m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: "run", Index: 8})
				}}.build()
				f.setModules(map[string][]byte{"modules/echo.wasm": mod})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"entrypoint 'run' has type () -> (i64)", "() -> (i32)"}}},
		},
		{
			name: "default_entrypoint overrides run",
			mutate: func(f *fixture) {
				withPlugin(f, manifest.Plugin{DefaultEntrypoint: "main"})
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"main"}, capImports()...)})
			},
			want:   []expect{{checkToolExports, StatusPass, []string{"entrypoint 'main'"}}},
			passed: true,
		},
		{
			name: "no imports, run exported, the tool not: native",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": nativeModule([]string{"run"})})
			},
			want:   []expect{{checkToolExports, StatusPass, []string{"entrypoint 'run'", "Palyra-native"}}},
			passed: true,
		},
		{
			name: "two modules and no default_module_path",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{
					"modules/a.wasm": nativeModule([]string{"run"}, capImports()...),
					"modules/b.wasm": nativeModule([]string{"run"}, capImports()...),
				})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"tool 'echo'", "not exported"}}},
		},
		{
			name: "two modules, default_module_path picks one",
			mutate: func(f *fixture) {
				withPlugin(f, manifest.Plugin{DefaultModulePath: "modules/b.wasm"})
				f.setModules(map[string][]byte{
					"modules/a.wasm": echoModule(),
					"modules/b.wasm": nativeModule([]string{"run"}, capImports()...),
				})
				f.m.Entrypoints.Tools = append(f.m.Entrypoints.Tools, manifest.Tool{ID: "acme.other", Name: "other", Description: "x",
					InputSchema: map[string]any{"type": "object"}, OutputSchema: map[string]any{"type": "object"}})
			},
			want: []expect{
				{checkToolExports, StatusPass, []string{"tool 'echo'", "exported by module 'modules/a.wasm'"}},
				{checkToolExports, StatusPass, []string{"tool 'other'", "module 'modules/b.wasm' (Palyra-native ABI)"}},
			},
			passed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			tc.mutate(f)
			r := f.audit(t)
			for _, e := range tc.want {
				if !findCheck(r, e) {
					t.Errorf("no %s %s check with %q; checks:%s", e.id, e.status, e.words, dump(r))
				}
			}
			if r.Passed != tc.passed {
				t.Errorf("passed = %v, want %v; checks:%s", r.Passed, tc.passed, dump(r))
			}
		})
	}
}

func TestModuleABI(t *testing.T) {
	m := goodManifest()
	for _, c := range []struct {
		data []byte
		want guestabi.ABI
	}{
		{echoModule(), guestabi.Extism},
		{nativeModule([]string{"run"}, capImports()...), guestabi.Palyra},
		{nativeModule([]string{"run"}), guestabi.Palyra},
		{nativeModule([]string{"run", "echo"}), guestabi.Extism},
	} {
		got, err := ModuleABI(c.data, m)
		if err != nil || got != c.want {
			t.Errorf("ModuleABI = %v, %v; want %v", got, err, c.want)
		}
	}
	if _, err := ModuleABI([]byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f"), m); err == nil {
		t.Error("ModuleABI of a truncated module: no error")
	}
}
