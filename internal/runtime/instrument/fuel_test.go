package instrument

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// unmetered is the budget of a call the tests do not meter.
const unmetered = MaxBudget

// assemble returns the module wat2wasm makes of src, or skips the test
// when wat2wasm is not installed.
func assemble(t testing.TB, src string) []byte {
	t.Helper()
	return wat2wasm(t, src, "--enable-threads")
}

// assembleUnchecked assembles src without validating it, for modules
// that are invalid on purpose.
func assembleUnchecked(t testing.TB, src string) []byte {
	t.Helper()
	return wat2wasm(t, src, "--no-check")
}

func wat2wasm(t testing.TB, src, flag string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, flag, "--enable-tail-call", "--enable-function-references", in, "-o", out)
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
	if !Exhausted(0, -1) || !Exhausted(5, -1) || Exhausted(0, 0) || Exhausted(5, 0) || Exhausted(0, 1) {
		t.Error("Exhausted")
	}
	_ = errors.New
}

// TestOutOfRange refuses modules that refer to indices past their own:
// they would reach the locals, globals and functions Instrument adds (the
// fuel counter, $refill).
func TestOutOfRange(t *testing.T) {
	if _, err := Instrument(assembleUnchecked(t, `(module (func (param i32) (local i64) (local.set 1 (i64.const 0))))`)); err != nil {
		t.Fatalf("valid module refused: %v", err)
	}
	for name, src := range map[string]string{
		"local.get":       `(module (func (param i32) (local i64) (drop (local.get 2))))`,
		"local.set":       `(module (func (param i32) (local.set 1 (i64.const -5))))`,
		"local.tee":       `(module (func (drop (local.tee 0 (i64.const -5)))))`,
		"global.get":      `(module (global i32 (i32.const 0)) (func (drop (global.get 1))))`,
		"global.set":      `(module (func (global.set 1 (i64.const -5))))`,
		"call":            `(module (func (call 1 (i64.const 0)) (drop)))`,
		"return_call":     `(module (func (return_call 1)))`,
		"ref.func":        `(module (func (drop (ref.func 1))))`,
		"table.grow":      `(module (func (drop (table.grow 0 (ref.null func) (i32.const 1)))))`,
		"export func":     `(module (func) (export "f" (func 1)))`,
		"export global":   `(module (func) (export "g" (global 0)))`,
		"export memory":   `(module (func) (export "m" (memory 0)))`,
		"export table":    `(module (func) (export "t" (table 0)))`,
		"start":           `(module (func) (start 1))`,
		"elem":            `(module (table 2 funcref) (func) (elem (i32.const 0) func 0 1))`,
		"elem expr":       `(module (table 2 funcref) (func) (elem (i32.const 0) funcref (ref.func 1)))`,
		"declared elem":   `(module (func) (elem declare func 1))`,
		"global init":     `(module (func) (global funcref (ref.func 1)))`,
		"data offset":     `(module (memory 1) (func) (data (offset (global.get 0)) "x"))`,
		"reserved export": `(module (func) (export "palyra.start" (func 0)))`,
		"reserved prefix": `(module (func) (export "palyra.anything" (func 0)))`,
		"kill export":     `(module (func) (export "palyra.kill" (func 0)))`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Instrument(assembleUnchecked(t, src)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// budgetCase is a call of testdata/budget.wat with a budget, and what
// wasmtime makes of it.
type budgetCase struct {
	Func      string   `json:"func"`
	Params    []uint64 `json:"params"`
	Budget    uint64   `json:"budget"`
	Consumed  uint64   `json:"consumed"`
	OutOfFuel bool     `json:"out_of_fuel"`
	Trap      bool     `json:"trap"` // another trap than running out of fuel
}

// TestBudget runs the calls of testdata/budget.json, each on a fresh
// instance, and checks the fuel consumed and whether it ran out.
func TestBudget(t *testing.T) {
	b, err := os.ReadFile("testdata/budget.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []budgetCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	wasm := mustInstrument(t, assemble(t, readFile(t, "testdata/budget.wat")))
	r := newRuntime(t)
	for _, c := range cases {
		mod := instantiate(t, r, wasm)
		res := meter(t, mod, c.Budget, c.Func, c.Params...)
		if res.consumed != c.Consumed || res.exhausted != c.OutOfFuel || (res.err != nil) != (c.OutOfFuel || c.Trap) {
			t.Errorf("%s%v with budget %d: consumed %d, out of fuel %v, err %v; want %d, %v, trap %v",
				c.Func, c.Params, c.Budget, res.consumed, res.exhausted, res.err, c.Consumed, c.OutOfFuel, c.Trap)
		}
		mod.Close(context.Background())
	}
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
