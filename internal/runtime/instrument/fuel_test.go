package instrument

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// unmetered is the budget of a call the tests do not meter.
const unmetered = MaxBudget

// assemble returns the module wat2wasm makes of src, or skips the test
// when wat2wasm is not installed.
func assemble(t testing.TB, src string) []byte {
	t.Helper()
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wat2wasm, "--enable-threads", "--enable-tail-call", "--enable-function-references", in, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s\n%s", err, msg, src)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// result is what a metered call left.
type result struct {
	results   []uint64
	err       error
	consumed  uint64
	exhausted bool // the globals show the fuel ran out
}

// globals returns the instrumented module's exported globals.
func fuelGlobals(t testing.TB, mod api.Module) (fuel, reserve, kill api.MutableGlobal) {
	t.Helper()
	var ok [3]bool
	fuel, ok[0] = mod.ExportedGlobal(FuelGlobal).(api.MutableGlobal)
	reserve, ok[1] = mod.ExportedGlobal(ReserveGlobal).(api.MutableGlobal)
	kill, ok[2] = mod.ExportedGlobal(KillGlobal).(api.MutableGlobal)
	if ok != [3]bool{true, true, true} {
		t.Fatalf("exported globals missing: %v", ok)
	}
	return fuel, reserve, kill
}

// meter calls fn with the given budget as a host does: it sets the fuel
// globals, calls, and reads them back.
func meter(t testing.TB, mod api.Module, budget uint64, fn string, params ...uint64) result {
	t.Helper()
	fuel, reserve, _ := fuelGlobals(t, mod)
	f, r := Split(budget)
	fuel.Set(uint64(f))
	reserve.Set(uint64(r))
	e := mod.ExportedFunction(fn)
	if e == nil {
		t.Fatalf("no export %q", fn)
	}
	res, err := e.Call(context.Background(), params...)
	f, r = int64(fuel.Get()), int64(reserve.Get())
	if r-f > int64(min(budget, MaxBudget)) {
		t.Fatalf("%s: more fuel left (%d) than the budget %d", fn, r-f, budget)
	}
	return result{res, err, Consumed(budget, f, r), err != nil && Exhausted(f, r)}
}

// wastCases returns the (assert_fuel N (module ...)) cases of a .wast
// file: each N and the module's text.
func wastCases(t testing.TB, path string) (fuel []uint64, modules []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	// Top-level s-expressions, skipping ;; comments.
	depth, start := 0, -1
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == ';' && i+1 < len(src) && src[i+1] == ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '(':
			if depth == 0 {
				start = i
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				form := strings.TrimSpace(src[start+1 : i])
				rest, ok := strings.CutPrefix(form, "assert_fuel")
				if !ok {
					t.Fatalf("unknown form %.40q", form)
				}
				rest = strings.TrimSpace(rest)
				num, mod, _ := strings.Cut(rest, "\n")
				if j := strings.IndexByte(rest, ' '); j >= 0 && (strings.IndexByte(rest, '\n') < 0 || j < strings.IndexByte(rest, '\n')) {
					num, mod = rest[:j], rest[j+1:]
				}
				num = strings.TrimSpace(strings.SplitN(num, ";;", 2)[0])
				n, err := strconv.ParseUint(num, 10, 64)
				if err != nil {
					t.Fatalf("assert_fuel count %q: %v", num, err)
				}
				fuel = append(fuel, n)
				modules = append(modules, strings.TrimSpace(mod))
			}
		}
	}
	return fuel, modules
}

// TestFuelWast runs the cases of wasmtime's tests/all/fuel.wast: the
// module's start function must consume the fuel wasmtime says.
func TestFuelWast(t *testing.T) {
	want, modules := wastCases(t, "testdata/fuel.wast")
	if len(want) < 20 {
		t.Fatalf("%d cases read from fuel.wast", len(want))
	}
	r := newRuntime(t)
	for i, src := range modules {
		mod := instantiate(t, r, mustInstrument(t, assemble(t, src)))
		var got uint64
		if mod.ExportedFunction(StartExport) != nil {
			got = meter(t, mod, unmetered, StartExport).consumed
		}
		if got != want[i] {
			t.Errorf("case %d: consumed %d, wasmtime %d\n%s", i, got, want[i], src)
		}
	}
}

// TestConsumedSplit checks Split and Consumed against each other.
func TestConsumedSplit(t *testing.T) {
	for _, b := range []uint64{0, 1, FuelSlice - 1, FuelSlice, FuelSlice + 1, 1 << 40, MaxBudget, 1<<64 - 1} {
		f, r := Split(b)
		if got := Consumed(b, f, r); got != 0 {
			t.Errorf("Consumed(%d) right after Split = %d", b, got)
		}
		if f > 0 || r < 0 || -f > FuelSlice {
			t.Errorf("Split(%d) = %d, %d", b, f, r)
		}
	}
	if !Exhausted(0, 0) || !Exhausted(5, 0) || Exhausted(-1, 0) || Exhausted(0, 1) {
		t.Error("Exhausted")
	}
	_ = errors.New
}

// runtimeOnly is a compile-time check that the config used here is what
// the package tests use everywhere: no close on context done.
var _ = wazero.NewRuntimeConfig
