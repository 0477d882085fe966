// Package memhost is the in-memory host behind package sdk when it is
// compiled natively rather than for Wasm. Package sdk reads and writes the
// current call here; package sdktest starts calls and reads their results.
//
// The current call is package state because the sdk's API is: a Wasm
// instance runs one call at a time and its imports need no handle, so the
// native stand-in has one current call per process, and Run serialises
// calls to keep it that way.
package memhost

import (
	"sync"
)

// Call is one tool call: what the host passes in and what the tool
// leaves behind.
type Call struct {
	Input  []byte
	Config map[string]string
	// Vars is the host's var store, read and written in place: unlike
	// everything else in a Call, it outlives the call.
	Vars map[string][]byte
	// LogLevel is the lowest level logged (an sdk.LogLevel).
	LogLevel int
	// HTTP sends a request; nil denies every request. An error traps, as
	// every failure of Extism's http_request does.
	HTTP func(HTTPRequest) (HTTPResponse, error)
	// Secret returns a secret or the reason it cannot; nil denies all.
	Secret func(scope, key string) ([]byte, error)

	Output []byte
	Error  string // empty: no error, as in Extism
	Logs   []Log
}

// Log is one message the tool logged. Level is an sdk.LogLevel, which this
// package cannot name without an import cycle.
type Log struct {
	Level   int
	Message string
}

// HTTPRequest and HTTPResponse are sdk.HTTPRequest and sdk.HTTPResponse,
// which this package cannot name either.
type HTTPRequest struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte
}

type HTTPResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// A Trap is the panic value with which the in-memory host aborts a call,
// where a Wasm host would trap: a denied HTTP request, for one. Function
// is the host function a Wasm host would name.
type Trap struct {
	Function string
	Message  string
}

func (t *Trap) Error() string { return t.Function + ": " + t.Message }

var (
	runMu sync.Mutex // held for a whole Run: one call at a time
	mu    sync.Mutex // guards cur, for tools that call the sdk from several goroutines
	cur   *Call
)

// Run makes c the current call, runs tool, and returns its status. Calls
// from other goroutines wait; a tool that calls Run itself deadlocks, as a
// Wasm instance cannot re-enter itself either.
func Run(c *Call, tool func() int32) int32 {
	runMu.Lock()
	defer runMu.Unlock()
	set(c)
	// Cleared even if tool panics, so one failing test leaves no call
	// behind for the next.
	defer set(nil)
	return tool()
}

func set(c *Call) {
	mu.Lock()
	cur = c
	mu.Unlock()
}

// With runs f on the current call, holding the lock. It panics, naming
// the function fn ("sdk.Input"), when no call is running.
func With(fn string, f func(c *Call)) {
	mu.Lock()
	defer mu.Unlock()
	if cur == nil {
		panic(fn + " called outside a tool call; natively, run the tool with sdktest.Host.Call")
	}
	f(cur)
}
