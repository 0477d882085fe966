package fueloracle

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFuelWast checks the oracle against wasmtime's own specification of
// fuel, tests/all/fuel.wast: instantiating each module consumes the fuel
// it asserts, and so does calling its start function as an export.
func TestFuelWast(t *testing.T) {
	cases := parseFuelWast(t, "testdata/fuel.wast")
	if len(cases) < 20 {
		t.Fatalf("parsed %d assert_fuel cases, want the 20+ of fuel.wast", len(cases))
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) {
			var got uint64
			in, err := compile(t, wat2wasm(t, c.wat)).Instantiate(Options{})
			var ie *InitError
			switch {
			case err == nil:
				got = in.StartFuel
				in.Close()
			case errors.As(err, &ie) && ie.Phase == "start":
				got = ie.Fuel // the start function trapped (unreachable)
			default:
				t.Fatal(err)
			}
			if got != c.fuel {
				t.Errorf("instantiation consumed %d fuel, fuel.wast says %d", got, c.fuel)
			}

			wat, ok := wastExport(c.wat)
			if !ok {
				return
			}
			r, err := instantiate(t, wat2wasm(t, wat), Options{}).Call("run", nil, bigBudget)
			if err != nil && errors.Is(err, ErrOutOfFuel) {
				t.Fatal(err)
			}
			if r.Fuel != c.fuel {
				t.Errorf("calling the start function as an export consumed %d fuel, fuel.wast says %d (error: %v)", r.Fuel, c.fuel, err)
			}
		})
	}
}

// TestOutOfFuel pins where wasmtime runs out of fuel (see boundaryCases).
func TestOutOfFuel(t *testing.T) {
	wasm := wat2wasm(t, boundaryWat)
	for _, c := range boundaryCases {
		r, err := instantiate(t, wasm, Options{}).Call(c.export, nil, c.budget)
		if got := errors.Is(err, ErrOutOfFuel); got != c.outOfFuel || r.Fuel != c.fuel {
			t.Errorf("%s with budget %d: out of fuel %v, consumed %d; want %v, %d (error: %v)",
				c.export, c.budget, got, r.Fuel, c.outOfFuel, c.fuel, err)
		}
		if err != nil && !errors.Is(err, ErrOutOfFuel) {
			t.Errorf("%s with budget %d: %v", c.export, c.budget, err)
		}
	}
}

// TestOutOfFuelInit checks that running out during instantiation or
// initialisation is reported as such, with the fuel consumed.
func TestOutOfFuelInit(t *testing.T) {
	wasm := wat2wasm(t, `(module (func $f loop br 0 end) (start $f))`)
	_, err := compile(t, wasm).Instantiate(Options{InitBudget: 1000})
	var ie *InitError
	if !errors.As(err, &ie) || !errors.Is(err, ErrOutOfFuel) || ie.Phase != "start" || ie.Fuel != 1000 {
		t.Fatalf("err = %v, want an out-of-fuel InitError in start after 1000 fuel", err)
	}
	wasm = wat2wasm(t, `(module (func (export "_initialize") loop br 0 end))`)
	_, err = compile(t, wasm).Instantiate(Options{InitBudget: 1000})
	if !errors.As(err, &ie) || !errors.Is(err, ErrOutOfFuel) || ie.Phase != "_initialize" || ie.Fuel != 1000 {
		t.Fatalf("err = %v, want an out-of-fuel InitError in _initialize after 1000 fuel", err)
	}
}

// runCase runs c's calls on a fresh instance and returns their fuel.
func runCase(t testing.TB, c callCase, opts Options) []uint64 {
	t.Helper()
	in := instantiate(t, c.wasm(t), opts)
	var fuel []uint64
	for _, input := range c.inputs {
		r, err := in.Call(c.export, []byte(input), bigBudget)
		if err != nil {
			t.Fatalf("%s(%.20q): %v", c.export, input, err)
		}
		fuel = append(fuel, r.Fuel)
	}
	return fuel
}

// countVowelsFuel is count_vowels' fuel for countVowels.inputs, measured
// with wasmtime v39.0.1; the module is a fixed binary, so the numbers are.
var countVowelsFuel = []uint64{7721, 6679, 6959, 5550, 8268, 611029}

func TestCountVowels(t *testing.T) {
	for i := range 2 { // two fresh instances: the same numbers
		if got := runCase(t, countVowels, Options{}); !slices.Equal(got, countVowelsFuel) {
			t.Errorf("instance %d: fuel %v, want %v", i, got, countVowelsFuel)
		}
	}
}

// seeded is a deterministic random source for WASI's random_get.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func seededRand(seed byte) seeded { return seeded{rand.NewChaCha8([32]byte{seed})} }

// TestGoGuestDeterministic checks that the fuel of goGuestExports does
// not vary across fresh instances, real randomness and clocks, or other
// random_get streams: a palyra call reports the same number each time.
// (The Go runtime's initialisation does vary: see TestGoGuestInit.)
func TestGoGuestDeterministic(t *testing.T) {
	for _, c := range goGuestCases() {
		var first []uint64
		for i, rnd := range []func() Options{
			func() Options { return c.opts },
			func() Options { return c.opts },
			func() Options { o := c.opts; o.Rand = seededRand(1); return o },
			func() Options { o := c.opts; o.Rand = seededRand(2); return o },
		} {
			got := runCase(t, c, rnd())
			if i == 0 {
				first = got
				t.Logf("%s: %v", c.name, got)
			} else if !slices.Equal(got, first) {
				t.Errorf("%s: fuel %v on instance %d, %v on the first", c.name, got, i, first)
			}
		}
	}
}

// TestGoGuestInit records that the Go runtime's initialisation
// (_initialize) consumes fuel that depends on the bytes random_get returns
// (hash seeds): the same stream gives the same fuel; real randomness gives
// numbers that differ by a few hundred in ~660,000. Its start fuel is 0 (no
// start section).
func TestGoGuestInit(t *testing.T) {
	wasm := guestWasm(t)
	a := instantiate(t, wasm, Options{Rand: seededRand(7)})
	b := instantiate(t, wasm, Options{Rand: seededRand(7)})
	if a.InitFuel != b.InitFuel || a.StartFuel != 0 || b.StartFuel != 0 {
		t.Fatalf("same random stream: start %d, %d, init %d, %d; want 0 and equal", a.StartFuel, b.StartFuel, a.InitFuel, b.InitFuel)
	}
	var real []uint64
	for range 3 {
		real = append(real, instantiate(t, wasm, Options{}).InitFuel)
	}
	t.Logf("init fuel: seeded %d; real randomness %v", a.InitFuel, real)
	if a.InitFuel > 10_000_000 {
		t.Errorf("init fuel %d exceeds Palyra's default budget of 10,000,000", a.InitFuel)
	}
}

// TestFuel checks the one-shot helper against an instance.
func TestFuel(t *testing.T) {
	got, err := Fuel(wat2wasm(t, boundaryWat), "loop", nil, 1000)
	if err != nil || got != 53 {
		t.Fatalf("Fuel = %d, %v; want 53", got, err)
	}
	got, err = Fuel(wat2wasm(t, boundaryWat), "loop", nil, 10)
	if !errors.Is(err, ErrOutOfFuel) || got != 10 {
		t.Fatalf("Fuel = %d, %v; want 10 and ErrOutOfFuel", got, err)
	}
	if _, err := Fuel(wat2wasm(t, boundaryWat), "nope", nil, 10); !errors.Is(err, ErrNoFunction) {
		t.Fatalf("Fuel of a missing export: %v, want ErrNoFunction", err)
	}
}

// TestHandleValuesDoNotMatter checks what lets this kernel stand for
// palyra's although its handles differ: the guests' fuel does not depend
// on handle values, only on lengths and on 0 being null.
func TestHandleValuesDoNotMatter(t *testing.T) {
	for _, c := range append(goGuestCases(), countVowels) {
		want := runCase(t, c, c.opts)
		spaced := c.opts
		spaced.handleGap = 4072
		if got := runCase(t, c, spaced); !slices.Equal(got, want) {
			t.Errorf("%s: fuel %v with blocks 4 KiB apart, %v without", c.name, got, want)
		}
	}
}
