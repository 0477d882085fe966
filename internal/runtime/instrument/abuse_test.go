package instrument

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// abuseWat has functions that never return, each spending its time where
// fuel does not see it, or in a start function.
const abuseWat = `(module
  (memory 1000) ;; 64 MB
  (table 0 funcref)
  (func (export "warm") (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536000)))
  (func (export "spin") (loop (br 0)))
  (func (export "copy")
    (loop (memory.copy (i32.const 0) (i32.const 1) (i32.const 62000000)) (br 0)))
  (func (export "fill")
    (loop (memory.fill (i32.const 0) (i32.const 7) (i32.const 64000000)) (br 0)))
  (func (export "grow")
    (loop
      (drop (table.grow 0 (ref.null func) (i32.const 1000000)))
      (table.fill 0 (i32.const 0) (ref.null func) (table.size 0))
      (br 0)))
  (func $start (loop (br 0)))
  (start $start))`

// killAfter sets kill from another goroutine after d, as a host's
// watchdog does, and returns a function that waits until it has and
// returns when (any number of times). The guest sees the flag in compiled
// code, which orders nothing for the race detector: waiting orders the
// setting goroutine's writes before the test's next reads and writes of
// the global, so defer it.
func killAfter(kill api.MutableGlobal, d time.Duration) (when func() time.Time) {
	set := make(chan time.Time, 1)
	time.AfterFunc(d, func() {
		now := time.Now()
		kill.Set(1)
		set <- now
	})
	return sync.OnceValue(func() time.Time { return <-set })
}

// TestKillBulk stops guests that loop over long operations, and a start
// function, by setting the kill flag from another goroutine.
func TestKillBulk(t *testing.T) {
	wasm := mustInstrument(t, assemble(t, abuseWat))
	r := newRuntime(t)
	mod := instantiate(t, r, wasm) // the start function is not run here
	_, _, kill := fuelGlobals(t, mod)
	mod.ExportedGlobal(TableLimitGlobal).(api.MutableGlobal).Set(10_000_000)
	// The first touch of the memory's pages takes a while (some 5 ms a
	// MB here), once, and no instruction boundary is inside it.
	if res := meter(t, mod, unmetered, "warm"); res.err != nil {
		t.Fatal(res.err)
	}
	for _, fn := range []string{"spin", "copy", "fill", "grow", StartExport} {
		t.Run(fn, func(t *testing.T) {
			kill.Set(0)
			killed := killAfter(kill, 50*time.Millisecond)
			defer killed()
			res := meter(t, mod, unmetered, fn)
			end := time.Now()
			late := end.Sub(killed())
			if res.err == nil || !strings.Contains(res.err.Error(), "unreachable") {
				t.Fatalf("err = %v, want an unreachable trap", res.err)
			}
			if res.exhausted {
				t.Error("killed, but the globals show no fuel left")
			}
			t.Logf("stopped %v after the kill flag was set", late)
			if late > time.Second {
				t.Errorf("stopped %v after the kill flag was set", late)
			}
		})
	}
}

// TestTableLimit checks table.grow against TableLimitGlobal and the count
// in TableElemsGlobal.
func TestTableLimit(t *testing.T) {
	wasm := mustInstrument(t, assemble(t, `(module
  (table $a 3 funcref)
  (table $b 2 externref)
  (func (export "grow_a") (param i32) (result i32) (table.grow $a (ref.null func) (local.get 0)))
  (func (export "grow_b") (param i32) (result i32) (table.grow $b (ref.null extern) (local.get 0)))
  (func (export "size_a") (result i32) (table.size $a)))`))
	r := newRuntime(t)
	mod := instantiate(t, r, wasm)
	elems := mod.ExportedGlobal(TableElemsGlobal)
	limit := mod.ExportedGlobal(TableLimitGlobal).(api.MutableGlobal)
	if got := elems.Get(); got != 5 {
		t.Fatalf("table elements at start = %d, want 5", got)
	}
	grow := func(fn string, delta uint32) int32 {
		res := meter(t, mod, unmetered, fn, uint64(delta))
		if res.err != nil {
			t.Fatal(res.err)
		}
		return int32(res.results[0])
	}
	if got := grow("grow_a", 1); got != -1 || elems.Get() != 5 {
		t.Errorf("grow past the limit (0): %d, elements %d", got, elems.Get())
	}
	limit.Set(20)
	if got := grow("grow_a", 10); got != 3 || elems.Get() != 15 {
		t.Errorf("grow within the limit: %d, elements %d", got, elems.Get())
	}
	if got := grow("grow_b", 6); got != -1 || elems.Get() != 15 {
		t.Errorf("grow past the limit: %d, elements %d", got, elems.Get())
	}
	if got := grow("grow_b", 5); got != 2 || elems.Get() != 20 {
		t.Errorf("grow up to the limit: %d, elements %d", got, elems.Get())
	}
	if got := grow("grow_a", 0xffffffff); got != -1 || elems.Get() != 20 {
		t.Errorf("grow by 2^32-1: %d, elements %d", got, elems.Get())
	}
	if got := meter(t, mod, unmetered, "size_a").results[0]; got != 13 {
		t.Errorf("table $a has %d elements, want 13", got)
	}
}

// bulkGCWat loops over bulk operations of every kind, each iteration a
// few units of fuel and milliseconds of memmove.
var bulkGCWat = `(module
  (memory 1000) ;; 64 MB
  (table $t 1000000 funcref) ;; 8 MB
  (table $u 1000000 funcref)
  (data $seg "` + strings.Repeat("x", 1<<20) + `")
  (func (export "warm")
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536000))
    (table.fill $t (i32.const 0) (ref.null func) (i32.const 1000000))
    (table.fill $u (i32.const 0) (ref.null func) (i32.const 1000000)))
  (func (export "spin") (loop (br 0)))
  (func (export "memory.copy")
    (loop (memory.copy (i32.const 0) (i32.const 1) (i32.const 62000000)) (br 0)))
  (func (export "memory.fill")
    (loop (memory.fill (i32.const 0) (i32.const 7) (i32.const 64000000)) (br 0)))
  (func (export "memory.init")
    (loop (memory.init $seg (i32.const 0) (i32.const 0) (i32.const 1048576)) (br 0)))
  (func (export "table.fill")
    (loop (table.fill $t (i32.const 0) (ref.null func) (i32.const 1000000)) (br 0)))
  (func (export "table.copy")
    (loop (table.copy $t $u (i32.const 0) (i32.const 0) (i32.const 1000000)) (br 0))))`

// bulkGCChild is set in the environment of the process
// TestBulkGarbageCollector runs its guests in.
const bulkGCChild = "PALYRA_INSTRUMENT_BULK_GC_CHILD"

// TestBulkGarbageCollector runs loops of long bulk operations while other
// goroutines allocate and collect garbage: the guest must leave compiled
// code often enough for the collector to stop the world, or the process
// deadlocks (with the goroutine that would set the kill flag). A deadlock
// stops every goroutine, timers included, so the guests run in a child
// process, which the test kills (with SIGQUIT, for its stacks) when it
// does not finish in time.
func TestBulkGarbageCollector(t *testing.T) {
	if os.Getenv(bulkGCChild) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBulkGarbageCollector$", "-test.v")
		cmd.Env = append(os.Environ(), bulkGCChild+"=1")
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("the child process hung (deadlocked?) and was killed: %v\n%s", err, out)
		}
		if err != nil {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		t.Logf("child process:\n%s", out)
		return
	}

	wasm := mustInstrument(t, assemble(t, bulkGCWat))
	r := newRuntime(t)
	mod := instantiate(t, r, wasm)
	fuel, reserve, kill := fuelGlobals(t, mod)
	if res := meter(t, mod, unmetered, "warm"); res.err != nil {
		t.Fatal(res.err)
	}

	stop := make(chan struct{})
	defer close(stop)
	go func() { // allocates, for the collector to start by itself too
		var sink [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 256 {
				sink = sink[:0]
			}
		}
	}()

	for _, fn := range []string{"spin", "memory.copy", "memory.fill", "memory.init", "table.fill", "table.copy"} {
		t.Run(fn, func(t *testing.T) {
			kill.Set(0)
			f, rs := Split(unmetered)
			fuel.Set(uint64(f))
			reserve.Set(uint64(rs))
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(fn).Call(context.Background())
				done <- err
			}()
			killed := killAfter(kill, 100*time.Millisecond)
			defer killed()
			var gcs int
			var slowest time.Duration
			for {
				select {
				case err := <-done:
					late := time.Since(killed())
					if err == nil || !strings.Contains(err.Error(), "unreachable") {
						t.Fatalf("err = %v, want an unreachable trap", err)
					}
					t.Logf("%d collections, the slowest %v; stopped %v after the kill flag was set", gcs, slowest, late)
					if late > time.Second {
						t.Errorf("stopped %v after the kill flag was set", late)
					}
					if slowest > 2*time.Second {
						t.Errorf("a collection took %v", slowest)
					}
					return
				default:
				}
				start := time.Now()
				runtime.GC()
				slowest = max(slowest, time.Since(start))
				gcs++
			}
		})
	}
}
