package instrument

import (
	"strings"
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
			var killed time.Time
			timer := time.AfterFunc(50*time.Millisecond, func() { killed = time.Now(); kill.Set(1) })
			defer timer.Stop()
			res := meter(t, mod, unmetered, fn)
			late := time.Since(killed)
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
