package instrument

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/palyra/palyra-go/internal/runtime/kernel"
	"github.com/palyra/palyra-go/internal/testguest"
)

//go:generate wat2wasm --enable-threads --enable-tail-call testdata/ops.wat -o testdata/ops.wasm

// TestWasmMatchesSource re-assembles testdata/ops.wat and compares it with
// the committed ops.wasm.
func TestWasmMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it and runs this check")
	}
	out := filepath.Join(t.TempDir(), "ops.wasm")
	cmd := exec.Command(wat2wasm, "--enable-threads", "--enable-tail-call", "testdata/ops.wat", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, opsWasm(t)) {
		t.Fatal("testdata/ops.wasm is stale: run go generate ./internal/runtime/instrument")
	}
}

func opsWasm(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/ops.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newRuntime is a wazero runtime without wazero's own termination checks,
// as palyra's, with ops.wasm's imports.
func newRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads|experimental.CoreFeaturesTailCall))
	t.Cleanup(func() { r.Close(ctx) })
	_, err := r.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(a, b uint32) uint32 { return a + b }).Export("add").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// instantiate instantiates wasm with an "env" module providing base.
func instantiate(t testing.TB, r wazero.Runtime, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	// A global can only be exported by a Wasm module.
	if r.Module("envg") == nil {
		envGlobal := []byte{
			0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
			0x06, 0x06, 0x01, 0x7f, 0x00, 0x41, 0x07, 0x0b, // global i32 = 7
			0x07, 0x08, 0x01, 0x04, 'b', 'a', 's', 'e', 0x03, 0x00, // export "base"
		}
		if _, err := r.InstantiateWithConfig(ctx, envGlobal, wazero.NewModuleConfig().WithName("envg")); err != nil {
			t.Fatal(err)
		}
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return mod
}

func mustInstrument(t testing.TB, wasm []byte) []byte {
	t.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func call(t testing.TB, mod api.Module, name string, params ...uint64) uint64 {
	t.Helper()
	res, err := mod.ExportedFunction(name).Call(context.Background(), params...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

// TestSameResults runs every export of ops.wasm that terminates, before
// and after instrumentation: a misread instruction would make the module
// invalid or change a result.
func TestSameResults(t *testing.T) {
	orig := opsWasm(t)
	inst := mustInstrument(t, orig)
	r := newRuntime(t)
	a, b := instantiate(t, r, orig), instantiate(t, r, inst)
	b.ExportedGlobal(TableLimitGlobal).(api.MutableGlobal).Set(1 << 20)
	for _, tc := range []struct {
		fn    string
		param uint64
	}{
		{"sum", 0}, {"sum", 1}, {"sum", 5000},
		{"fib", 0}, {"fib", 1}, {"fib", 20},
		{"count", 3}, {"count", 100000},
		{"ops", 0}, {"ops", 1}, {"ops", 2}, {"ops", 3}, {"ops", 999},
	} {
		want := call(t, a, tc.fn, tc.param)
		res := meter(t, b, unmetered, tc.fn, tc.param)
		if res.err != nil {
			t.Fatalf("%s(%d) instrumented: %v", tc.fn, tc.param, res.err)
		}
		if got := res.results[0]; got != want {
			t.Errorf("%s(%d) = %d instrumented, %d before", tc.fn, tc.param, got, want)
		}
	}
	if g := b.ExportedGlobal(KillGlobal); g == nil || g.Get() != 0 {
		t.Errorf("kill global: %v", g)
	}
}

// TestKill stops each kind of endless guest by setting the kill global
// from another goroutine.
func TestKill(t *testing.T) {
	r := newRuntime(t)
	mod := instantiate(t, r, mustInstrument(t, opsWasm(t)))
	fuel, reserve, kill := fuelGlobals(t, mod)
	for _, tc := range []struct {
		fn    string
		param uint64
	}{
		{"spin", 0},
		{"spin_nested", 0},
		{"fib", 60},           // recursion: function entries
		{"count", 0xffffffff}, // tail calls
		{"sum", 0xffffffff},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			kill.Set(0)
			f, r := Split(unmetered)
			fuel.Set(uint64(f))
			reserve.Set(uint64(r))
			killed := killAfter(kill, 20*time.Millisecond)
			defer killed()
			start := time.Now()
			var params []uint64
			if len(mod.ExportedFunction(tc.fn).Definition().ParamTypes()) > 0 {
				params = []uint64{tc.param}
			}
			_, err := mod.ExportedFunction(tc.fn).Call(context.Background(), params...)
			if err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Fatalf("err = %v, want an unreachable trap", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stopped after %v", d)
			}
		})
	}
}

// TestGarbageCollectorRuns runs the garbage collector while a guest
// spins: $check's exit to Go is where the goroutine can be preempted;
// without it the collector would wait for the guest forever.
func TestGarbageCollectorRuns(t *testing.T) {
	r := newRuntime(t)
	mod := instantiate(t, r, mustInstrument(t, opsWasm(t)))
	_, _, kill := fuelGlobals(t, mod)
	done := make(chan error, 1)
	go func() { done <- meter(t, mod, unmetered, "spin").err }()
	time.Sleep(10 * time.Millisecond)
	for range 5 {
		runtime.GC()
	}
	kill.Set(1)
	if err := <-done; err == nil {
		t.Fatal("spin returned without error")
	}
}

// TestModules instruments real modules, from several languages and
// toolchains, and checks wazero accepts the result with the same exports.
func TestModules(t *testing.T) {
	mods := map[string][]byte{
		"ops":        opsWasm(t),
		"testguest":  testguest.Build(t, "../testdata/guest"),
		"empty":      {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		"no-memory":  noMemoryModule,
		"no-globals": {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b},
	}
	if dir := goSDKDir(t); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "wasm", "*.wasm"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			mods["go-sdk/"+filepath.Base(f)] = b
		}
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads|experimental.CoreFeaturesTailCall))
	defer r.Close(ctx)
	for name, wasm := range mods {
		t.Run(name, func(t *testing.T) {
			orig, err := r.CompileModule(ctx, wasm)
			if err != nil {
				t.Skipf("wazero refuses the module itself: %v", err)
			}
			out, err := Instrument(wasm)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("instrumented module is invalid: %v", err)
			}
			for fn, def := range orig.ExportedFunctions() {
				got, ok := inst.ExportedFunctions()[fn]
				if !ok || got.Index() != def.Index() || len(got.ParamTypes()) != len(def.ParamTypes()) {
					t.Errorf("export %s changed", fn)
				}
			}
			if len(inst.ExportedFunctions()) != len(orig.ExportedFunctions()) {
				t.Errorf("%d exported functions, want %d", len(inst.ExportedFunctions()), len(orig.ExportedFunctions()))
			}
			if again, err := Instrument(wasm); err != nil || !bytes.Equal(again, out) {
				t.Error("not deterministic")
			}
		})
	}
}

// noMemoryModule has no memory: Instrument gives it an empty one.
// (func (export "f") (result i32) (loop) (i32.const 1))
var noMemoryModule = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
	0x03, 0x02, 0x01, 0x00,
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00,
	0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0b, 0x41, 0x01, 0x0b,
}

func TestNoMemoryRuns(t *testing.T) {
	r := newRuntime(t)
	mod := instantiate(t, r, mustInstrument(t, noMemoryModule))
	if got := meter(t, mod, unmetered, "f").results[0]; got != 1 {
		t.Fatalf("f() = %d", got)
	}
}

func TestInvalid(t *testing.T) {
	ops := opsWasm(t)
	withExport := func(name string) []byte {
		// (module (func) (export NAME (func 0)))
		b := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
			0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00}
		e := appendName([]byte{0x01}, name)
		e = append(e, 0x00, 0x00)
		b = append(append(append(b, 0x07), appendU32(nil, uint32(len(e)))...), e...)
		return append(b, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b)
	}
	if _, err := Instrument(withExport("f")); err != nil {
		t.Fatalf("valid module refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"empty", nil},
		{"not wasm", []byte("\x7fELF\x02\x01\x01\x00")},
		{"version 2", []byte{0x00, 'a', 's', 'm', 0x02, 0x00, 0x00, 0x00}},
		{"truncated", ops[:len(ops)/2]},
		{"section too long", append(bytes.Clone(ops[:8]), 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"sections out of order", []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x01, 0x01, 0x00}},
		{"unknown opcode", bytes.Replace(withExport("f"), []byte{0x02, 0x00, 0x0b}, []byte{0x02, 0x00, 0xff}, 1)},
		{"reserved export", withExport(KillGlobal)},
		{"body without end", bytes.Replace(withExport("f"), []byte{0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b}, []byte{0x0a, 0x04, 0x01, 0x02, 0x00, 0x01}, 1)},
		{"long LEB", append(bytes.Clone(ops[:8]), 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)},
		// (module (memory i64 1)): bulk operations would take i64 lengths.
		{"memory64", append(bytes.Clone(ops[:8]), 0x05, 0x03, 0x01, 0x04, 0x01)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Instrument(tc.wasm); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// FuzzInstrument checks that no input makes Instrument panic, that a
// module wazero accepts stays one it accepts once instrumented, and that
// running its exports with a small budget consumes no more than the
// budget, never less than nothing.
func FuzzInstrument(f *testing.F) {
	f.Add(opsWasm(f))
	f.Add(kernel.Wasm)
	f.Add(noMemoryModule)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { r.Close(ctx) })
	compile := func(wasm []byte) (wazero.CompiledModule, error) {
		return r.CompileModule(ctx, wasm)
	}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm)
		if err != nil {
			return
		}
		if len(out) < len(header) {
			t.Fatal("short output")
		}
		c, err := compile(wasm)
		if err != nil {
			return
		}
		c.Close(ctx)
		c, err = compile(out)
		if err != nil {
			t.Fatalf("a valid module became invalid: %v", err)
		}
		defer c.Close(ctx)
		if len(c.ImportedFunctions()) > 0 || len(c.ImportedMemories()) > 0 {
			return
		}
		mod, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			return
		}
		defer mod.Close(ctx)
		const budget = 10000
		fuel, reserve, _ := fuelGlobals(t, mod)
		for name, def := range c.ExportedFunctions() {
			if len(def.ParamTypes()) > 0 {
				continue
			}
			fv, rv := Split(budget)
			fuel.Set(uint64(fv))
			reserve.Set(uint64(rv))
			_, _ = mod.ExportedFunction(name).Call(ctx)
			if left := int64(reserve.Get()) - int64(fuel.Get()); left > budget {
				t.Fatalf("%s: %d fuel left of %d", name, left, budget)
			}
		}
	})
}

func goSDKDir(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk").Output()
	if err != nil {
		t.Logf("locating extism/go-sdk: %v", err)
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestVersion pins Instrument's output for ops.wasm to Version: hosts
// cache instrumented modules keyed by Version, so a change to the output
// must come with a new Version (and a new digest here).
func TestVersion(t *testing.T) {
	const want = "3ac2966d594e102a3d9b08eb41cd8f80329172ff4040678d8382d8050a8f29d7"
	out, err := Instrument(opsWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out)
	if got := hex.EncodeToString(sum[:]); Version != 6 || got != want {
		t.Errorf("Instrument's output for ops.wasm has sha256 %s at Version %d; want %s at Version 6: if the output changed on purpose, increment Version and update both", got, Version, want)
	}
}
