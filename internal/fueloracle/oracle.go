package fueloracle

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// DefaultInitBudget is the fuel given to instantiation (the start
// function) and, separately, to the language runtime's initialisation:
// enough for any guest in the tests, so that neither runs out.
const DefaultInitBudget = 1 << 40

var (
	// ErrOutOfFuel is matched (errors.Is) by the error of a call, a start
	// function or an initialisation that ran out of fuel: wasmtime trapped
	// with its OutOfFuel trap code.
	ErrOutOfFuel = errors.New("fueloracle: all fuel consumed")
	// ErrNoFunction is returned when the module has no export of that name
	// that Extism can call (no parameters, at most one result).
	ErrNoFunction = errors.New("fueloracle: no such function")
)

// Engine compiles modules with wasmtime's fuel metering on
// (Config.SetConsumeFuel) and its default operator costs.
type Engine struct {
	engine *wasmtime.Engine
}

// NewEngine returns an Engine.
func NewEngine() *Engine {
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(true)
	return &Engine{engine: wasmtime.NewEngineWithConfig(cfg)}
}

// Module is a compiled module, from which any number of instances are made.
type Module struct {
	e   *Engine
	mod *wasmtime.Module
}

// Compile compiles wasm. Compiling a Go guest takes a second or two, so
// tests compile once and instantiate many times.
func (e *Engine) Compile(wasm []byte) (*Module, error) {
	m, err := wasmtime.NewModule(e.engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("fueloracle: compile: %w", err)
	}
	return &Module{e: e, mod: m}, nil
}

// Options configures an instance. The zero value is an instance with no
// config, no vars, no secrets, WASI with no arguments, environment or
// files, real clocks and real randomness (as palyra's runtime has), and
// DefaultInitBudget.
type Options struct {
	// Config is what config_get returns.
	Config map[string]string
	// Vars are the initial vars (var_get, var_set); the instance works on
	// a copy.
	Vars map[string][]byte
	// Secrets maps "scope/key" to what palyra_secret_get returns; a
	// missing ref returns 0 and sets the call's error.
	Secrets map[string][]byte
	// Rand, if set, replaces WASI's random_get: the bytes a guest gets
	// come from it. Tests use it to see whether a function's fuel depends
	// on the randomness it reads.
	Rand io.Reader
	// InitBudget is the fuel of the start function and, separately, of
	// the runtime initialisation (0: DefaultInitBudget).
	InitBudget uint64

	// handleGap spaces blocks further apart, so that tests can check that
	// a guest's fuel does not depend on handle values.
	handleGap int64
}

// Instance is an instantiated, initialised module. It is not safe for
// concurrent use.
type Instance struct {
	store *wasmtime.Store
	inst  *wasmtime.Instance
	k     *kernel

	// StartFuel is the fuel instantiation consumed: the module's start
	// function, if it has one.
	StartFuel uint64
	// InitFuel is the fuel the language runtime's initialisation consumed,
	// palyra's way: hs_init (after _initialize), else _initialize, else
	// __wasm_call_ctors; 0 if the module has none of them.
	InitFuel uint64
}

// InitError is the failure of instantiation or of the language runtime's
// initialisation, with the fuel consumed up to it (fuel.wast's modules
// whose start function traps still consume fuel).
type InitError struct {
	// Phase is "start" (instantiation, including linking) or the
	// initialisation function that failed ("_initialize", "hs_init"…).
	Phase string
	Fuel  uint64
	Err   error
}

func (e *InitError) Error() string {
	return fmt.Sprintf("fueloracle: %s (after %d fuel): %v", e.Phase, e.Fuel, e.Err)
}

func (e *InitError) Unwrap() error { return e.Err }

// Instantiate instantiates the module, running its start function, then
// initialises the language runtime as palyra does, each under its own
// budget of opts.InitBudget. The imports are host functions (see the
// package doc), so they consume no fuel beyond the guest's call
// instruction.
func (m *Module) Instantiate(opts Options) (*Instance, error) {
	if opts.InitBudget == 0 {
		opts.InitBudget = DefaultInitBudget
	}
	store := wasmtime.NewStore(m.e.engine)
	wasi := wasmtime.NewWasiConfig()
	store.SetWasi(wasi)
	k := newKernel(opts)
	linker := wasmtime.NewLinker(m.e.engine)
	defer linker.Close()
	if err := linker.DefineWasi(); err != nil {
		return nil, fmt.Errorf("fueloracle: %w", err)
	}
	if err := k.define(linker, opts.Rand); err != nil {
		return nil, err
	}

	if err := store.SetFuel(opts.InitBudget); err != nil {
		return nil, fmt.Errorf("fueloracle: %w", err)
	}
	inst, err := linker.Instantiate(store, m.mod)
	fuel := consumed(store, opts.InitBudget)
	if err != nil {
		return nil, &InitError{Phase: "start", Fuel: fuel, Err: trapError(err)}
	}
	in := &Instance{store: store, inst: inst, k: k, StartFuel: fuel}
	if err := in.initRuntime(opts.InitBudget); err != nil {
		return nil, err
	}
	return in, nil
}

// initRuntime runs the language runtime's initialisation as palyra's
// runtime does (and go-sdk): hs_init after _initialize, else _initialize,
// else __wasm_call_ctors.
func (in *Instance) initRuntime(budget uint64) error {
	if err := in.store.SetFuel(budget); err != nil {
		return fmt.Errorf("fueloracle: %w", err)
	}
	run := func(name string, f *wasmtime.Func) error {
		args := make([]any, len(f.Type(in.store).Params()))
		for i, p := range f.Type(in.store).Params() {
			switch p.Kind() {
			case wasmtime.KindI64:
				args[i] = int64(0)
			default:
				args[i] = int32(0)
			}
		}
		_, err := f.Call(in.store, args...)
		in.InitFuel = consumed(in.store, budget)
		if err != nil {
			return &InitError{Phase: name, Fuel: in.InitFuel, Err: trapError(err)}
		}
		return nil
	}
	if hs := in.inst.GetFunc(in.store, "hs_init"); hs != nil {
		if f := in.inst.GetFunc(in.store, "_initialize"); f != nil {
			if err := run("_initialize", f); err != nil {
				return err
			}
		}
		return run("hs_init", hs)
	}
	for _, name := range []string{"_initialize", "__wasm_call_ctors"} {
		if f := in.inst.GetFunc(in.store, name); f != nil && len(f.Type(in.store).Params()) == 0 {
			return run(name, f)
		}
	}
	return nil
}

// Result is the outcome of a call.
type Result struct {
	// Fuel is the fuel the call consumed: budget minus what wasmtime says
	// remains (Store.GetFuel), which never exceeds the budget.
	Fuel uint64
	// Output is the call's output (output_set or output_write).
	Output []byte
	// Code is the function's return value (0 if it returns nothing).
	Code int32
	// Message is the error the guest set (error_set, error_write).
	Message string
}

// Call calls the export with input under budget. A call that traps
// returns its Result (Fuel is meaningful) and an error; one that ran out of
// fuel matches ErrOutOfFuel. A guest that reports a failure (a non-zero
// return, an error message) is not an error here: see Result.
func (in *Instance) Call(export string, input []byte, budget uint64) (Result, error) {
	f := in.inst.GetFunc(in.store, export)
	if f == nil {
		return Result{}, fmt.Errorf("%w: %q", ErrNoFunction, export)
	}
	ty := f.Type(in.store)
	if len(ty.Params()) != 0 || len(ty.Results()) > 1 {
		return Result{}, fmt.Errorf("%w: %q has type %d params, %d results", ErrNoFunction, export, len(ty.Params()), len(ty.Results()))
	}
	in.k.begin(input)
	if err := in.store.SetFuel(budget); err != nil {
		return Result{}, fmt.Errorf("fueloracle: %w", err)
	}
	v, err := f.Call(in.store)
	r := Result{Fuel: consumed(in.store, budget)}
	if err != nil {
		return r, fmt.Errorf("fueloracle: %s: %w", export, trapError(err))
	}
	switch v := v.(type) {
	case int32:
		r.Code = v
	case int64:
		r.Code = int32(v)
	}
	r.Output, r.Message = in.k.end()
	return r, nil
}

// Close releases the instance.
func (in *Instance) Close() { in.store.Close() }

// Fuel compiles wasm, instantiates and initialises it, and calls export
// with input under budget: consumed is the call's fuel. It returns an error
// matching ErrOutOfFuel, with consumed = budget, when the call ran out.
func Fuel(wasm []byte, export string, input []byte, budget uint64) (consumed uint64, err error) {
	m, err := NewEngine().Compile(wasm)
	if err != nil {
		return 0, err
	}
	in, err := m.Instantiate(Options{})
	if err != nil {
		return 0, err
	}
	defer in.Close()
	r, err := in.Call(export, input, budget)
	return r.Fuel, err
}

// consumed returns the fuel consumed since the store was given budget.
func consumed(store *wasmtime.Store, budget uint64) uint64 {
	left, err := store.GetFuel()
	if err != nil {
		panic("fueloracle: fuel metering is off: " + err.Error()) // NewEngine turns it on
	}
	return budget - left
}

// outOfFuelMessage is how wasmtime describes its OutOfFuel trap.
const outOfFuelMessage = "all fuel consumed by WebAssembly"

// trapError returns err with wasmtime's host backtrace cut from its
// message (still unwrapping to wasmtime's error, for ExitStatus), matching
// ErrOutOfFuel when wasmtime trapped for lack of fuel. wasmtime v39's C API
// returns that trap from the fuel check's libcall as a *wasmtime.Error, not
// a *wasmtime.Trap, so it has no trap code: its message tells it apart.
func trapError(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\nStack backtrace:")
	te := &wasmError{msg: strings.TrimSpace(msg), err: err}
	var trap *wasmtime.Trap
	if errors.As(err, &trap) {
		if c := trap.Code(); c != nil && *c == wasmtime.OutOfFuel {
			te.outOfFuel = true
		}
	}
	te.outOfFuel = te.outOfFuel || strings.Contains(msg, outOfFuelMessage)
	return te
}

// wasmError is an error from wasmtime with a shorter message.
type wasmError struct {
	msg       string
	err       error
	outOfFuel bool
}

func (e *wasmError) Error() string { return e.msg }

func (e *wasmError) Unwrap() []error {
	if e.outOfFuel {
		return []error{ErrOutOfFuel, e.err}
	}
	return []error{e.err}
}
