package runtime

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// Defaults for zero PluginConfig fields.
const (
	// DefaultMaxMemoryBytes is Palyra's default max_memory_bytes quota.
	DefaultMaxMemoryBytes = 64 << 20
	// DefaultMaxVarBytes is Extism's default limit on a plugin's vars.
	DefaultMaxVarBytes = 1 << 20
	// DefaultMaxHTTPResponseBytes is Extism's default limit on an HTTP
	// response body (the memory quota usually bounds it first).
	DefaultMaxHTTPResponseBytes = 50 << 20
	// DefaultMaxTableElements is Palyra's max_table_elements.
	DefaultMaxTableElements = 100_000
	// DefaultMaxOpenFiles is the open-file cap of an instance.
	DefaultMaxOpenFiles = 256
	// DefaultMaxLogRecords and DefaultMaxLogBytes bound one call's logs.
	DefaultMaxLogRecords = 1000
	DefaultMaxLogBytes   = 256 << 10
)

// HTTPClient sends the guest's HTTP requests (http_request). It is where
// the egress policy lives: the runtime sends every request through it and
// checks nothing itself. *http.Client satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// SecretFunc returns the secret key in scope (palyra_secret_get), or an
// error, which the guest receives as its call's error message. It must
// apply the plugin's grants: the runtime passes every request through.
type SecretFunc func(ctx context.Context, scope, key string) ([]byte, error)

// Mount makes a host directory visible to the guest through WASI.
type Mount struct {
	HostPath  string
	GuestPath string
	ReadOnly  bool
}

// PluginConfig configures a Plugin. The zero value is a plugin with no
// config, no vars store contents, no HTTP, no secrets, no files, the
// default quotas, no timeout and one pooled instance per CPU.
type PluginConfig struct {
	// Config is what config_get returns.
	Config map[string]string
	// Vars are the initial vars (var_get, var_set). Vars persist across
	// calls and are shared by all the plugin's instances.
	Vars map[string][]byte
	// MaxVarBytes bounds the vars' total size (0: DefaultMaxVarBytes;
	// negative: vars disabled, var_set traps).
	MaxVarBytes int64

	// MaxMemoryBytes bounds the linear memory of each instance, the
	// guest's and its kernel's together (0: DefaultMaxMemoryBytes). A
	// growth past it fails; a guest that cannot cope traps.
	MaxMemoryBytes uint64
	// Timeout bounds each call's wall-clock time (0: only ctx bounds it).
	Timeout time.Duration
	// FuelBudget is the fuel each call may consume, counted as wasmtime
	// counts it with consume_fuel (0: unmetered, only the timeout bounds
	// CPU). Instantiation and language-runtime initialisation get a budget
	// of their own, of the same size. Running out traps with ErrFuelExhausted.
	FuelBudget uint64
	// MaxTableElements bounds the elements of each instance's tables,
	// summed (0: DefaultMaxTableElements); table elements count in
	// MaxMemoryBytes too, 8 bytes each.
	MaxTableElements int64
	// MaxOpenFiles bounds the files and directories an instance holds
	// open at once through WASI, preopens excluded (0: DefaultMaxOpenFiles);
	// past it the guest gets EAGAIN (wazero has no EMFILE). A plugin holds
	// at most PoolSize times as many.
	MaxOpenFiles int
	// MaxLogRecords and MaxLogBytes bound what one call may log through
	// log_* and stdout/stderr together (0: DefaultMaxLogRecords,
	// DefaultMaxLogBytes); the rest is dropped, with one record saying so.
	MaxLogRecords int
	MaxLogBytes   int64
	// WriteQuotaBytes bounds the bytes the files under the writable
	// mounts may hold, summed, what they held before included (0: no
	// quota). The quota is the plugin's, shared by its instances; a write
	// past it fails with EIO (wazero has no ENOSPC) and writes nothing.
	WriteQuotaBytes int64
	// PoolSize is the number of instances, hence of concurrent calls
	// (0: GOMAXPROCS). Instances are created on demand and reused.
	PoolSize int

	// HTTP sends the guest's HTTP requests; nil denies them all.
	HTTP HTTPClient
	// MaxHTTPResponseBytes bounds a response body
	// (0: DefaultMaxHTTPResponseBytes).
	MaxHTTPResponseBytes int64
	// Secrets serves palyra_secret_get; nil denies every request.
	Secrets SecretFunc
	// Mounts are the WASI preopened directories.
	Mounts []Mount

	// Capabilities are what a Palyra-native module (see Run) is told it
	// was granted, as handles; Extism calls ignore them.
	Capabilities NativeGrants

	// Logger receives the guest's logs (log_*) and its stdout and stderr,
	// one record per line, bounded per call (nil: the Runtime's Logger).
	Logger *slog.Logger
	// LogLevel is the lowest level of guest log kept, which get_log_level
	// reports to the guest (Extism trace is slog.LevelDebug-4).
	LogLevel slog.Level
}

// Plugin is a module ready to be called: a bounded pool of instances,
// each a guest instance linked to its own kernel instance. It is safe for
// concurrent use.
type Plugin struct {
	rt     *Runtime
	mod    *Module
	cfg    PluginConfig
	config map[string]string
	vars   varStore
	logger *slog.Logger // nil: guest logs dropped
	mcfg   wazero.ModuleConfig
	mounts []pluginMount
	// native: the module uses the Palyra-native ABI, its instances have
	// no kernel and only Run calls them; handles are its capabilities.
	native  bool
	handles nativeHandles

	done   chan struct{} // closed by Close
	closed atomic.Bool
	// instances counts the instances ever created, to number them.
	instances atomic.Uint64

	// mu guards the pool: busy counts the calls in progress (PoolSize at
	// most); idle holds the instances not in use, the most recently used
	// last, so that sequential calls keep reusing one warm instance;
	// waiters are the calls waiting for a slot, first come first served.
	// One mutex and no channel on the uncontended path: that is most of
	// what taking and returning an instance costs.
	mu      sync.Mutex
	busy    int
	idle    []*instance
	waiters []chan struct{}
	drained chan struct{}          // closed when busy drops to 0, for Close
	live    map[*instance]struct{} // every open instance, idle or busy
}

// NewPlugin makes a plugin from mod. No instance is created until the
// first call.
func (r *Runtime) NewPlugin(ctx context.Context, mod *Module, cfg PluginConfig) (*Plugin, error) {
	if mod.rt != r {
		return nil, fmt.Errorf("runtime: module compiled by another runtime")
	}
	if cfg.MaxMemoryBytes == 0 {
		cfg.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if cfg.MaxVarBytes == 0 {
		cfg.MaxVarBytes = DefaultMaxVarBytes
	}
	if cfg.MaxHTTPResponseBytes <= 0 {
		cfg.MaxHTTPResponseBytes = DefaultMaxHTTPResponseBytes
	}
	if cfg.MaxTableElements <= 0 {
		cfg.MaxTableElements = DefaultMaxTableElements
	}
	if cfg.FuelBudget == 0 || cfg.FuelBudget > unmetered {
		cfg.FuelBudget = unmetered // sliced all the same: the kill flag is checked
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxOpenFiles <= 0 {
		cfg.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if cfg.MaxLogRecords <= 0 {
		cfg.MaxLogRecords = DefaultMaxLogRecords
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = DefaultMaxLogBytes
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("runtime: negative timeout %v", cfg.Timeout)
	}
	p := &Plugin{
		rt:     r,
		mod:    mod,
		cfg:    cfg,
		config: maps.Clone(cfg.Config),
		logger: cfg.Logger,
		done:   make(chan struct{}),
		live:   make(map[*instance]struct{}),
	}
	if p.logger == nil {
		p.logger = r.logger
	}
	p.vars.init(cfg.Vars, cfg.MaxVarBytes)
	p.handles = cfg.Capabilities.handles()
	if mod.abi == ABIPalyra {
		if mod.nativeErr != nil {
			return nil, mod.nativeErr
		}
		if len(cfg.Mounts) > 0 {
			return nil, fmt.Errorf("%w: a Palyra-native module gets no WASI, hence no mounts", ErrABI)
		}
		p.native = true
	}

	// The parts of the guest's configuration all instances share. Clocks
	// are real and randomness is crypto/rand: wazero's defaults are fakes
	// meant for reproducible tests.
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous: instances of one module can coexist
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	p.mcfg = mc
	// The mounts are wrapped per instance (fsConfig), which counts its
	// open files; the write quota is the plugin's.
	var err error
	if p.mounts, err = mountConfig(&cfg); err != nil {
		return nil, err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	r.plugins[p] = struct{}{}
	return p, nil
}

// Call calls the guest function name with input and returns its output.
//
// The function must be exported with no parameters and at most one
// integer result, as Extism requires. The errors callers tell apart:
// *GuestError (the guest reported a failure), *TrapError (it did not
// complete; may match ErrMemoryLimit), ErrNoFunction, ErrClosed, and
// errors matching context.DeadlineExceeded (the plugin's Timeout, or
// ctx's deadline) or context.Canceled: a timeout or a cancellation always
// stops the guest, even one that never calls out.
//
// Call is safe for concurrent use; when all PoolSize instances are busy it
// waits for one, or for ctx to end.
func (p *Plugin) Call(ctx context.Context, name string, input []byte) ([]byte, error) {
	out, _, err := p.CallInfo(ctx, name, input)
	return out, err
}

// CallInfo describes where a call ran.
type CallInfo struct {
	// Instance numbers the plugin's instances from 1, in the order they
	// were created: calls with the same number ran in the same instance.
	// 0 means no instance ran the call.
	Instance uint64
	// Calls is how many calls the instance has run, this one included: 1
	// is a call that started a new instance (a cold start).
	Calls uint64
	// Fuel is the fuel the call consumed, in wasmtime's units (see
	// PluginConfig.FuelBudget), counted whether or not the plugin has a
	// budget. The instance's start and initialisation are not included:
	// the same call on the same input costs the same on a new instance as
	// on a warm one.
	Fuel uint64
}

// CallInfo is Call that also reports which instance ran the call.
func (p *Plugin) CallInfo(ctx context.Context, name string, input []byte) ([]byte, CallInfo, error) {
	fn, ok := p.mod.exports[name]
	if p.native {
		return nil, CallInfo{}, fmt.Errorf("%w: %s: the module uses the Palyra-native ABI (no input or output): use Run", ErrABI, name)
	}
	if !ok {
		return nil, CallInfo{}, fmt.Errorf("%w: %q", ErrNoFunction, name)
	}
	if err := ctx.Err(); err != nil {
		return nil, CallInfo{}, fmt.Errorf("runtime: %s: %w", name, err)
	}
	inst, err := p.acquire(ctx)
	if err != nil {
		return nil, CallInfo{}, fmt.Errorf("runtime: %s: %w", name, err)
	}
	inst.calls++
	info := CallInfo{Instance: inst.id, Calls: inst.calls}
	inst.lastFuel = 0
	out, keep, err := inst.call(ctx, name, fn, input)
	info.Fuel = inst.lastFuel
	p.release(inst, keep)
	return out, info, err
}

// Var returns the current value of a var.
func (p *Plugin) Var(name string) ([]byte, bool) { return p.vars.get(name) }

// acquire takes a slot and an instance, creating one if none is idle.
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if p.busy < p.cfg.PoolSize {
		p.busy++
	} else if err := p.wait(ctx); err != nil {
		return nil, err // p.mu is unlocked
	}
	var inst *instance
	if n := len(p.idle); n > 0 {
		inst = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if inst == nil {
		var err error
		if inst, err = p.newInstance(ctx); err != nil {
			p.release(nil, false)
			return nil, err
		}
	}
	return inst, nil
}

// wait queues for a slot, with p.mu held; it returns with p.mu held and
// the slot taken, or unlocked with an error.
func (p *Plugin) wait(ctx context.Context) error {
	w := make(chan struct{}, 1)
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	var err error
	select {
	case <-w:
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.done:
		err = ErrClosed
	}
	p.mu.Lock()
	if err == nil && p.closed.Load() {
		err = ErrClosed
	}
	if err == nil {
		return nil
	}
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return err
	}
	// A slot was handed over as the wait ended: pass it on.
	p.mu.Unlock()
	p.release(nil, false)
	return err
}

// release returns the slot, and the instance to the idle set if it is
// still usable (inst may be nil). A waiting call gets the slot.
func (p *Plugin) release(inst *instance, keep bool) {
	if inst != nil && !keep {
		p.discard(inst)
		inst = nil
	}
	p.mu.Lock()
	if inst != nil {
		p.idle = append(p.idle, inst)
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = slices.Delete(p.waiters, 0, 1)
		w <- struct{}{} // the slot stays busy, now the waiter's
	} else {
		p.busy--
		if p.busy == 0 && p.drained != nil {
			close(p.drained)
			p.drained = nil
		}
	}
	p.mu.Unlock()
}

func (p *Plugin) discard(inst *instance) {
	p.mu.Lock()
	delete(p.live, inst)
	p.mu.Unlock()
	inst.close()
}

// Close stops the plugin: calls in progress are stopped (they return
// ErrClosed), waiting calls and later ones fail with ErrClosed, and the
// instances are closed. It waits for the calls in progress to return, or
// for ctx to end; their instances are closed when they do.
func (p *Plugin) Close(ctx context.Context) error {
	if !p.closed.Swap(true) {
		close(p.done)
		p.rt.mu.Lock()
		delete(p.rt.plugins, p)
		p.rt.mu.Unlock()
	}
	p.stopAll()
	p.mu.Lock()
	for p.busy > 0 {
		if p.drained == nil {
			p.drained = make(chan struct{})
		}
		drained := p.drained
		p.mu.Unlock()
		select {
		case <-drained:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		p.discard(inst)
	}
	return nil
}

// stopAll stops every call in progress.
func (p *Plugin) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for inst := range p.live {
		inst.kill(killClosed)
	}
}

// varStore holds a plugin's vars. Extism keeps vars per plugin instance;
// a palyra plugin is a pool of instances, and vars that depended on which
// instance served a call would be useless, so they are per plugin.
type varStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	size int64
	max  int64 // negative: disabled
}

// varOverhead is what each var counts for beyond its bytes, as in
// go-sdk (the size of a string and a slice header).
const varOverhead = 16 + 24

func (s *varStore) init(vars map[string][]byte, max int64) {
	s.max = max
	s.m = make(map[string][]byte, len(vars))
	for k, v := range vars {
		s.m[k] = append([]byte(nil), v...)
		s.size += int64(len(k)+len(v)) + varOverhead
	}
}

func (s *varStore) get(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	return append([]byte(nil), v...), ok
}

func (s *varStore) set(name string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max < 0 {
		return fmt.Errorf("vars are disabled by this host")
	}
	size := s.size
	if old, ok := s.m[name]; ok {
		size -= int64(len(name)+len(old)) + varOverhead
	}
	if value == nil {
		delete(s.m, name)
		s.size = size
		return nil
	}
	size += int64(len(name)+len(value)) + varOverhead
	if size > s.max {
		return fmt.Errorf("variable store is full (%d of %d bytes)", size, s.max)
	}
	s.m[name] = value
	s.size = size
	return nil
}
