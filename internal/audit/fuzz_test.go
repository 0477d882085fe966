package audit

import (
	"context"
	"testing"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/guestabi"
)

// FuzzAudit feeds arbitrary bytes as a skill's module. Whatever they are,
// the audit must return a report (never panic, never error) whose verdict
// follows its checks, and it must never pass bytes that do not export the
// declared tool (as Extism calls it, or as Palyra does: the entrypoint of
// a Palyra-native module).
func FuzzAudit(f *testing.F) {
	f.Add(emptyModule)
	f.Add(echoModule())
	f.Add(echoModule()[:20])
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\xff"))
	f.Add(modSpec{
		tools:   []string{"echo"},
		imports: []*wasm.Import{funcImport("env", "x"), {Type: wasm.ExternTypeMemory, Module: nsWASIP1, Name: "memory", DescMem: &wasm.Memory{Min: 1}}},
		tables:  []*wasm.Table{{Min: 3, Type: wasm.RefTypeFuncref}},
		data:    2,
	}.build())
	f.Add([]byte{})
	f.Add(nativeModule([]string{"run"}, capImports()...))
	f.Add(buildModule(bomb{funcs: 2, depth: 3, kind: 0x03, locals: 2, brTable: 2, fill: 14}, bomb{funcs: 1, depth: 2, kind: 0x04}))

	m := goodManifest()
	fx := newFixture()
	f.Fuzz(func(t *testing.T, data []byte) {
		files := append([]artifact.File{{Path: "modules/fuzz.wasm", Data: data}}, fx.files[1:]...)
		r, err := Audit(context.Background(), Input{Manifest: m, Files: files, SignatureVerified: true}, fx.p)
		if err != nil {
			t.Fatalf("Audit: %v", err)
		}
		checkInvariants(t, r)
		if r.Passed && !findCheck(r, expect{checkToolExports, StatusPass, []string{"tool 'echo'", "modules/fuzz.wasm"}}) {
			t.Fatalf("passed without exporting echo:%s", dump(r))
		}
	})
}

// FuzzModuleABI feeds arbitrary bytes to ModuleABI, which inspect runs on
// artifacts nobody trusts yet: it must return an ABI or an error, never
// panic, and agree with the audit on modules the audit passes.
func FuzzModuleABI(f *testing.F) {
	f.Add(emptyModule)
	f.Add(echoModule())
	f.Add(nativeModule([]string{"run"}, capImports()...))
	f.Add(nativeModule([]string{"run"}))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\xff"))
	m := goodManifest()
	fx := newFixture()
	f.Fuzz(func(t *testing.T, data []byte) {
		abi, err := ModuleABI(data, m)
		if err != nil {
			return
		}
		files := append([]artifact.File{{Path: "modules/fuzz.wasm", Data: data}}, fx.files[1:]...)
		r, err := Audit(context.Background(), Input{Manifest: m, Files: files, SignatureVerified: true}, fx.p)
		if err != nil {
			t.Fatalf("Audit: %v", err)
		}
		native := findCheck(r, expect{checkToolExports, StatusPass, []string{"tool 'echo'", "Palyra-native"}})
		if r.Passed && native != (abi == guestabi.Palyra) {
			t.Fatalf("ModuleABI = %v, but the audit's tool check says native=%v:%s", abi, native, dump(r))
		}
	})
}
