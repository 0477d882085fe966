package runtime

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrClosed is returned by calls on a closed Plugin or Runtime.
	ErrClosed = errors.New("runtime: closed")
	// ErrNoFunction is returned when the module exports no function of
	// the requested name, or one Extism cannot call (it must take no
	// parameters and return nothing or one integer).
	ErrNoFunction = errors.New("runtime: no such function")
	// ErrMemoryLimit is matched (errors.Is) by the error of a call or an
	// instantiation that needed more linear memory than the plugin's
	// MaxMemoryBytes allows.
	ErrMemoryLimit = errors.New("runtime: memory quota exceeded")
	// ErrFuelExhausted is matched by the error of a call (or of an
	// instance's start and initialisation) that used up its fuel budget.
	ErrFuelExhausted = errors.New("runtime: fuel budget exhausted")
)

// GuestError is a failure the guest reported itself: it set an error
// message (error_set, or palyra's error_write) or returned a non-zero
// status. The call ran to completion; the instance stays in the pool.
type GuestError struct {
	Function string
	// Code is the function's return value (0 if it has none).
	Code int32
	// Message is the error the guest set, empty if it set none.
	Message string
}

func (e *GuestError) Error() string {
	switch {
	case e.Message == "":
		return fmt.Sprintf("runtime: %s returned %d", e.Function, e.Code)
	case e.Code == 0:
		return fmt.Sprintf("runtime: %s: %s", e.Function, e.Message)
	}
	return fmt.Sprintf("runtime: %s returned %d: %s", e.Function, e.Code, e.Message)
}

// TrapError is a call the guest did not complete: a Wasm trap
// (unreachable, out-of-bounds access, stack exhaustion...), a trap raised
// by a host function (a denied HTTP request, a full variable store...),
// or a WASI proc_exit with a non-zero code. (A Go guest's panic or
// "fatal error: out of memory" ends in an unreachable trap, its message
// on stderr.) The instance is discarded.
type TrapError struct {
	Function string
	// Exited is true when the guest called proc_exit; ExitCode is its code.
	Exited   bool
	ExitCode uint32
	// Stderr is the start of what the guest wrote to stderr during the
	// call (at most 1 KiB), which for a Go guest holds the panic message.
	Stderr string
	// Err is the underlying error from wazero or the host function.
	Err error

	memoryLimit bool // a memory.grow was refused during the call
}

// fuelError is the Err of a TrapError for a guest that ran out of fuel.
type fuelError struct {
	budget uint64
	init   bool // in the instance's start or initialisation, not the call
}

func (e *fuelError) Error() string {
	if e.init {
		return fmt.Sprintf("%v: %d units used in the instance's start and initialisation", ErrFuelExhausted, e.budget)
	}
	return fmt.Sprintf("%v: %d units used", ErrFuelExhausted, e.budget)
}

func (e *fuelError) Unwrap() error { return ErrFuelExhausted }

func (e *TrapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runtime: %s trapped: ", e.Function)
	if e.Exited {
		fmt.Fprintf(&b, "exit code %d", e.ExitCode)
	} else {
		b.WriteString(e.Err.Error())
	}
	if e.memoryLimit {
		b.WriteString(" (after " + ErrMemoryLimit.Error() + ")")
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		b.WriteString("; stderr: " + s)
	}
	return b.String()
}

// Unwrap returns Err, and ErrMemoryLimit when the memory quota refused a
// growth during the call (the likely cause of the trap).
func (e *TrapError) Unwrap() []error {
	if e.memoryLimit {
		return []error{e.Err, ErrMemoryLimit}
	}
	return []error{e.Err}
}
