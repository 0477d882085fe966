// Package sdk is what a Go skill imports to talk to its Palyra host.
//
// A skill is a WebAssembly module built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared. Each tool is a function exported with
// //go:wasmexport that returns an int32 status, 0 for success, as Extism
// expects. Inside it, the tool reads its input with Input, writes its result
// with Output, and reports a failure with SetError:
//
//	//go:wasmexport echo
//	func echo() int32 {
//		sdk.Output(sdk.Input())
//		return 0
//	}
//
// The package speaks the Extism kernel ABI (the extism:host/env imports), so
// a skill built with it also runs in any Extism host, and the Palyra host
// runs plugins built with any Extism PDK. It uses the standard library only.
//
// # Testing tools natively
//
// Compiled for the machine running go test rather than for Wasm, the same
// functions talk to an in-memory host instead of extism:host/env. Package
// sdktest runs a tool function against it:
//
//	var h sdktest.Host
//	rc, out, err := h.Call(echo, []byte("hi"))
//
// so a skill's logic can be unit-tested with plain go test, keeping the
// //go:wasmexport wrappers in files built only for wasip1. Outside such a
// call the functions panic, as there is no host to talk to.
package sdk
