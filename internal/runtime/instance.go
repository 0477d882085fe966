package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/palyra/palyra-go/internal/guestabi"
	"github.com/palyra/palyra-go/internal/runtime/instrument"
	"github.com/palyra/palyra-go/internal/runtime/kernel"
)

// Why an instance was stopped from outside its call.
const (
	killNone int32 = iota
	killTimeout
	killCaller // the caller's ctx ended
	killClosed // Plugin.Close or Runtime.Close
)

// bulkOutputMark is the output offset recorded when the guest set its
// output with output_write: below the first handle, so output_set never
// stores it.
const bulkOutputMark = 1

// instanceKey is the context key under which an instance's context
// carries the instance, for the Go host functions.
type instanceKey struct{}

// instance is one guest instance and its kernel. One goroutine uses it at
// a time; only kill may be called from others.
type instance struct {
	p      *Plugin
	id     uint64 // 1 for the plugin's first instance, and so on
	calls  uint64 // calls started, counted by the goroutine holding the instance
	guest  api.Module
	kmod   api.Module
	k      *kernel.Instance
	gmem   api.Memory
	budget memoryBudget

	// ctx is passed to every Wasm call on the instance, so host functions
	// find the instance in it; kill cancels it, which ends sleeps and HTTP
	// requests. It is made once per instance: a call allocates no context
	// of its own.
	ctx    context.Context
	cancel context.CancelFunc
	killed atomic.Int32
	// stop is the guest's kill flag (instrument.KillGlobal): set, it makes
	// the guest trap at its next fuel refill (every instrument.FuelSlice
	// units) or after its next bulk memory or table operation.
	stop api.MutableGlobal
	// fuel and reserve are the guest's fuel counter and what is left of
	// its budget beyond the current slice (see package instrument).
	fuel, reserve api.MutableGlobal
	// deadline is when the call in progress must end (the watchdog's
	// monotonic clock), 0 when none is armed: the runtime's watchdog
	// kills the instance past it.
	deadline atomic.Int64

	fns         []api.Function // by export index, filled on first use
	stack       [1]uint64
	started     bool // palyra.start ran
	initialized bool // the language runtime's initialisation ran

	// State of the call in progress.
	callCtx     context.Context
	lastFuel    uint64 // fuel the last call consumed
	bulkOut     []byte
	httpStatus  int32
	httpHeaders map[string]string
	stdout      streamWriter
	stderr      streamWriter
	logs        logBudget // the call's log_* and stdout/stderr records
}

func (p *Plugin) newInstance(ctx context.Context) (_ *instance, err error) {
	inst := &instance{
		p:      p,
		id:     p.instances.Add(1),
		budget: memoryBudget{limit: p.cfg.MaxMemoryBytes, maxTable: p.cfg.MaxTableElements},
		fns:    make([]api.Function, len(p.mod.exports)),
		logs:   logBudget{logger: p.logger, maxRecords: int64(p.cfg.MaxLogRecords), maxBytes: p.cfg.MaxLogBytes},
	}
	inst.budget.inst = inst
	inst.stdout = streamWriter{budget: &inst.logs, level: slog.LevelInfo, stream: "stdout"}
	inst.stderr = streamWriter{budget: &inst.logs, level: slog.LevelWarn, stream: "stderr", keep: true}
	base, cancel := context.WithCancel(context.Background())
	inst.ctx = context.WithValue(base, instanceKey{}, inst)
	inst.cancel = cancel
	defer func() {
		if err != nil {
			inst.close()
		}
	}()

	ctx = experimental.WithMemoryAllocator(ctx, &inst.budget)
	var gctx context.Context
	mc := p.mcfg
	if p.native {
		// Palyra's linker: its host capabilities and nothing else (the
		// module was checked to import nothing else: no WASI, no kernel).
		gctx = experimental.WithImportResolver(ctx, func(name string) api.Module {
			if name == guestabi.CapabilitiesModule {
				return p.rt.caps
			}
			return nil
		})
	} else {
		kctx := experimental.WithImportResolver(ctx, func(name string) api.Module {
			if name == kernel.GoModule {
				return p.rt.host
			}
			return nil
		})
		if inst.kmod, err = inst.instantiate(kctx, p.rt.kernel, wazero.NewModuleConfig().WithName("")); err != nil {
			return nil, fmt.Errorf("kernel: %w", err)
		}
		if inst.k, err = kernel.Bind(inst.kmod); err != nil {
			return nil, err
		}
		gctx = experimental.WithImportResolver(ctx, func(name string) api.Module {
			switch name {
			case ExtismEnv:
				return inst.kmod
			case ExtismUser, PalyraEnv:
				return p.rt.host
			}
			return nil // WASI, from the runtime's namespace
		})
		mc = mc.
			WithStdout(&inst.stdout).
			WithStderr(&inst.stderr).
			WithNanosleep(inst.sleep)
		if len(p.mounts) > 0 {
			mc = mc.WithFSConfig(p.fsConfig(inst))
		}
	}
	if inst.guest, err = inst.instantiate(gctx, p.mod.compiled, mc); err != nil {
		return nil, err
	}
	inst.gmem = inst.guest.Memory()
	if err := inst.bindGlobals(); err != nil {
		return nil, err
	}

	if p.cfg.Timeout > 0 {
		p.rt.watch.add(inst, p.cfg.Timeout)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return nil, ErrClosed
	}
	p.live[inst] = struct{}{}
	return inst, nil
}

// bindGlobals finds the globals the instrumenter added, and charges the
// guest's initial tables to the memory budget.
func (inst *instance) bindGlobals() error {
	globals := make([]api.MutableGlobal, 5)
	for i, name := range []string{instrument.KillGlobal, instrument.FuelGlobal, instrument.ReserveGlobal,
		instrument.TableElemsGlobal, instrument.TableLimitGlobal} {
		g, ok := inst.guest.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("runtime: module is not instrumented (no global %s)", name)
		}
		globals[i] = g
	}
	inst.stop, inst.fuel, inst.reserve = globals[0], globals[1], globals[2]
	if err := inst.budget.bindTables(globals[3], globals[4]); err != nil {
		return fmt.Errorf("initial tables: %w", err)
	}
	return nil
}

// unmetered is the fuel budget of calls without one: the guest still
// gets its fuel in slices, which is when it checks the kill flag.
const unmetered = instrument.MaxBudget

// setFuel gives the guest a full budget, its first slice in the counter.
func (inst *instance) setFuel() {
	fuel, reserve := instrument.Split(inst.p.cfg.FuelBudget)
	inst.fuel.Set(api.EncodeI64(fuel))
	inst.reserve.Set(api.EncodeI64(reserve))
}

// fuelUsed returns the fuel consumed since setFuel.
func (inst *instance) fuelUsed() uint64 {
	return instrument.Consumed(inst.p.cfg.FuelBudget, int64(inst.fuel.Get()), int64(inst.reserve.Get()))
}

// outOfFuel reports whether the guest trapped for want of fuel.
func (inst *instance) outOfFuel() bool {
	return instrument.Exhausted(int64(inst.fuel.Get()), int64(inst.reserve.Get()))
}

// instantiate instantiates a module within the instance's memory budget.
// When the module's initial memory alone exceeds the budget, the
// allocator refuses it and wazero panics on the missing buffer before it
// has registered anything; that panic is turned into ErrMemoryLimit.
func (inst *instance) instantiate(ctx context.Context, c wazero.CompiledModule, mc wazero.ModuleConfig) (mod api.Module, err error) {
	defer func() {
		if r := recover(); r != nil {
			if !inst.budget.refused {
				panic(r)
			}
			mod, err = nil, fmt.Errorf("initial memory: %w (%d bytes)", ErrMemoryLimit, inst.budget.limit)
		}
	}()
	return inst.p.rt.wz.InstantiateModule(ctx, c, mc)
}

// kill stops the instance's call in progress, if any, and makes the
// instance unusable. Safe from any goroutine.
func (inst *instance) kill(why int32) {
	if inst.killed.CompareAndSwap(killNone, why) {
		if inst.stop != nil {
			inst.stop.Set(1)
		}
		inst.cancel()
	}
}

func (inst *instance) killByCaller() { inst.kill(killCaller) }

// sleep is the guest's WASI nanosleep: real, but cut short when the
// instance is killed, so a sleeping guest honours timeouts too.
func (inst *instance) sleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-inst.ctx.Done():
	}
}

func (inst *instance) close() {
	inst.kill(killClosed)
	if inst.p.cfg.Timeout > 0 {
		inst.p.rt.watch.remove(inst)
	}
	ctx := context.Background()
	if inst.guest != nil {
		inst.guest.Close(ctx)
	}
	if inst.kmod != nil {
		inst.kmod.Close(ctx)
	}
}

// function returns the instance's api.Function of the export fn, cached.
func (inst *instance) function(name string, fn export) api.Function {
	f := inst.fns[fn.index]
	if f == nil {
		f = inst.guest.ExportedFunction(name)
		inst.fns[fn.index] = f
	}
	return f
}

// call runs one Extism guest call. keep reports whether the instance may
// serve another.
func (inst *instance) call(ctx context.Context, name string, fn export, input []byte) (out []byte, keep bool, err error) {
	f := inst.function(name, fn)
	if err := inst.k.SetInput(input); err != nil {
		return nil, true, fmt.Errorf("runtime: %s: input of %d bytes: %w", name, len(input), ErrMemoryLimit)
	}
	inst.bulkOut = nil
	inst.httpStatus = 0
	clear(inst.httpHeaders)

	// A new instance runs its language runtime's initialisation first.
	keep, err = inst.invoke(ctx, name, f, name != "_start" && name != "_initialize")
	if err != nil {
		return nil, keep, err
	}

	var rc int32
	if fn.hasResult {
		rc = int32(uint32(inst.stack[0]))
	}
	if h := inst.k.Error(); h != 0 || rc != 0 {
		ge := &GuestError{Function: name, Code: rc}
		if h != 0 {
			if msg, ok := inst.k.Block(h); ok {
				ge.Message = string(msg)
			} else {
				ge.Message = fmt.Sprintf("(error_set with %d, not a memory block)", h)
			}
		}
		return nil, keep, ge
	}
	off, view, ok := inst.k.Output()
	switch {
	case off == bulkOutputMark:
		return inst.bulkOut, keep, nil
	case !ok:
		return nil, false, &TrapError{Function: name, Err: errors.New("output range outside kernel memory")}
	}
	return bytes.Clone(view), keep, nil
}

// invoke runs f on the instance under the call's containment (the fuel
// budget, the timeout, ctx's cancellation, the memory budget), after the
// instance's start function and, when init is set, its language
// runtime's initialisation, if they have not run yet. The result, if any,
// is in inst.stack[0]. keep reports whether the instance may serve
// another call; err is a *TrapError or a stop (timeout, ctx, Close).
// Both ABIs' calls go through it.
func (inst *instance) invoke(ctx context.Context, name string, f api.Function, init bool) (keep bool, err error) {
	p := inst.p
	inst.callCtx = ctx
	inst.budget.refused = false
	inst.logs.begin(ctx)
	inst.stdout.begin()
	inst.stderr.begin()

	// Arm the timeout and the caller's cancellation; either kills the
	// instance, and the guest traps at its next check.
	if p.cfg.Timeout > 0 {
		p.rt.watch.begin(inst, p.cfg.Timeout)
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, inst.killByCaller)
	}

	// A new instance runs its start function and its language runtime's
	// initialisation first, under this call's deadline and a fuel budget
	// of their own.
	var initFailed bool
	needInit := init && !inst.initialized
	if !inst.started || needInit {
		inst.setFuel()
		if err = inst.start(); err == nil && needInit {
			err = inst.initRuntime()
			inst.initialized = err == nil
		}
		initFailed = err != nil
	}
	if err == nil {
		inst.setFuel()
		inst.stack[0] = 0
		err = f.CallWithStack(inst.ctx, inst.stack[:])
		inst.lastFuel = inst.fuelUsed()
	}

	keep = true
	if p.cfg.Timeout > 0 && !p.rt.watch.end(inst) {
		keep = false // fired: the instance is being killed
	}
	if stop != nil && !stop() {
		keep = false
	}
	inst.stdout.end()
	inst.stderr.end()
	inst.logs.end()
	inst.callCtx = nil
	if why := inst.killed.Load(); why != killNone {
		keep = false
		if err != nil {
			return false, inst.killError(ctx, name, why)
		}
	}

	if err != nil {
		if inst.outOfFuel() {
			err = &fuelError{budget: p.cfg.FuelBudget, init: initFailed}
		}
		var exit *sys.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 0 {
			return false, inst.trapError(name, err)
		}
		// proc_exit(0) is a success, as in Extism; the instance is closed.
		keep = false
	}
	return keep, nil
}

// start runs the module's start function, which the instrumenter turned
// into an export so that it runs here, stoppable, rather than inside
// wazero's instantiation, where nothing could stop it.
func (inst *instance) start() error {
	if f := inst.guest.ExportedFunction(instrument.StartExport); f != nil {
		if _, err := f.Call(inst.ctx); err != nil {
			return err
		}
	}
	inst.started = true
	return nil
}

// initRuntime initializes the guest's language runtime before its first
// call, as go-sdk does: Haskell's hs_init (after _initialize), else WASI's
// reactor _initialize, else the command's __wasm_call_ctors.
func (inst *instance) initRuntime() error {
	g := inst.guest
	if hs := g.ExportedFunction("hs_init"); hs != nil {
		if f := g.ExportedFunction("_initialize"); f != nil {
			if _, err := f.Call(inst.ctx); err != nil {
				return err
			}
		}
		params := make([]uint64, len(hs.Definition().ParamTypes()))
		_, err := hs.Call(inst.ctx, params...)
		return err
	}
	for _, name := range []string{"_initialize", "__wasm_call_ctors"} {
		if f := g.ExportedFunction(name); f != nil && len(f.Definition().ParamTypes()) == 0 {
			_, err := f.Call(inst.ctx)
			return err
		}
	}
	return nil
}

func (inst *instance) killError(ctx context.Context, name string, why int32) error {
	switch why {
	case killTimeout:
		return fmt.Errorf("runtime: %s: timed out after %v: %w", name, inst.p.cfg.Timeout, context.DeadlineExceeded)
	case killCaller:
		return fmt.Errorf("runtime: %s: %w", name, context.Cause(ctx))
	}
	return fmt.Errorf("runtime: %s: %w", name, ErrClosed)
}

func (inst *instance) trapError(name string, err error) *TrapError {
	te := &TrapError{Function: name, Err: err, Stderr: string(inst.stderr.head), memoryLimit: inst.budget.refused}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		te.Exited, te.ExitCode = true, exit.ExitCode()
	}
	return te
}
