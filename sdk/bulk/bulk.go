// Package bulk moves a call's input and output in one copy each, through
// Palyra's own host functions, where package sdk moves them through the
// Extism kernel eight bytes per host call.
//
// The gain grows with the size of the data: see the benchmarks in package
// sdk's tests. The cost is portability. A skill that calls Input or
// Output imports the palyra:host/env module, and a Wasm host must provide
// every import of a module to instantiate it: such a skill runs in the
// Palyra host only, while one that uses package sdk alone runs in any
// Extism host. (Go's linker emits an import only for the functions a
// program reaches, which is why this is a package of its own: importing
// it is the visible choice.)
//
// Natively, the functions use sdktest's in-memory host, as package sdk's
// do.
package bulk

// Input returns a copy of the call's input, as sdk.Input does.
func Input() []byte { return input() }

// Output sets the call's output to a copy of b, as sdk.Output does: the
// last of Output and sdk.Output called wins.
func Output(b []byte) { output(b) }
