package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

//go:generate sh -c "for f in testdata/abuse/*.wat; do wat2wasm --enable-threads $DOLLAR{f} -o $DOLLAR{f%.wat}.wasm; done"

// abuseModules are the hostile modules of testdata/abuse, each assembled
// from its .wat beside it.
var abuseModules = []string{"atomics", "bulk", "fuel", "init_loop", "start_loop", "tables"}

// TestAbuseWasmMatchesSource re-assembles testdata/abuse/*.wat and
// compares them with the committed .wasm files.
func TestAbuseWasmMatchesSource(t *testing.T) {
	checkWatFixtures(t, "testdata/abuse", abuseModules, "--enable-threads")
}

// checkWatFixtures re-assembles dir/NAME.wat for each name with wat2wasm
// (and flags) and compares the result with the committed dir/NAME.wasm.
func checkWatFixtures(t *testing.T, dir string, names []string, flags ...string) {
	t.Helper()
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it and runs this check")
	}
	for _, name := range names {
		out := filepath.Join(t.TempDir(), name+".wasm")
		args := append(slices.Clone(flags), filepath.Join(dir, name+".wat"), "-o", out)
		if msg, err := exec.Command(wat2wasm, args...).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", name, err, msg)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s.wasm is stale: run go generate ./internal/runtime", dir, name)
		}
	}
}

func abuseWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/abuse/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// abusePlugin makes a plugin of testdata/abuse/name.wasm in r.
func abusePlugin(t testing.TB, r *Runtime, name string, cfg PluginConfig) *Plugin {
	t.Helper()
	return pluginOf(t, r, abuseWasm(t, name), cfg)
}

// bystander is a plugin of the Go test guest in the same runtime, whose
// calls must go on while a hostile guest runs.
func bystander(t *testing.T, r *Runtime) *Plugin {
	t.Helper()
	p := pluginOf(t, r, guestWasm(t), PluginConfig{PoolSize: 1})
	callAfter(t, p, "warm-up")
	return p
}

// stopsInTime calls fn of p and checks that it fails with want (matched
// with errors.Is) no later than limit after the call began, while another
// plugin's calls keep being served.
func stopsInTime(t *testing.T, p, other *Plugin, fn string, want error, limit time.Duration) {
	t.Helper()
	type result struct {
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := p.Call(context.Background(), fn, nil)
		// Timed here, not when the loop below notices: that may be a
		// bystander call later.
		done <- result{err, time.Since(start)}
	}()
	// Meanwhile, the other plugin answers.
	for i := 0; ; i++ {
		select {
		case r := <-done:
			err := r.err
			if r.d > limit {
				t.Errorf("%s stopped after %v, limit %v", fn, r.d, limit)
			}
			if !errors.Is(err, want) {
				t.Errorf("%s: err = %v, want %v", fn, err, want)
			}
			if i == 0 {
				t.Logf("%s ended before another call could be made", fn)
			}
			return
		default:
		}
		cs := time.Now()
		callAfter(t, other, fn+" running")
		if d := time.Since(cs); d > 100*time.Millisecond {
			t.Errorf("a call to another plugin took %v while %s ran", d, fn)
		}
		if time.Since(start) > 4*limit {
			t.Fatalf("%s still running after %v", fn, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slack is how late past its deadline a stopped guest may return: the
// watchdog's tick, the guest's next check, and a loaded CI machine. The
// race detector makes a bulk operation in flight (a 64 MB memory.grow's
// copy) many times slower, so it gets more.
var slack = map[bool]time.Duration{false: 100 * time.Millisecond, true: 2 * time.Second}[raceEnabled]

// TestStartAndInitUnderDeadline: a start function or an _initialize that
// never returns is stopped by the first call's deadline, its caller's
// ctx and Close, and costs fuel like a call.
func TestStartAndInitUnderDeadline(t *testing.T) {
	r := newRuntime(t)
	other := bystander(t, r)
	timeout := 300 * time.Millisecond
	for _, name := range []string{"start_loop", "init_loop"} {
		t.Run(name, func(t *testing.T) {
			p := abusePlugin(t, r, name, PluginConfig{PoolSize: 1, Timeout: timeout})
			stopsInTime(t, p, other, "run", context.DeadlineExceeded, timeout+slack)

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			start := time.Now()
			_, err := p.Call(ctx, "run", nil)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 50*time.Millisecond+slack {
				t.Errorf("with a ctx deadline: %v after %v", err, time.Since(start))
			}

			fp := abusePlugin(t, r, name, PluginConfig{PoolSize: 1, FuelBudget: 100_000})
			_, err = fp.Call(context.Background(), "run", nil)
			if !errors.Is(err, ErrFuelExhausted) || !strings.Contains(err.Error(), "fuel") {
				t.Errorf("with a fuel budget: %v", err)
			}

			// Close, with a call in the start function.
			cp := abusePlugin(t, r, name, PluginConfig{PoolSize: 1})
			errc := make(chan error, 1)
			go func() {
				_, err := cp.Call(context.Background(), "run", nil)
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond)
			ctx, cancel = context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start = time.Now()
			if err := cp.Close(ctx); err != nil {
				t.Fatalf("Close with a guest in its start: %v", err)
			}
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("call stopped by Close: %v", err)
			}
			if d := time.Since(start); d > slack {
				t.Errorf("Close took %v", d)
			}
		})
	}
}

// TestBulkOperationsStop: a loop of 62 MB memory.copy or memory.fill
// costs a few units of fuel an iteration but milliseconds of time; each
// is followed by a check of the kill flag.
func TestBulkOperationsStop(t *testing.T) {
	r := newRuntime(t)
	other := bystander(t, r)
	timeout := 300 * time.Millisecond
	p := abusePlugin(t, r, "bulk", PluginConfig{PoolSize: 1, Timeout: timeout})
	for _, fn := range []string{"copy_loop", "copy100_loop", "fill_loop", "grow_loop"} {
		// A timed-out instance is replaced: touch makes the new one
		// first (instantiating it faults its 62 MB memory in), so that
		// the loop, not the instantiation, is timed. On a loaded machine
		// touch itself can time out: then the instance is replaced, so
		// try again.
		for try := 1; ; try++ {
			_, err := p.Call(context.Background(), "touch", nil)
			if err == nil {
				break
			}
			if !errors.Is(err, context.DeadlineExceeded) || try == 5 {
				t.Fatalf("touch (try %d): %v", try, err)
			}
			t.Logf("touch timed out (try %d)", try)
		}
		stopsInTime(t, p, other, fn, context.DeadlineExceeded, timeout+slack)
	}
	tp := abusePlugin(t, r, "tables", PluginConfig{PoolSize: 1, Timeout: timeout})
	stopsInTime(t, tp, other, "fill_loop", context.DeadlineExceeded, timeout+slack)
}

// TestGrowthStopsWithoutWatchdog: a guest that grows its memory stops at
// its deadline even when the watchdog's goroutine does not run at all,
// the extreme of a watchdog starved by the garbage collections the guest
// provokes: each growth checks the deadline in the guest's own goroutine.
func TestGrowthStopsWithoutWatchdog(t *testing.T) {
	r := newRuntime(t)
	timeout := 200 * time.Millisecond
	p := abusePlugin(t, r, "bulk", PluginConfig{PoolSize: 1, Timeout: timeout})
	if _, err := p.Call(context.Background(), "touch", nil); err != nil {
		t.Fatal(err)
	}
	r.watch.stop()
	// A backstop, so that a guest the check misses fails the test rather
	// than hanging it; its error names no timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := p.Call(ctx, "grow_loop", nil)
	if d := time.Since(start); d > timeout+slack {
		t.Errorf("grow_loop stopped after %v, timeout %v", d, timeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after") {
		t.Errorf("grow_loop: %v, want the plugin's timeout", err)
	}
}

// TestTablesInMemoryQuota: table growth counts in the memory quota, and
// is capped by MaxTableElements.
func TestTablesInMemoryQuota(t *testing.T) {
	r := newRuntime(t)
	var before goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)

	p := abusePlugin(t, r, "tables", PluginConfig{PoolSize: 1, MaxMemoryBytes: 1 << 20, Timeout: 10 * time.Second})
	start := time.Now()
	out, err := p.Call(context.Background(), "run", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc := out; len(rc) != 0 {
		t.Fatalf("output %q", rc)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing ten growths took %v", d)
	}
	var after goruntime.MemStats
	goruntime.ReadMemStats(&after)
	if grown := int64(after.TotalAlloc - before.TotalAlloc); grown > 64<<20 {
		t.Errorf("the host allocated %d MiB for a guest with a 1 MiB quota", grown>>20)
	}

	for _, tc := range []struct {
		cfg  PluginConfig
		want uint64 // from "small": the old size, or -1 refused
	}{
		{PluginConfig{MaxMemoryBytes: 1 << 20}, 0},                                // 8 KB fit
		{PluginConfig{MaxMemoryBytes: 1 << 20, MaxTableElements: 999}, 1<<32 - 1}, // over the element cap
	} {
		p := abusePlugin(t, r, "tables", tc.cfg)
		rc, err := callStatus(p, "small")
		if err != nil || rc != tc.want {
			t.Errorf("small with %+v: %d, %v; want %d", tc.cfg, rc, err, tc.want)
		}
	}
}

// callStatus calls fn and returns its i32 result, which the tables and
// fuel modules return as a status: 0 is success for Extism, anything
// else a GuestError carrying the code.
func callStatus(p *Plugin, fn string) (uint64, error) {
	_, err := p.Call(context.Background(), fn, nil)
	var ge *GuestError
	if errors.As(err, &ge) && ge.Message == "" {
		return uint64(uint32(ge.Code)), nil
	}
	return 0, err
}

// TestFuel: a call reports the fuel it consumed, by wasmtime's rules, the
// same every time and on every instance; running out traps with an error
// that says so, and the next call gets a full budget.
func TestFuel(t *testing.T) {
	r := newRuntime(t)
	p := abusePlugin(t, r, "fuel", PluginConfig{PoolSize: 1, FuelBudget: 1_000_000})
	for _, tc := range []struct {
		fn   string
		want uint64
	}{
		{"const", 2},
		{"loop", 5004},
	} {
		for i := range 3 {
			_, info, err := p.CallInfo(context.Background(), tc.fn, nil)
			if err != nil || info.Fuel != tc.want {
				t.Errorf("%s (call %d): fuel %d, %v; want %d", tc.fn, i, info.Fuel, err, tc.want)
			}
		}
	}
	// Fuel is checked, as in wasmtime, on function entry and at loop
	// headers, and runs out when the fuel used reaches the budget there:
	// loop's last header comes at 3 + 999×5 = 4998 units.
	// const's only check is its entry, at 1 unit.
	for _, tc := range []struct {
		fn     string
		budget uint64
		ok     bool
	}{{"loop", 4999, true}, {"loop", 4998, false}, {"const", 2, true}, {"const", 1, false}} {
		p := abusePlugin(t, r, "fuel", PluginConfig{PoolSize: 1, FuelBudget: tc.budget})
		_, err := p.Call(context.Background(), tc.fn, nil)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrFuelExhausted)) {
			t.Errorf("%s with budget %d: %v", tc.fn, tc.budget, err)
		}
	}

	_, info, err := p.CallInfo(context.Background(), "spin", nil)
	var te *TrapError
	if !errors.As(err, &te) || !errors.Is(err, ErrFuelExhausted) || !strings.Contains(err.Error(), "fuel") {
		t.Fatalf("spin: %v", err)
	}
	if info.Fuel < 1_000_000 {
		t.Errorf("spin ran out having used %d of 1,000,000", info.Fuel)
	}
	if _, info, err := p.CallInfo(context.Background(), "loop", nil); err != nil || info.Fuel != 5004 {
		t.Errorf("loop after running out: %d, %v", info.Fuel, err)
	}
}

// TestFuelGoGuest: a Go guest's compute-bound function costs the same
// fuel on every call and on every instance; the Go runtime's
// initialisation is not part of any call's count.
func TestFuelGoGuest(t *testing.T) {
	r := newRuntime(t)
	var first uint64
	for i := range 2 {
		p := pluginOf(t, r, guestWasm(t), PluginConfig{PoolSize: 1, FuelBudget: 1 << 40})
		for j := range 3 {
			_, info, err := p.CallInfo(context.Background(), "work", nil)
			if err != nil {
				t.Fatal(err)
			}
			if first == 0 {
				first = info.Fuel
				t.Logf("work: %d fuel", first)
			}
			if info.Fuel != first || info.Fuel < 1_000_000 {
				t.Errorf("plugin %d call %d: %d fuel, first call %d", i, j, info.Fuel, first)
			}
		}
	}
	// A budget too small for the Go runtime's initialisation fails the
	// first call, saying so.
	p := pluginOf(t, r, guestWasm(t), PluginConfig{PoolSize: 1, FuelBudget: 1000})
	if _, err := p.Call(context.Background(), "noop", nil); !errors.Is(err, ErrFuelExhausted) || !strings.Contains(err.Error(), "initialisation") {
		t.Errorf("noop with 1,000 fuel: %v", err)
	}
}

// TestNoThreads: a guest cannot block in memory.atomic.wait, where no
// kill flag would reach it: modules using threads do not compile.
func TestNoThreads(t *testing.T) {
	r := newRuntime(t)
	if _, err := r.Compile(context.Background(), abuseWasm(t, "atomics")); err == nil {
		t.Fatal("a module waiting on a shared memory compiled")
	}
}
