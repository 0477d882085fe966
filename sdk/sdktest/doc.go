// Package sdktest runs a skill's tool functions natively, for go test.
//
// Compiled natively, package sdk talks to an in-memory host instead of the
// Extism kernel. Host.Call gives a tool function its input and
// configuration, runs it, and returns what it produced, in the shape of
// Extism's Plugin.Call: a status, the output and the error set with
// sdk.SetError. The //go:wasmexport wrapper around a tool stays in a file
// built only for wasip1; the function it wraps is what the test calls.
package sdktest
