// Package fueloracle measures fuel as wasmtime counts it, to test that
// palyra's runtime counts the same.
//
// Palyra runs skills on wasmtime with consume_fuel on, and a skill's
// fuel_budget is in wasmtime's units; palyra-go meters fuel in its own
// instrumenter (internal/runtime/instrument) and must report the same
// number for the same call. This package is the reference: it runs a
// module in wasmtime (wasmtime-go v39.0.1, Config.SetConsumeFuel, default
// operator costs) the way palyra's runtime runs it, and reports the fuel
// of a call:
//
//	m, _ := fueloracle.NewEngine().Compile(wasm)
//	in, _ := m.Instantiate(fueloracle.Options{})  // start, then _initialize…
//	r, err := in.Call("count_vowels", input, budget) // r.Fuel; err may match ErrOutOfFuel
//
// or, in one step, Fuel(wasm, export, input, budget).
//
// Imports are host functions, which wasmtime does not meter: a call to
// one costs only the guest's call instruction, which is how Palyra
// defines it for host functions and the Extism kernel. extism:host/env
// (kernel and host functions), extism:host/user's palyra_secret_get and
// palyra:host/env's bulk functions are implemented here in Go over a byte
// slice, with palyra's kernel's observable behaviour (see kernel.go);
// WASI is wasmtime's own, with real clocks and randomness as palyra's
// runtime has, random_get replaceable (Options.Rand) to study what depends
// on it.
//
// As palyra does, instantiation (the start function) and the language
// runtime's initialisation (hs_init after _initialize, else _initialize,
// else __wasm_call_ctors) run before the call, each under a budget of its
// own (Options.InitBudget), and their fuel is reported apart
// (Instance.StartFuel, InitFuel).
//
// What the tests establish:
//
//   - wasmtime's tests/all/fuel.wast holds here (testdata/fuel.wast).
//   - The out-of-fuel rule (TestOutOfFuel): wasmtime checks fuel only at
//     function entry and loop headers, and traps when the fuel consumed
//     so far is >= the budget there; between checks a call may exceed its
//     budget and complete. The fuel reported is budget - remaining, with
//     remaining saturating at 0: min(actual, budget), trapped or not.
//   - A Go guest's call fuel is deterministic (the same on fresh instances
//     and whatever random_get returns), though the first call of an
//     instance costs more than later ones; the Go runtime's initialisation
//     is not: it depends on random_get's bytes (TestGoGuestInit).
//
// # Why a separate module
//
// wasmtime-go is cgo around a prebuilt static wasmtime (a 55 MB module
// download): the main module stays pure Go, with no cgo and no C
// toolchain needed to build or test it. As a nested module with its own
// go.mod, this package is outside the main module's ./... and go mod
// tidy; it requires the main module through a replace directive (../..),
// and may import its internal packages because internal visibility is by
// import path. make test runs its tests (cd internal/fueloracle && go
// test ./...); they need gcc.
package fueloracle
