// This file compares palyra's runtime (runtime.CallInfo.Fuel,
// PluginConfig.FuelBudget, ErrFuelExhausted) with the oracle.

package fueloracle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"testing"

	"github.com/palyra/palyra-go/internal/runtime"
)

// palyraHost compiles modules once in one palyra runtime and makes
// plugins of them.
type palyraHost struct {
	r    *runtime.Runtime
	mods map[string]*runtime.Module
}

func newPalyraHost(t testing.TB) *palyraHost {
	t.Helper()
	r, err := runtime.New(context.Background(), runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return &palyraHost{r: r, mods: make(map[string]*runtime.Module)}
}

// plugin makes a palyra plugin of wasm with one instance, so that a
// sequence of calls runs on one instance as runCase's does.
func (h *palyraHost) plugin(t testing.TB, wasm []byte, budget uint64, opts Options) *runtime.Plugin {
	t.Helper()
	ctx := context.Background()
	mod, ok := h.mods[string(wasm)]
	if !ok {
		var err error
		if mod, err = h.r.Compile(ctx, wasm); err != nil {
			t.Fatal(err)
		}
		h.mods[string(wasm)] = mod
	}
	p, err := h.r.NewPlugin(ctx, mod, runtime.PluginConfig{
		FuelBudget: budget,
		PoolSize:   1,
		Config:     opts.Config,
		Vars:       opts.Vars,
		// Guest logs kept at info, as the oracle's get_log_level says.
		Logger:   slog.New(slog.DiscardHandler),
		LogLevel: slog.LevelInfo,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// palyraBudget is the budget of palyra calls that are not about running
// out: large, but not so large that a wrong count could hide in it.
const palyraBudget = 1 << 40

// TestMatchesPalyra checks that palyra's runtime reports the fuel wasmtime
// consumes (CallInfo.Fuel) for every case the oracle covers, call by call,
// and runs out of fuel at the same budget.
func TestMatchesPalyra(t *testing.T) {
	ctx := context.Background()
	host := newPalyraHost(t)
	var cases []callCase
	for _, c := range parseFuelWast(t, "testdata/fuel.wast") {
		wat, ok := wastExport(c.wat)
		if !ok {
			continue
		}
		wasm := wat2wasm(t, wat)
		cases = append(cases, callCase{
			name:   fmt.Sprintf("fuel.wast:%d", c.line),
			wasm:   func(testing.TB) []byte { return wasm },
			export: "run",
			inputs: []string{""},
		})
	}
	boundary := wat2wasm(t, boundaryWat)
	for _, export := range []string{"loop", "straight", "calls"} {
		cases = append(cases, callCase{
			name:   "boundary/" + export,
			wasm:   func(testing.TB) []byte { return boundary },
			export: export,
			inputs: []string{"", ""},
		})
	}
	cases = append(cases, countVowels)
	goGuest := goGuestCases()
	cases = append(cases, goGuest...)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := instantiate(t, c.wasm(t), c.opts)
			p := host.plugin(t, c.wasm(t), palyraBudget, c.opts)
			for i, input := range c.inputs {
				want, werr := in.Call(c.export, []byte(input), palyraBudget)
				out, info, err := p.CallInfo(ctx, c.export, []byte(input))
				if info.Fuel != want.Fuel {
					t.Errorf("call %d (%.20q): palyra reports %d fuel, wasmtime consumed %d (errors: palyra %v, wasmtime %v)",
						i+1, input, info.Fuel, want.Fuel, err, werr)
				}
				if info.Instance != 1 {
					t.Errorf("call %d ran on instance %d, want 1 (the oracle's calls share one instance)", i+1, info.Instance)
				}
				if (err == nil) != (werr == nil) || (err == nil && string(out) != string(want.Output)) {
					var ge *runtime.GuestError
					if !(errors.As(err, &ge) && werr == nil) { // a guest error is a wasmtime success
						t.Errorf("call %d: palyra %q, %v; wasmtime %q, %v", i+1, out, err, want.Output, werr)
					}
				}
			}
		})
	}

	// Running out: for the first call of each case without language-runtime
	// initialisation (a Go guest's needs ~660,000 fuel under the same
	// budget, far more than its calls), the smallest budget at which
	// wasmtime completes the call, T, and the one below it.
	for _, c := range cases[:len(cases)-len(goGuest)] {
		t.Run("budget/"+c.name, func(t *testing.T) {
			wasm := c.wasm(t)
			input := []byte(c.inputs[0])
			call := func(budget uint64) (Result, error) {
				return instantiate(t, wasm, c.opts).Call(c.export, input, budget)
			}
			full, _ := call(palyraBudget)
			T := uint64(sort.Search(int(full.Fuel)+2, func(b int) bool {
				_, err := call(uint64(b))
				return !errors.Is(err, ErrOutOfFuel)
			}))
			for _, budget := range []uint64{T - 1, T, full.Fuel} {
				if budget == 0 || budget > full.Fuel+1 {
					continue // FuelBudget 0 is unmetered; T-1 wrapped
				}
				want, werr := call(budget)
				_, info, err := host.plugin(t, wasm, budget, c.opts).CallInfo(ctx, c.export, input)
				if got, wantOOF := errors.Is(err, runtime.ErrFuelExhausted), errors.Is(werr, ErrOutOfFuel); got != wantOOF || info.Fuel != want.Fuel {
					t.Errorf("budget %d: palyra out of fuel %v, %d fuel (%v); wasmtime %v, %d fuel (%v)",
						budget, got, info.Fuel, err, wantOOF, want.Fuel, werr)
				}
			}
		})
	}
}
