// Package testguest compiles Go guest packages to WebAssembly for tests.
//
// Tests across the repository need real Wasm modules: skills built from
// examples, guests that exercise the SDK, modules to package and sign. Build
// compiles a Go package with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared
// -trimpath — the way palyra-gen builds a skill — and caches the result for
// the life of the test process, so any number of tests can ask for the same
// guest while the compiler runs once.
//
// A test that runs the echo example:
//
//	func TestEcho(t *testing.T) {
//		wasm := testguest.Build(t, "github.com/palyra/palyra-go/examples/echo")
//		// load wasm into a runtime and call "echo"…
//	}
//
// The package is for tests only: every function takes a testing.TB and
// fails the test when the guest does not build.
package testguest
