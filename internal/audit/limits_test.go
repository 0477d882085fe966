package audit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/testguest"
)

// TestCompileLimitsPassRealGuests checks that the default compile limits
// pass every real guest at hand: the repo's Go test guest and every module
// of extism/go-sdk's wasm/ folder (Go, TinyGo, Rust, C, Haskell).
func TestCompileLimitsPassRealGuests(t *testing.T) {
	mods := map[string][]byte{"testguest": testguest.Build(t, "../runtime/testdata/guest")}
	if dir := goSDKWasmDir(t); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			mods["go-sdk/"+filepath.Base(f)] = b
		}
	}
	p := DefaultPolicy()
	for name, b := range mods {
		sh, err := checkBounds(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, l := range p.codeLimits(sh) {
			if l.value > l.limit {
				t.Errorf("%s: %s %d > %d (function %d)", name, l.name, l.value, l.limit, l.index)
			}
		}
	}
}

// goSDKWasmDir returns extism/go-sdk's wasm/ folder in the module cache, or
// "" (skipping nothing else) when the module is not downloaded.
func goSDKWasmDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Logf("extism/go-sdk not in the module cache (%v): its modules not checked", err)
		return ""
	}
	return filepath.Join(dir, "wasm")
}

// TestCompileLimits checks each limit with a module just within and just
// over it (a policy lowered to make the modules small), the failure naming
// the function and the value against the limit, and that a module over a
// limit is not validated (no wasm_module_validation check).
func TestCompileLimits(t *testing.T) {
	tests := []struct {
		name   string
		p      Policy
		within bomb
		over   bomb
		id     string
		words  []string
	}{
		{"body bytes", Policy{MaxFunctionBodyBytes: 200},
			bomb{funcs: 1, fill: 190}, bomb{funcs: 1, fill: 210}, checkFunctionBodyLimit,
			[]string{"function 0 body is 212 bytes", "above max_function_body_bytes (200)"}},
		{"control depth", Policy{MaxControlDepth: 10},
			bomb{funcs: 2, depth: 10, kind: 0x02}, bomb{funcs: 2, depth: 11, kind: 0x04}, checkControlDepthLimit,
			[]string{"function 0 nests control instructions 11 deep", "above max_control_depth (10)"}},
		{"control nesting total", Policy{MaxControlNestingTotal: 55 * 3},
			bomb{funcs: 3, depth: 10, kind: 0x02}, bomb{funcs: 4, depth: 10, kind: 0x02}, checkControlNestingLimit,
			[]string{"control instructions' nesting depths sum to 220", "above max_control_nesting_total (165)"}},
		{"loop nesting total", Policy{MaxLoopNestingTotal: 55},
			bomb{funcs: 1, depth: 10, kind: 0x03}, bomb{funcs: 1, depth: 11, kind: 0x03}, checkLoopNestingLimit,
			[]string{"loops' nesting depths sum to 66", "above max_loop_nesting_total (55)"}},
		{"function locals", Policy{MaxFunctionLocals: 100},
			bomb{funcs: 1, locals: 100}, bomb{funcs: 1, locals: 101}, checkFunctionLocalsLimit,
			[]string{"function 0 declares 101 locals", "above max_function_locals (100)"}},
		{"module locals", Policy{MaxModuleLocals: 300},
			bomb{funcs: 3, locals: 100}, bomb{funcs: 4, locals: 100}, checkModuleLocalsLimit,
			[]string{"functions declare 400 locals in all", "above max_module_locals (300)"}},
		{"br_table targets", Policy{MaxBrTableTargets: 100},
			bomb{funcs: 1, depth: 1, kind: 0x02, brTable: 100}, bomb{funcs: 1, depth: 1, kind: 0x02, brTable: 101}, checkBrTableLimit,
			[]string{"function 0 has a br_table of 101 targets", "above max_br_table_targets (100)"}},
		{"module br_table targets", Policy{MaxModuleBrTableTargets: 200},
			bomb{funcs: 2, depth: 1, kind: 0x02, brTable: 100}, bomb{funcs: 3, depth: 1, kind: 0x02, brTable: 100}, checkModuleBrTableLimit,
			[]string{"br_tables have 300 targets in all", "above max_module_br_table_targets (200)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.p = tt.p
			f.setModules(map[string][]byte{"modules/echo.wasm": tt.within.build()})
			r := f.audit(t)
			if !findCheck(r, expect{tt.id, StatusPass, []string{"modules/echo.wasm"}}) {
				t.Errorf("within the limit: no pass:%s", dump(r))
			}
			f.setModules(map[string][]byte{"modules/echo.wasm": tt.over.build()})
			r = f.audit(t)
			if !findCheck(r, expect{tt.id, StatusFail, append([]string{"modules/echo.wasm"}, tt.words...)}) {
				t.Errorf("over the limit: no failure naming %q:%s", tt.words, dump(r))
			}
			for _, c := range r.Checks {
				if c.CheckID == checkModuleValidation {
					t.Errorf("a module over a compile limit was validated: %s", c.Message)
				}
			}
		})
	}
}

// TestFunctionLocalsCountOverflow is the count-overflow trick: two local
// groups of 2³²−1 i32s each, which a 32-bit sum would wrap to 2³²−2 and a
// decoder would try to allocate. The audit sums in 64 bits, rejects the
// module as over max_function_locals and never hands it to a decoder
// (which would kill the process).
func TestFunctionLocalsCountOverflow(t *testing.T) {
	// (func (local 0xffffffff i32) (local 0xffffffff i32))
	body := "\x02\xff\xff\xff\xff\x0f\x7f\xff\xff\xff\xff\x0f\x7f\x0b"
	data := "\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type () -> ()
		"\x03\x02\x01\x00" + // one function
		"\x0a" + string(rune(len(body)+2)) + "\x01" + string(rune(len(body))) + body
	sh, err := checkBounds([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(2 * 0xffffffff); sh.locals.value != want || sh.totalLocals != want {
		t.Errorf("locals %d, total %d, want %d", sh.locals.value, sh.totalLocals, want)
	}
	f := newFixture()
	f.setModules(map[string][]byte{"modules/evil.wasm": []byte(data)})
	r := f.audit(t)
	if !findCheck(r, expect{checkFunctionLocalsLimit, StatusFail, []string{"function 0 declares 8589934590 locals", "max_function_locals (50000)"}}) {
		t.Errorf("no locals failure:%s", dump(r))
	}
}

// TestMaxFunctionLocalsCapped: a policy cannot raise the per-function
// locals limit past what keeps the decoders' allocation bounded.
func TestMaxFunctionLocalsCapped(t *testing.T) {
	if got := (Policy{MaxFunctionLocals: 1 << 30}).withDefaults().MaxFunctionLocals; got != hardMaxFunctionLocals {
		t.Errorf("MaxFunctionLocals = %d, want %d", got, hardMaxFunctionLocals)
	}
}

// TestDeepNestingRejectedQuickly is the module: 8 MB of nested
// blocks, 25,000+ levels deep in each function, which wazero takes seconds
// to minutes to compile. The audit rejects it without compiling it, in
// time linear in its size.
func TestDeepNestingRejectedQuickly(t *testing.T) {
	for _, b := range []bomb{
		{funcs: 1, depth: 2_700_000, kind: 0x02}, // one function, 8 MB deep
		{funcs: 100, depth: 27_000, kind: 0x03},  // loops, 100 functions 27k deep
	} {
		data := b.build()
		f := newFixture()
		f.setModules(map[string][]byte{"modules/deep.wasm": data})
		start := time.Now()
		r := f.audit(t)
		elapsed := time.Since(start)
		if !findCheck(r, expect{checkControlDepthLimit, StatusFail, []string{"modules/deep.wasm", fmt.Sprintf("nests control instructions %d deep", b.depth)}}) {
			t.Errorf("%d bytes, depth %d: not rejected for its depth:%s", len(data), b.depth, dump(r))
		}
		if elapsed > 5*time.Second {
			t.Errorf("%d bytes, depth %d: audit took %v", len(data), b.depth, elapsed)
		}
		t.Logf("%d bytes, %d functions %d deep: rejected in %v", len(data), b.funcs, b.depth, elapsed)
	}
}

// TestTableMaximum: a table declaring a maximum above max_table_elements
// fails; one without a maximum, or with one within it, passes.
func TestTableMaximum(t *testing.T) {
	max := func(n uint32) *uint32 { return &n }
	tests := []struct {
		name   string
		tables []*wasm.Table
		status Status
		words  []string
	}{
		{"no maximum", []*wasm.Table{{Min: 1, Type: wasm.RefTypeFuncref}}, StatusPass, nil},
		{"maximum at the limit", []*wasm.Table{{Min: 1, Max: max(100_000), Type: wasm.RefTypeFuncref}}, StatusPass, nil},
		{"maximum above the limit", []*wasm.Table{{Min: 1, Max: max(100_001), Type: wasm.RefTypeFuncref}}, StatusFail,
			[]string{"table 0 declares a maximum of 100001 elements", "above max_table_elements (100000)"}},
		{"second table", []*wasm.Table{{Min: 1, Type: wasm.RefTypeFuncref}, {Min: 0, Max: max(0xffffffff), Type: wasm.RefTypeExternref}}, StatusFail,
			[]string{"table 1 declares a maximum of 4294967295 elements"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.setModules(map[string][]byte{"modules/echo.wasm": modSpec{tools: []string{"echo"}, tables: tt.tables}.build()})
			r := f.audit(t)
			if !findCheck(r, expect{checkTableLimit, tt.status, append([]string{"modules/echo.wasm"}, tt.words...)}) {
				t.Errorf("want %s %q:%s", tt.status, tt.words, dump(r))
			}
		})
	}
}
