package fueloracle

import (
	"math"
	"strings"
	"testing"
)

// These are the cases the oracle pins and TestMatchesPalyra compares with
// palyra's runtime: modules, the export each calls, and the inputs of a
// sequence of calls on one instance (so that warm calls are covered too).

// callCase is a sequence of calls of one export on one fresh instance.
type callCase struct {
	name   string
	wasm   func(testing.TB) []byte
	export string
	inputs []string
	opts   Options
	// fuel is the fuel of each call, as wasmtime counts it; nil when the
	// numbers depend on the toolchain (the Go guest, built by the Go in
	// use): then they are checked against palyra and for determinism only.
	fuel []uint64
}

// bigBudget is the budget of calls that are not about running out.
const bigBudget = math.MaxInt64

// wastExport turns a fuel.wast module into one that exports its start
// function as "run" instead of running it at instantiation: a call of
// "run" consumes the case's fuel. ok is false for a module with no start.
func wastExport(wat string) (string, bool) {
	const start = "(start $f)"
	if !strings.Contains(wat, start) {
		return "", false
	}
	return strings.Replace(wat, start, `(export "run" (func $f))`, 1), true
}

// boundaryWat is the out-of-fuel boundary module: "loop" is fuel.wast's
// ten-iteration loop (53 fuel), "straight" is straight-line code (11),
// "calls" calls an empty function four times (9).
const boundaryWat = `(module
  (func (export "loop")
    (local i32)
    i32.const 10
    local.set 0
    loop
      local.get 0
      i32.const 1
      i32.sub
      local.tee 0
      br_if 0
    end)
  (func (export "straight")
    i32.const 1 drop i32.const 1 drop i32.const 1 drop i32.const 1 drop i32.const 1 drop
    i32.const 1 drop i32.const 1 drop i32.const 1 drop i32.const 1 drop i32.const 1 drop)
  (func $g)
  (func (export "calls") call $g call $g call $g call $g))`

// boundaryCase is one call of boundaryWat under a budget and what
// wasmtime does: whether it runs out, and the fuel it reports consumed.
type boundaryCase struct {
	export    string
	budget    uint64
	outOfFuel bool
	fuel      uint64
}

// boundaryCases pin wasmtime's out-of-fuel rule. wasmtime checks fuel only
// at function entry (after charging the function's 1) and at loop headers
// (after charging the code before the loop), and traps when the fuel
// consumed so far is >= the budget there. Between checks a call can run
// past its budget and complete. The fuel reported consumed is budget -
// remaining, and remaining saturates at 0, so it is min(actual, budget)
// whether or not the call trapped.
var boundaryCases = []boundaryCase{
	// loop's checks see 1 (entry), then 3, 8, …, 48 (the ten loop headers);
	// it completes with 53.
	{"loop", 0, true, 0},
	{"loop", 1, true, 1},
	{"loop", 2, true, 2},
	{"loop", 3, true, 3},
	{"loop", 4, true, 4},
	{"loop", 47, true, 47},
	{"loop", 48, true, 48},  // the last loop header sees 48 >= 48
	{"loop", 49, false, 49}, // completes past its budget: reported 49, not 53
	{"loop", 52, false, 52},
	{"loop", 53, false, 53},
	{"loop", 54, false, 53},
	{"loop", 1000, false, 53},
	// straight's only check is its entry, at 1.
	{"straight", 1, true, 1},
	{"straight", 2, false, 2}, // actual 11
	{"straight", 11, false, 11},
	{"straight", 12, false, 11},
	// calls' checks see 1, 3, 5, 7, 9 (each call costs 1, each entry 1).
	{"calls", 8, true, 8},
	{"calls", 9, true, 9}, // consumes exactly 9, yet traps: the last entry check sees 9 >= 9
	{"calls", 10, false, 9},
}

// countVowels is go-sdk's count_vowels.wasm (Rust PDK): the var "total"
// persists across calls, so later calls format larger numbers.
var countVowels = callCase{
	name:   "count_vowels",
	wasm:   func(t testing.TB) []byte { return goSDKWasm(t, "count_vowels.wasm") },
	export: "count_vowels",
	inputs: []string{"hello world", "aaa", "bbba", "", "hello world", strings.Repeat("aeiouxyz", 500)},
	fuel:   nil, // set by TestCountVowels' table
}

// goGuestExports are the Go test guest's exports whose fuel is
// deterministic (TestGoGuestDeterministic), with inputs.
var goGuestExports = []struct{ export, input string }{
	{"noop", ""},
	{"echo", ""},
	{"echo", "hello"},
	{"echo", strings.Repeat("0123456789", 100)},
	{"echo_bulk", "hello"},
	{"echo_bulk", strings.Repeat("0123456789", 100)},
	{"fail", "bad"},
	{"fail_code", ""},
	{"fail_bulk", ""},
	{"config", "k"},
	{"config", "missing"},
	{"count", ""},
	{"log", "hi"},
	{"big", "1000"},
}

// goGuestCases are goGuestExports as call sequences: three calls each, as
// the first call of an instance often costs more (buffers grow once).
func goGuestCases() []callCase {
	var cs []callCase
	for _, e := range goGuestExports {
		cs = append(cs, callCase{
			name:   "guest/" + e.export + "/" + e.input[:min(len(e.input), 10)],
			wasm:   guestWasm,
			export: e.export,
			inputs: []string{e.input, e.input, e.input},
			opts:   Options{Config: map[string]string{"k": "value of k"}},
		})
	}
	return cs
}
