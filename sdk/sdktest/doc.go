// Package sdktest runs a skill's tool functions natively, for go test.
//
// Compiled natively, package sdk talks to an in-memory host instead of the
// Extism kernel. Host.Call gives a tool function its input, configuration,
// vars, HTTP client and secrets, runs it, and returns what it produced, in
// the shape of Extism's Plugin.Call: a status, the output and the error set
// with sdk.SetError — or a *TrapError where a Wasm host would abort the
// call. The //go:wasmexport wrapper around a tool stays in a file built
// only for wasip1; the function it wraps is what the test calls.
//
// The in-memory host follows the Palyra host where Extism leaves a choice:
// HTTP methods are upper-cased, response header names lower-cased with
// repeated values joined by ",", a var or config value that is empty is
// not set, and secret errors carry palyra_secret_get's message. It does
// not bound memory, var store or response sizes, and it does not apply an
// egress allowlist: the http.Client a test gives it is the policy.
package sdktest
