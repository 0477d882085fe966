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
// the sdk function fn, when no call is running.
func With(fn string, f func(c *Call)) {
	mu.Lock()
	defer mu.Unlock()
	if cur == nil {
		panic("sdk." + fn + " called outside a tool call; natively, run the tool with sdktest.Host.Call")
	}
	f(cur)
}
