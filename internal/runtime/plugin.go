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

	done   chan struct{} // closed by Close and Retire
	closed atomic.Bool
	// instances counts the instances ever created, to number them.
	instances atomic.Uint64

	// The pool: PoolSize slots, each holding at most one instance and
	// serving one call at a time. A call takes a free slot with a
	// compare-and-swap on the slot's own state, and gives it back with a
	// store: calls in different slots write nothing in common (a mutex
	// around the pool, taken twice a call, was most of what two cores
	// running calls side by side contended on).
	slots []*slot
	// recent holds, per P (a sync.Pool's Get and Put touch only the
	// calling P's own entry), the slot a call on that P used last: the
	// next call there tries it first, and so does not read the other
	// slots, whose lines other cores are writing. Only a hint: the
	// garbage collector may empty it.
	recent sync.Pool
	// queued counts the calls waiting for a slot: while it is 0, a
	// returned slot is just stored free, and nothing shared is written.
	queued atomic.Int32

	// mu guards waiters (first come, first served), live, closedSlots
	// and onDrained.
	mu          sync.Mutex
	waiters     []chan *slot
	live        map[*instance]struct{} // every open instance, idle or busy
	closedSlots int
	drained     chan struct{} // closed when every slot is closed
	onDrained   func()        // Retire's callback
}

// A slot's states. A call holds its slot in slotBusy; a free slot is
// slotWarm when it keeps an idle instance, slotCold when it has none.
const (
	slotCold int32 = iota
	slotWarm
	slotBusy
	slotClosed
)

// slot is one place in a plugin's pool. inst is read and written only by
// the call holding the slot (state slotBusy), or by Close once it has
// closed the slot. Each slot is allocated on its own and padded to a
// cache line (64 bytes: 64-byte objects are 64-byte aligned), so that two
// cores never write the same line.
type slot struct {
	state atomic.Int32
	inst  *instance
	_     [64 - 16]byte
}

// take takes the slot if it is free.
func (s *slot) take() bool {
	v := s.state.Load()
	return v <= slotWarm && s.state.CompareAndSwap(v, slotBusy)
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
		slots:  make([]*slot, cfg.PoolSize),

		drained: make(chan struct{}),
	}
	for i := range p.slots {
		p.slots[i] = new(slot)
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
	s, err := p.acquire(ctx)
	if err != nil {
		return nil, CallInfo{}, fmt.Errorf("runtime: %s: %w", name, err)
	}
	inst := s.inst
	inst.calls++
	info := CallInfo{Instance: inst.id, Calls: inst.calls}
	inst.lastFuel = 0
	out, keep, err := inst.call(ctx, name, fn, input)
	info.Fuel = inst.lastFuel
	p.release(s, keep)
	return out, info, err
}

// Var returns the current value of a var.
func (p *Plugin) Var(name string) ([]byte, bool) { return p.vars.get(name) }

// acquire takes a slot, with its instance (created if the slot has
// none): a free one at once unless calls are queued, else the first one
// returned to the pool, or an error when ctx ends or the plugin closes.
func (p *Plugin) acquire(ctx context.Context) (*slot, error) {
	var s *slot
	if p.queued.Load() == 0 {
		if r, _ := p.recent.Get().(*slot); r != nil && r.state.Load() == slotWarm && r.state.CompareAndSwap(slotWarm, slotBusy) {
			s = r
		} else {
			s = p.takeFree()
		}
	}
	if s == nil {
		var err error
		if s, err = p.wait(ctx); err != nil {
			return nil, err
		}
	}
	// Checked after the slot is taken: Close closes the free slots after
	// it sets closed, so a call that took one before must see it here.
	if p.closed.Load() {
		p.release(s, true)
		return nil, ErrClosed
	}
	if s.inst == nil {
		inst, err := p.newInstance(ctx)
		if err != nil {
			p.release(s, false)
			return nil, err
		}
		s.inst = inst
	}
	return s, nil
}

// takeFree takes a free slot, if there is one: the first with an idle
// instance, else the first without, so that sequential calls keep
// reusing one warm instance. It reads the other slots' states, and
// writes only the one it takes.
func (p *Plugin) takeFree() *slot {
	var cold *slot
	for _, s := range p.slots {
		switch s.state.Load() {
		case slotWarm:
			if s.state.CompareAndSwap(slotWarm, slotBusy) {
				return s
			}
		case slotCold:
			if cold == nil {
				cold = s
			}
		}
	}
	if cold != nil && cold.state.CompareAndSwap(slotCold, slotBusy) {
		return cold
	}
	for _, s := range p.slots { // lost a race: take whatever is free
		if s.take() {
			return s
		}
	}
	return nil
}

// wait queues for a slot. A call returning its slot sees queued and hands
// a slot over (handOff); queued is raised before the slots are looked at
// once more, so that either this look sees a slot returned meanwhile or
// its caller sees queued.
func (p *Plugin) wait(ctx context.Context) (*slot, error) {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.queued.Add(1)
	if len(p.waiters) == 0 {
		if s := p.takeFree(); s != nil {
			p.queued.Add(-1)
			p.mu.Unlock()
			return s, nil
		}
	}
	w := make(chan *slot, 1)
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	var err error
	select {
	case s := <-w:
		return s, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.done:
		err = ErrClosed
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.queued.Add(-1)
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Unlock()
	// A slot was handed over as the wait ended: pass it on.
	p.release(<-w, true)
	return nil, err
}

// handOff gives free slots to the calls queued for one, in order.
func (p *Plugin) handOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.waiters) > 0 {
		s := p.takeFree()
		if s == nil {
			return // taken by a call that did not queue: it hands it on
		}
		w := p.waiters[0]
		p.waiters = slices.Delete(p.waiters, 0, 1)
		p.queued.Add(-1)
		w <- s // buffered
	}
}

// release returns a slot taken by acquire. Its instance stays in it if
// keep is set, else it is closed. Once the plugin is closed (Close,
// Retire), the slot is closed instead.
func (p *Plugin) release(s *slot, keep bool) {
	if s.inst != nil && !keep {
		p.discard(s.inst)
		s.inst = nil
	}
	if s.inst != nil {
		s.state.Store(slotWarm)
		p.recent.Put(s)
	} else {
		s.state.Store(slotCold)
	}
	// Both loads come after the store: a call that queues, or a Close
	// that begins, after them finds the slot free.
	if p.queued.Load() > 0 {
		p.handOff()
	}
	if p.closed.Load() && s.take() {
		p.closeSlot(s)
	}
}

// closeSlot closes a slot the caller has taken, and its instance. The
// last one closed ends Close's wait and calls Retire's callback.
func (p *Plugin) closeSlot(s *slot) {
	if s.inst != nil {
		p.discard(s.inst)
		s.inst = nil
	}
	s.state.Store(slotClosed)
	p.mu.Lock()
	p.closedSlots++
	last := p.closedSlots == len(p.slots)
	var done func()
	if last {
		close(p.drained)
		done, p.onDrained = p.onDrained, nil
	}
	p.mu.Unlock()
	if last {
		p.forget()
	}
	if done != nil {
		done()
	}
}

// closeFree closes the slots no call holds; release closes the others as
// their calls return.
func (p *Plugin) closeFree() {
	for _, s := range p.slots {
		if s.take() {
			p.closeSlot(s)
		}
	}
}

func (p *Plugin) discard(inst *instance) {
	p.mu.Lock()
	delete(p.live, inst)
	p.mu.Unlock()
	inst.close()
}

// forget takes the plugin out of its runtime's list.
func (p *Plugin) forget() {
	p.rt.mu.Lock()
	delete(p.rt.plugins, p)
	p.rt.mu.Unlock()
}

// Close stops the plugin: calls in progress are stopped (they return
// ErrClosed), waiting calls and later ones fail with ErrClosed, and the
// instances are closed. It waits for the calls in progress to return, or
// for ctx to end; their instances are closed when they do.
func (p *Plugin) Close(ctx context.Context) error {
	if !p.closed.Swap(true) {
		close(p.done)
		p.forget()
	}
	p.stopAll()
	p.closeFree()
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retire closes the plugin gracefully: calls made from now on, and those
// waiting for an instance, fail with ErrClosed (none of them has run),
// while the calls in progress run to their end. When the last one
// returns, the instances are closed and done (if not nil) is called, in
// that call's goroutine, or in Retire's if none is in progress. Close
// still stops the calls in progress of a retired plugin. Call Retire at
// most once.
func (p *Plugin) Retire(done func()) {
	p.mu.Lock()
	drained := p.closedSlots == len(p.slots)
	if !drained {
		p.onDrained = done
	}
	p.mu.Unlock()
	if drained {
		if done != nil {
			done()
		}
		return
	}
	if !p.closed.Swap(true) {
		close(p.done)
	}
	p.closeFree()
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
