// Package kernel holds palyra's implementation of the Extism kernel: the
// memory-block functions of the extism:host/env import module (alloc,
// free, length, length_unsafe, load_u8/u64, store_u8/u64, input_*,
// output_*, error_set/get, reset, memory_bytes), written as a small
// WebAssembly module in kernel.wat and embedded as Wasm.
//
// kernel.wasm is generated with Debian's wabt (go generate runs
// wat2wasm) and committed; a test re-assembles kernel.wat and fails if
// the committed bytes differ.
//
// The runtime links one kernel instance to each guest instance, so guest
// calls into the kernel stay in compiled code. Instance is the host's view
// of one: it resets the kernel, places the input and reads the output and
// error straight from kernel memory and globals, so that a call needs no
// Wasm entry besides the guest function.
package kernel
