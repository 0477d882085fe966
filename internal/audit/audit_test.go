package audit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
)

const (
	testSBOM       = `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}`
	testProvenance = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"modules/echo.wasm","digest":{"sha256":"00"}}],"builder":{"id":"https://palyra.dev/palyra-gen"}}`
)

// fixture is one audit's input, mutated by each test case.
type fixture struct {
	m     *manifest.Manifest
	files []artifact.File
	in    Input
	p     Policy
}

func goodManifest() *manifest.Manifest {
	return &manifest.Manifest{
		ManifestVersion: 2,
		SkillID:         "acme.echo",
		Name:            "Echo",
		Version:         "1.0.0",
		Publisher:       "acme",
		Entrypoints: manifest.Entrypoints{Tools: []manifest.Tool{{
			ID: "acme.echo", Name: "echo", Description: "Echoes its input",
			InputSchema: map[string]any{"type": "object"}, OutputSchema: map[string]any{"type": "object"},
		}}},
		Capabilities: manifest.Capabilities{
			Quotas: manifest.Quotas{WallClockTimeoutMS: 30000, FuelBudget: 10_000_000, MaxMemoryBytes: 64 << 20},
		},
		Compat:   manifest.Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0"},
		Operator: &manifest.Operator{DisplayName: "Echo"},
	}
}

func newFixture() *fixture {
	return &fixture{
		m: goodManifest(),
		files: []artifact.File{
			{Path: "modules/echo.wasm", Data: echoModule()},
			{Path: provenancePath, Data: []byte(testProvenance)},
			{Path: sbomPath, Data: []byte(testSBOM)},
			{Path: "skill.toml", Data: []byte("not read by the audit")},
		},
		in: Input{SignatureVerified: true, TrustDecision: "allowlisted", PayloadSHA256: strings.Repeat("ab", 32),
			VulnerabilityFeed: testFeed()},
		p: Policy{VulnerabilityFeedHook: testFeedPath},
	}
}

// setModules replaces the artifact's modules.
func (f *fixture) setModules(mods map[string][]byte) {
	f.files = slices.DeleteFunc(f.files, func(x artifact.File) bool { return strings.HasPrefix(x.Path, modulesDir) })
	for path, data := range mods {
		f.files = append(f.files, artifact.File{Path: path, Data: data})
	}
}

func (f *fixture) setFile(path string, data []byte) {
	f.files = slices.DeleteFunc(f.files, func(x artifact.File) bool { return x.Path == path })
	if data != nil {
		f.files = append(f.files, artifact.File{Path: path, Data: data})
	}
}

func (f *fixture) audit(t testing.TB) *Report {
	t.Helper()
	in := f.in
	in.Manifest, in.Files = f.m, f.files
	r, err := Audit(context.Background(), in, f.p)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	checkInvariants(t, r)
	return r
}

// checkInvariants holds for every report: the verdict follows the checks,
// severities follow statuses, and every failure is a quarantine reason.
func checkInvariants(t testing.TB, r *Report) {
	t.Helper()
	fails := r.Failures()
	if r.Passed != (len(fails) == 0) || r.ShouldQuarantine == r.Passed {
		t.Errorf("verdict passed=%v should_quarantine=%v with %d failures", r.Passed, r.ShouldQuarantine, len(fails))
	}
	if len(r.QuarantineReasons) != len(fails) {
		t.Errorf("%d quarantine reasons for %d failures", len(r.QuarantineReasons), len(fails))
	}
	for i, c := range fails {
		if i < len(r.QuarantineReasons) && r.QuarantineReasons[i] != c.Message {
			t.Errorf("quarantine reason %d = %q, want %q", i, r.QuarantineReasons[i], c.Message)
		}
	}
	for _, c := range r.Checks {
		want := map[Status]Severity{StatusPass: SeverityInfo, StatusSkipped: SeverityInfo, StatusWarn: SeverityWarning, StatusFail: SeverityError}[c.Status]
		if want == "" || c.Severity != want {
			t.Errorf("check %s: status %q with severity %q", c.CheckID, c.Status, c.Severity)
		}
		if c.CheckID == "" || c.Message == "" {
			t.Errorf("check without id or message: %+v", c)
		}
	}
}

// expect is one check a case expects: its id, status and words of its
// message (the module, import, export or tool it is about).
type expect struct {
	id     string
	status Status
	words  []string
}

func findCheck(r *Report, e expect) bool {
	for _, c := range r.Checks {
		if c.CheckID != e.id || c.Status != e.status {
			continue
		}
		ok := true
		for _, w := range e.words {
			ok = ok && strings.Contains(c.Message, w)
		}
		if ok {
			return true
		}
	}
	return false
}

func dump(r *Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		b.WriteString("\n  " + c.CheckID + " " + string(c.Status) + ": " + c.Message)
	}
	return b.String()
}

func TestAuditGoodArtifactPassesEveryCheck(t *testing.T) {
	r := newFixture().audit(t)
	for _, c := range r.Checks {
		if c.Status != StatusPass {
			t.Errorf("check %s is %s: %s", c.CheckID, c.Status, c.Message)
		}
	}
	if !r.Passed || r.ShouldQuarantine || len(r.QuarantineReasons) != 0 {
		t.Errorf("verdict passed=%v should_quarantine=%v reasons=%q", r.Passed, r.ShouldQuarantine, r.QuarantineReasons)
	}
	// Every check of the package documentation ran, except the manifest
	// warnings (the good manifest has none).
	for _, id := range []string{
		checkSignatureValidity, checkSBOMPresence, checkProvenancePresence, checkManifestSanity, checkToolSchemas,
		checkFilesystemScopes, checkHTTPScopes, checkSecretScopes, checkSecretOwner, checkForbiddenDevice, checkForbiddenNode,
		checkForbiddenWildcard, checkModulePresence, checkModuleSize, checkModuleValidation,
		checkExportedFunctionLimit, checkWASIFilesystemImports, checkImportAllowlist, checkCapabilityImports,
		checkMemoryLimits, checkTableLimit, checkImportLimit, checkFunctionLimit, checkDataSegmentLimit,
		checkToolExports, checkVulnerabilityFeedHook,
	} {
		if !findCheck(r, expect{id: id, status: StatusPass}) {
			t.Errorf("no passing %s check", id)
		}
	}
	if r.SkillID != "acme.echo" || r.Version != "1.0.0" || r.Publisher != "acme" || !r.Accepted ||
		r.TrustDecision != "allowlisted" || r.VulnerabilityScan.CheckID != checkVulnerabilityFeedHook {
		t.Errorf("report header = %+v", r)
	}
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *fixture)
		want   []expect
		passed bool
	}{
		{
			name:   "palyra golden vector: empty module does not export the tool",
			mutate: func(f *fixture) { f.setModules(map[string][]byte{"modules/echo.wasm": emptyModule}) },
			want: []expect{
				{checkModuleValidation, StatusPass, []string{"modules/echo.wasm"}},
				{checkMemoryLimits, StatusPass, []string{"modules/echo.wasm", "no memory"}},
				{checkToolExports, StatusFail, []string{"tool 'echo'", "acme.echo", "not exported"}},
			},
		},
		{
			name: "invalid bytes fail validation",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": []byte("\x00asm\x01\x00\x00\x00\x01\xff")})
			},
			want: []expect{
				{checkModuleValidation, StatusFail, []string{"modules/echo.wasm", "failed validation"}},
				{checkToolExports, StatusFail, []string{"tool 'echo'", "1 module(s) could not be decoded"}},
			},
		},
		{
			name:   "not wasm at all",
			mutate: func(f *fixture) { f.setModules(map[string][]byte{"modules/echo.wasm": []byte("#!/bin/sh\n")}) },
			want:   []expect{{checkModuleValidation, StatusFail, []string{"modules/echo.wasm"}}},
		},
		{
			name: "module over the default 8 MiB",
			mutate: func(f *fixture) {
				big := append(echoModule(), make([]byte, DefaultMaxModuleBytes)...)
				f.setModules(map[string][]byte{"modules/echo.wasm": big})
			},
			want: []expect{
				{checkModuleSize, StatusFail, []string{"modules/echo.wasm", "exceeds max_module_bytes", "> 8388608"}},
				{checkToolExports, StatusFail, []string{"tool 'echo'"}},
			},
		},
		{
			name:   "module over a policy's size limit",
			mutate: func(f *fixture) { f.p.MaxModuleBytes = 16 },
			want:   []expect{{checkModuleSize, StatusFail, []string{"modules/echo.wasm", "> 16)"}}},
		},
		{
			name: "no modules",
			mutate: func(f *fixture) {
				f.setModules(nil)
				f.setFile("modules/readme.txt", []byte("not a module"))
			},
			want: []expect{
				{checkModulePresence, StatusFail, []string{"modules/*.wasm"}},
				{checkToolExports, StatusFail, []string{"tool 'echo'"}},
			},
		},
		{
			name: "129 exported functions",
			mutate: func(f *fixture) {
				var ex []*wasm.Export
				for i := range 128 {
					ex = append(ex, &wasm.Export{Type: wasm.ExternTypeFunc, Name: "alias" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Index: 0})
				}
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, exports: ex}.build()})
			},
			want: []expect{{checkExportedFunctionLimit, StatusFail, []string{"modules/echo.wasm", "(129 > 128)"}}},
		},
		{
			name:   "128 exported functions are allowed",
			passed: true,
			mutate: func(f *fixture) {
				var ex []*wasm.Export
				for i := range 127 {
					ex = append(ex, &wasm.Export{Type: wasm.ExternTypeFunc, Name: "alias" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Index: 0})
				}
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, exports: ex}.build()})
			},
			want: []expect{{checkExportedFunctionLimit, StatusPass, []string{"(128 <= 128)"}}},
		},
		{
			name: "tool missing from every module",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"other"}}.build()})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"tool 'echo'", "not exported as a function by any module"}}},
		},
		{
			name: "tool exported by two modules",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/a.wasm": echoModule(), "modules/b.wasm": echoModule()})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"tool 'echo'", "more than one module", "modules/a.wasm", "modules/b.wasm"}}},
		},
		{
			name: "tools split across two modules",
			mutate: func(f *fixture) {
				f.m.Entrypoints.Tools = append(f.m.Entrypoints.Tools, manifest.Tool{ID: "acme.shout", Name: "shout"})
				f.setModules(map[string][]byte{"modules/a.wasm": echoModule(), "modules/b.wasm": modSpec{tools: []string{"shout"}}.build()})
			},
			passed: true,
			want: []expect{
				{checkToolExports, StatusPass, []string{"tool 'echo'", "modules/a.wasm"}},
				{checkToolExports, StatusPass, []string{"tool 'shout'", "modules/b.wasm"}},
			},
		},
		{
			name: "tool exported as a memory",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{exports: []*wasm.Export{{Type: wasm.ExternTypeMemory, Name: "echo"}}}.build()})
			},
			want: []expect{{checkToolExports, StatusFail, []string{"tool 'echo'", "modules/echo.wasm", "as a memory"}}},
		},
		{
			name: "tool with parameters",
			mutate: func(f *fixture) {
				// An imported function of type 2, (i32) -> (), re-exported
				// as echo.
				m := modSpec{
					extraTypes: []*wasm.FunctionType{typeI32ToVoid},
					imports:    []*wasm.Import{{Type: wasm.ExternTypeFunc, Module: nsExtismEnv, Name: "input_length", DescFunc: 2}},
					exports:    []*wasm.Export{{Type: wasm.ExternTypeFunc, Name: "echo", Index: 0}},
				}
				f.setModules(map[string][]byte{"modules/echo.wasm": m.build()})
			},
			want: []expect{
				{checkToolExports, StatusFail, []string{"tool 'echo'", "modules/echo.wasm", "(i32) -> ()"}},
			},
		},
		{
			name: "memory minimum above the quota",
			mutate: func(f *fixture) {
				f.m.Capabilities.Quotas.MaxMemoryBytes = 2 * wasmPageSize
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, memory: &wasm.Memory{Min: 3}}.build()})
			},
			want: []expect{{checkMemoryLimits, StatusFail, []string{"modules/echo.wasm", "3 pages", "131072"}}},
		},
		{
			name: "memory maximum above the quota warns",
			mutate: func(f *fixture) {
				f.m.Capabilities.Quotas.MaxMemoryBytes = 2 * wasmPageSize
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, memory: &wasm.Memory{Min: 1, Max: 100, IsMaxEncoded: true}}.build()})
			},
			passed: true,
			want:   []expect{{checkMemoryLimits, StatusWarn, []string{"modules/echo.wasm", "maximum of 100 pages", "caps it at the quota"}}},
		},
		{
			name: "memory without maximum passes",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, memory: &wasm.Memory{Min: 2}}.build()})
			},
			passed: true,
			want:   []expect{{checkMemoryLimits, StatusPass, []string{"modules/echo.wasm", "2 pages"}}},
		},
		{
			name: "imported memory",
			mutate: func(f *fixture) {
				f.m.Capabilities.Quotas.MaxMemoryBytes = wasmPageSize
				mem := &wasm.Import{Type: wasm.ExternTypeMemory, Module: nsWASIP1, Name: "memory", DescMem: &wasm.Memory{Min: 4}}
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, noMemory: true, imports: []*wasm.Import{mem}}.build()})
			},
			want: []expect{
				{checkImportAllowlist, StatusFail, []string{"modules/echo.wasm", "wasi_snapshot_preview1.memory", "memory import"}},
				{checkMemoryLimits, StatusFail, []string{"modules/echo.wasm", "4 pages"}},
			},
		},
		{
			name: "table too large",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, tables: []*wasm.Table{{Min: 200_000, Type: wasm.RefTypeFuncref}}}.build()})
			},
			want: []expect{{checkTableLimit, StatusFail, []string{"modules/echo.wasm", "(200000 > 100000)"}}},
		},
		{
			name: "import from an unknown module",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport("env", "system")}}.build()})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"modules/echo.wasm", "env.system (unknown module)"}}},
		},
		{
			name: "unknown function in the Extism namespace",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(nsExtismEnv, "exec")}}.build()})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"modules/echo.wasm", "extism:host/env.exec (no such host function)"}}},
		},
		{
			name: "unknown user host function",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(nsExtismUser, "launch")}}.build()})
			},
			want: []expect{{checkImportAllowlist, StatusFail, []string{"extism:host/user.launch"}}},
		},
		{
			name: "every runtime namespace is allowed",
			mutate: func(f *fixture) {
				f.m.Capabilities.HTTPEgressAllowlist = []string{"api.example.com"}
				f.m.Capabilities.Secrets = []manifest.SecretScope{{Scope: "skill:acme.echo", KeyNames: []string{"token"}}}
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{
					funcImport(nsExtismEnv, "http_request"), funcImport(nsExtismUser, secretGetFunc),
					funcImport(nsPalyraEnv, "copy_in"), funcImport(nsWASIP1, "fd_write"), funcImport(nsWASIP1, "fd_prestat_get"),
				}}.build()})
			},
			passed: true,
			want: []expect{
				{checkImportAllowlist, StatusPass, []string{"modules/echo.wasm"}},
				{checkCapabilityImports, StatusPass, []string{"modules/echo.wasm"}},
				{checkWASIFilesystemImports, StatusPass, []string{"modules/echo.wasm"}},
			},
		},
		{
			name: "http_request without an egress allowlist",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(nsExtismEnv, "http_request")}}.build()})
			},
			passed: true,
			want:   []expect{{checkCapabilityImports, StatusWarn, []string{"modules/echo.wasm", "extism:host/env.http_request", "http_egress_allowlist"}}},
		},
		{
			name: "secret lookup without requested secrets",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(nsExtismUser, secretGetFunc)}}.build()})
			},
			passed: true,
			want:   []expect{{checkCapabilityImports, StatusWarn, []string{"modules/echo.wasm", "extism:host/user.palyra_secret_get", "capabilities.secrets"}}},
		},
		{
			name: "WASI path functions without filesystem roots",
			mutate: func(f *fixture) {
				// Imported twice, as Go's runtime and syscall package do.
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{
					funcImport(nsWASIP1, "path_open"), funcImport(nsWASIP1, "fd_write"), funcImport(nsWASIP1, "path_open"),
				}}.build()})
			},
			passed: true,
			want:   []expect{{checkWASIFilesystemImports, StatusWarn, []string{"modules/echo.wasm", "(wasi_snapshot_preview1.path_open)", "no filesystem roots"}}},
		},
		{
			name: "WASI path functions with a root",
			mutate: func(f *fixture) {
				f.m.Capabilities.Filesystem.ReadRoots = []string{"cache/in"}
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(nsWASIP1, "path_open")}}.build()})
			},
			passed: true,
			want:   []expect{{checkWASIFilesystemImports, StatusPass, []string{"modules/echo.wasm"}}},
		},
		{
			name: "component wasi:filesystem without roots",
			mutate: func(f *fixture) {
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{funcImport(" WASI:filesystem/types@0.2.0", "open-at")}}.build()})
			},
			want: []expect{
				{checkWASIFilesystemImports, StatusFail, []string{"modules/echo.wasm", "open-at", "without declared filesystem capability"}},
				{checkImportAllowlist, StatusFail, []string{"open-at (unknown module)"}},
			},
		},
		{
			name: "too many imports",
			mutate: func(f *fixture) {
				f.p.MaxImports = 1
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, imports: []*wasm.Import{
					funcImport(nsWASIP1, "fd_write"), funcImport(nsWASIP1, "proc_exit"),
				}}.build()})
			},
			want: []expect{{checkImportLimit, StatusFail, []string{"modules/echo.wasm", "imports (2 > max_imports 1)"}}},
		},
		{
			name: "too many functions",
			mutate: func(f *fixture) {
				f.p.MaxFunctions = 2
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, funcs: 2}.build()})
			},
			want: []expect{{checkFunctionLimit, StatusFail, []string{"modules/echo.wasm", "defined functions (3 > max_functions 2)"}}},
		},
		{
			name: "too many data segments",
			mutate: func(f *fixture) {
				f.p.MaxDataSegments = 2
				f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, data: 3}.build()})
			},
			want: []expect{{checkDataSegmentLimit, StatusFail, []string{"modules/echo.wasm", "data segments (3 > max_data_segments 2)"}}},
		},
		{
			name:   "signature not verified",
			mutate: func(f *fixture) { f.in.SignatureVerified = false },
			want:   []expect{{checkSignatureValidity, StatusFail, []string{"not verified"}}},
		},
		{
			name:   "sbom missing",
			mutate: func(f *fixture) { f.setFile(sbomPath, nil) },
			want:   []expect{{checkSBOMPresence, StatusFail, []string{"sbom.cdx.json is missing"}}},
		},
		{
			name:   "sbom not CycloneDX",
			mutate: func(f *fixture) { f.setFile(sbomPath, []byte(`{"spdxVersion":"SPDX-2.3"}`)) },
			want:   []expect{{checkSBOMPresence, StatusFail, []string{"bomFormat"}}},
		},
		{
			name:   "sbom without specVersion",
			mutate: func(f *fixture) { f.setFile(sbomPath, []byte(`{"bomFormat":"CycloneDX"}`)) },
			want:   []expect{{checkSBOMPresence, StatusFail, []string{"specVersion"}}},
		},
		{
			name:   "sbom not JSON",
			mutate: func(f *fixture) { f.setFile(sbomPath, []byte(`[1,2`)) },
			want:   []expect{{checkSBOMPresence, StatusFail, []string{"not a JSON object"}}},
		},
		{
			name:   "provenance missing",
			mutate: func(f *fixture) { f.setFile(provenancePath, nil) },
			want:   []expect{{checkProvenancePresence, StatusFail, []string{"provenance.json is missing"}}},
		},
		{
			name:   "provenance without builder",
			mutate: func(f *fixture) { f.setFile(provenancePath, []byte(`{"subject":[{}]}`)) },
			want:   []expect{{checkProvenancePresence, StatusFail, []string{"builder"}}},
		},
		{
			name:   "provenance with empty subject",
			mutate: func(f *fixture) { f.setFile(provenancePath, []byte(`{"builder":{},"subject":[]}`)) },
			want:   []expect{{checkProvenancePresence, StatusFail, []string{"subject"}}},
		},
		{
			name:   "device capabilities",
			mutate: func(f *fixture) { f.m.Capabilities.DeviceCapabilities = []string{"camera"} },
			want:   []expect{{checkForbiddenDevice, StatusFail, []string{"camera"}}},
		},
		{
			name: "device capabilities allowed by policy",
			mutate: func(f *fixture) {
				f.m.Capabilities.DeviceCapabilities = []string{"camera"}
				f.p.AllowDeviceCapabilities = true
			},
			passed: true,
			want:   []expect{{checkForbiddenDevice, StatusPass, nil}},
		},
		{
			name:   "node capabilities",
			mutate: func(f *fixture) { f.m.Capabilities.NodeCapabilities = []string{"shell"} },
			want:   []expect{{checkForbiddenNode, StatusFail, []string{"shell"}}},
		},
		{
			name: "node capabilities allowed by policy",
			mutate: func(f *fixture) {
				f.m.Capabilities.NodeCapabilities = []string{"shell"}
				f.p.AllowNodeCapabilities = true
			},
			passed: true,
			want:   []expect{{checkForbiddenNode, StatusPass, nil}},
		},
		{
			name:   "wildcard opt-in",
			mutate: func(f *fixture) { f.m.Capabilities.WildcardOptIn.HTTPEgress = true },
			want:   []expect{{checkForbiddenWildcard, StatusFail, []string{"http_egress"}}},
		},
		{
			name: "wildcard opt-in allowed by policy",
			mutate: func(f *fixture) {
				f.m.Capabilities.WildcardOptIn.HTTPEgress = true
				f.m.Capabilities.HTTPEgressAllowlist = []string{"*.example.com"}
				f.p.AllowWildcardCapabilities = true
			},
			passed: true,
			want: []expect{
				{checkForbiddenWildcard, StatusPass, nil},
				{checkHTTPScopes, StatusPass, []string{"1 http egress host"}},
			},
		},
		{
			name:   "escaping filesystem root",
			mutate: func(f *fixture) { f.m.Capabilities.Filesystem.WriteRoots = []string{"cache/../../etc"} },
			want:   []expect{{checkFilesystemScopes, StatusFail, []string{`"cache/../../etc"`}}},
		},
		{
			name:   "absolute filesystem root",
			mutate: func(f *fixture) { f.m.Capabilities.Filesystem.ReadRoots = []string{"/etc"} },
			want:   []expect{{checkFilesystemScopes, StatusFail, []string{`"/etc" (absolute)`}}},
		},
		{
			// Palyra's inner wildcard form: before, the audit accepted any
			// string with '*' once opted in, "api*.example.com" too.
			name: "inner wildcard label with opt-in, partial-label wildcard refused",
			mutate: func(f *fixture) {
				f.m.Capabilities.WildcardOptIn.HTTPEgress = true
				f.m.Capabilities.HTTPEgressAllowlist = []string{"api.*.example.com", "api*.example.com"}
				f.p.AllowWildcardCapabilities = true
			},
			want: []expect{{checkHTTPScopes, StatusFail, []string{`"api*.example.com"`, "whole label"}}},
		},
		{
			name: "inner wildcard label with opt-in",
			mutate: func(f *fixture) {
				f.m.Capabilities.WildcardOptIn.HTTPEgress = true
				f.m.Capabilities.HTTPEgressAllowlist = []string{"api.*.example.com"}
				f.p.AllowWildcardCapabilities = true
			},
			passed: true,
			want:   []expect{{checkHTTPScopes, StatusPass, []string{"1 http egress host"}}},
		},
		{
			name:   "wildcard host without opt-in",
			mutate: func(f *fixture) { f.m.Capabilities.HTTPEgressAllowlist = []string{"*"} },
			want:   []expect{{checkHTTPScopes, StatusFail, []string{`"*"`, "wildcard_opt_in.http_egress"}}},
		},
		{
			name:   "URL instead of host",
			mutate: func(f *fixture) { f.m.Capabilities.HTTPEgressAllowlist = []string{"https://api.example.com/"} },
			want:   []expect{{checkHTTPScopes, StatusFail, []string{"https://api.example.com/"}}},
		},
		{
			name: "bad secret scope",
			mutate: func(f *fixture) {
				f.m.Capabilities.Secrets = []manifest.SecretScope{{Scope: "everyone", KeyNames: []string{"k"}}, {Scope: "global"}}
			},
			want: []expect{{checkSecretScopes, StatusFail, []string{`"everyone"`, `"global" (lists no key_names)`}}},
		},
		{
			name: "another skill's secret scope",
			mutate: func(f *fixture) {
				f.m.Capabilities.Secrets = []manifest.SecretScope{
					{Scope: "skill:acme.echo", KeyNames: []string{"token"}},
					{Scope: "skill:victim.app", KeyNames: []string{"api_key"}},
					{Scope: "skill:acme.echo:x", KeyNames: []string{"k"}},
				}
			},
			want: []expect{
				{checkSecretScopes, StatusPass, nil},
				{checkSecretOwner, StatusFail, []string{"'acme.echo'", "victim.app", "acme.echo:x", "only its own scope 'skill:acme.echo'"}},
			},
		},
		{
			name: "own, global, principal and channel secret scopes",
			mutate: func(f *fixture) {
				f.m.Capabilities.Secrets = []manifest.SecretScope{
					{Scope: "skill:acme.echo", KeyNames: []string{"token"}},
					{Scope: "global", KeyNames: []string{"k"}},
					{Scope: "principal:admin", KeyNames: []string{"k"}},
					{Scope: "channel:discord:acct_1", KeyNames: []string{"k"}},
				}
			},
			passed: true,
			want:   []expect{{checkSecretOwner, StatusPass, []string{"skill:acme.echo"}}},
		},
		{
			name:   "manifest with a bad version and zero quotas",
			mutate: func(f *fixture) { f.m.Version = "1.0"; f.m.Capabilities.Quotas = manifest.Quotas{} },
			want:   []expect{{checkManifestSanity, StatusFail, []string{`"1.0"`, "quotas"}}},
		},
		{
			// Issue 12: this passed, the report saying "manifest passed
			// strict schema".
			name: "tool schema that is not a JSON Schema",
			mutate: func(f *fixture) {
				f.m.Entrypoints.Tools[0].InputSchema = map[string]any{"type": int64(42), "required": "text", "properties": int64(7)}
				f.m.Entrypoints.Tools[0].OutputSchema = map[string]any{"$ref": "https://example.com/s.json"}
			},
			want: []expect{{checkToolSchemas, StatusFail, []string{"tool acme.echo: input_schema", "/type: value must be one of",
				"/required: got string, want array", "tool acme.echo: output_schema", "external reference refused"}}},
		},
		{
			name:   "manifest tool not namespaced",
			mutate: func(f *fixture) { f.m.Entrypoints.Tools[0].ID = "other.echo" },
			want:   []expect{{checkManifestSanity, StatusFail, []string{`"other.echo"`}}},
		},
		{
			name:   "legacy manifest without operator metadata warns",
			mutate: func(f *fixture) { f.m.ManifestVersion = 1; f.m.Operator = nil },
			passed: true,
			want: []expect{
				{"manifest_warning:legacy_manifest_version", StatusWarn, []string{"manifest_version 1"}},
				{"manifest_warning:missing_operator_metadata", StatusWarn, nil},
			},
		},
		{
			name: "secret-like config property not redacted",
			mutate: func(f *fixture) {
				f.m.Operator = &manifest.Operator{Config: &manifest.ConfigContract{SchemaVersion: 1, Properties: map[string]manifest.ConfigProperty{
					"api_token": {Type: "string"}, "region": {Type: "string"},
				}}}
			},
			passed: true,
			want: []expect{
				{"manifest_warning:missing_operator_display_name", StatusWarn, nil},
				{"manifest_warning:operator_config_redaction_recommended", StatusWarn, []string{"'api_token'"}},
			},
		},
		{
			name:   "no vulnerability feed warns",
			mutate: func(f *fixture) { f.p.VulnerabilityFeedHook, f.in.VulnerabilityFeed = "", nil },
			passed: true,
			want:   []expect{{checkVulnerabilityFeedHook, StatusWarn, []string{"not configured"}}},
		},
		// The bug: any string in vulnerability_feed_hook passed, matching
		// nothing.
		{
			name: "affected module fails naming module, version, advisory and fix",
			mutate: func(f *fixture) {
				f.setFile(sbomPath, sbomWith("example.com/vulnerable@v1.4.9", "example.com/fine@v1.0.0"))
			},
			want: []expect{{checkVulnerabilityFeedHook, StatusFail, []string{
				"example.com/vulnerable v1.4.9", "GO-2099-0001", "CVE-2099-0001", "fixed in v1.5.0", "not graded (ranked high)"}}},
		},
		{
			name:   "fixed version passes",
			mutate: func(f *fixture) { f.setFile(sbomPath, sbomWith("example.com/vulnerable@v1.5.0")) },
			passed: true,
			want:   []expect{{checkVulnerabilityFeedHook, StatusPass, []string{"1 Go modules", testFeedPath, "no known vulnerabilities"}}},
		},
		{
			name: "below the threshold warns",
			mutate: func(f *fixture) {
				f.setFile(sbomPath, sbomWith("example.com/minor@v1.1.0"))
				f.p.VulnerabilitySeverityThreshold = "moderate"
			},
			passed: true,
			want: []expect{{checkVulnerabilityFeedHook, StatusWarn, []string{
				"example.com/minor v1.1.0", "GHSA-minr-minr-minr", "severity low", "no fixed version known", "below the moderate threshold"}}},
		},
		{
			name:   "default threshold fails a low finding",
			mutate: func(f *fixture) { f.setFile(sbomPath, sbomWith("example.com/minor@v1.0.5")) },
			want:   []expect{{checkVulnerabilityFeedHook, StatusFail, []string{"example.com/minor v1.0.5", "severity low"}}},
		},
		{
			name: "ungraded finding warns under a critical threshold",
			mutate: func(f *fixture) {
				f.setFile(sbomPath, sbomWith("example.com/vulnerable@v1.0.0"))
				f.p.VulnerabilitySeverityThreshold = "critical"
			},
			passed: true,
			want:   []expect{{checkVulnerabilityFeedHook, StatusWarn, []string{"GO-2099-0001", "below the critical threshold"}}},
		},
		{
			name: "configured feed that did not load fails naming it",
			mutate: func(f *fixture) {
				f.in.VulnerabilityFeed, f.in.VulnerabilityFeedError = nil, errors.New("open /feeds/osv: permission denied")
				f.p.VulnerabilityFeedHook = "/feeds/osv"
			},
			want: []expect{{checkVulnerabilityFeedHook, StatusFail, []string{"/feeds/osv is unusable", "permission denied"}}},
		},
		{
			name:   "configured feed not passed in fails",
			mutate: func(f *fixture) { f.in.VulnerabilityFeed = nil },
			want:   []expect{{checkVulnerabilityFeedHook, StatusFail, []string{testFeedPath, "not loaded"}}},
		},
		{
			name:   "bad threshold fails",
			mutate: func(f *fixture) { f.p.VulnerabilitySeverityThreshold = "severe" },
			want:   []expect{{checkVulnerabilityFeedHook, StatusFail, []string{`"severe"`, "not one of"}}},
		},
		{
			name: "unreadable SBOM components fail the match",
			mutate: func(f *fixture) {
				f.setFile(sbomPath, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}}`))
			},
			want: []expect{{checkVulnerabilityFeedHook, StatusFail, []string{"components could not be read"}}},
		},
		{
			name:   "uncomparable version warns",
			mutate: func(f *fixture) { f.setFile(sbomPath, sbomWith("example.com/vulnerable@devel")) },
			passed: true,
			want:   []expect{{checkVulnerabilityFeedHook, StatusWarn, []string{"example.com/vulnerable", `"devel"`, "cannot be compared"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			tt.mutate(f)
			r := f.audit(t)
			for _, e := range tt.want {
				if !findCheck(r, e) {
					t.Errorf("no %s check %s with %q; checks:%s", e.status, e.id, e.words, dump(r))
				}
			}
			if r.Passed != tt.passed {
				t.Errorf("passed = %v, want %v; failures: %q", r.Passed, tt.passed, r.QuarantineReasons)
			}
		})
	}
}

func TestAuditErrors(t *testing.T) {
	if _, err := Audit(context.Background(), Input{}, DefaultPolicy()); !errors.Is(err, ErrNoManifest) {
		t.Errorf("nil manifest: err = %v, want ErrNoManifest", err)
	}
	f := newFixture()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := Audit(ctx, Input{Manifest: f.m, Files: f.files, SignatureVerified: true}, f.p)
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Errorf("cancelled: report %v, err = %v, want context.Canceled and no report", r != nil, err)
	}
}

func TestPolicyDefaults(t *testing.T) {
	f := newFixture()
	f.p = Policy{MaxExportedFunctions: -1, MaxModuleBytes: 1 << 30}
	r := f.audit(t)
	want := DefaultPolicy()
	want.MaxModuleBytes = 1 << 30
	if r.Policy != want {
		t.Errorf("report policy = %+v, want %+v", r.Policy, want)
	}
}

func TestReportTime(t *testing.T) {
	f := newFixture()
	f.in.Now = time.UnixMilli(1_700_000_000_123)
	if r := f.audit(t); r.GeneratedAtUnixMS != 1_700_000_000_123 {
		t.Errorf("generated_at_unix_ms = %d", r.GeneratedAtUnixMS)
	}
	f.in.Now = time.Time{}
	before := time.Now().UnixMilli()
	if r := f.audit(t); r.GeneratedAtUnixMS < before {
		t.Errorf("generated_at_unix_ms = %d, before the audit started (%d)", r.GeneratedAtUnixMS, before)
	}
}
