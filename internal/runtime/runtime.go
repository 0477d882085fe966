package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/runtime/instrument"
	"github.com/palyra/palyra-go/internal/runtime/kernel"
)

// Import module names a guest may use, besides WASI preview 1.
const (
	// ExtismEnv is the Extism kernel ABI.
	ExtismEnv = "extism:host/env"
	// ExtismUser is where Extism hosts put their own functions; palyra's is
	// palyra_secret_get.
	ExtismUser = "extism:host/user"
	// PalyraEnv is palyra's bulk-copy fast path.
	PalyraEnv = "palyra:host/env"
)

// Config configures a Runtime.
type Config struct {
	// CompilationCacheDir, if set, keeps compiled machine code on disk
	// (created with mode 0700) so that compiling a module a later process
	// has compiled before only loads it. Empty: compile in memory only.
	CompilationCacheDir string
	// Logger receives the runtime's diagnostics, and guest logs of plugins
	// that set no Logger of their own. Nil: both are dropped.
	Logger *slog.Logger
}

// Runtime compiles modules and runs plugins. It wraps one wazero runtime,
// with WASI preview 1, palyra's Go host functions and the compiled kernel
// shared by all its plugins. It is safe for concurrent use.
type Runtime struct {
	wz       wazero.Runtime
	cache    wazero.CompilationCache
	cacheDir string // of cache; "" without
	kernel   wazero.CompiledModule
	host     api.Module // the Go host functions, anonymous
	caps     api.Module // Palyra's host capabilities, anonymous
	logger   *slog.Logger

	watch *watchdog

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
	closed  bool
}

// New returns a Runtime. Close it to release its compiled code and
// instances.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	// Not wazero's close on context done, which makes each call start a
	// goroutine and each loop iteration leave compiled code: guests are
	// instrumented instead (see Compile), which costs a few instructions
	// per iteration. The kernel is not: its loops are bounded.
	rc := wazero.NewRuntimeConfigCompiler()
	r := &Runtime{logger: cfg.Logger, plugins: make(map[*Plugin]struct{}), watch: newWatchdog()}
	if cfg.CompilationCacheDir != "" {
		if err := os.MkdirAll(cfg.CompilationCacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
		r.cache, r.cacheDir = cache, cfg.CompilationCacheDir
		rc = rc.WithCompilationCache(cache)
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := r.init(ctx); err != nil {
		r.Close(ctx)
		return nil, err
	}
	return r, nil
}

func (r *Runtime) init(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		return fmt.Errorf("runtime: WASI: %w", err)
	}
	host, err := r.compileHostModule(ctx)
	if err != nil {
		return fmt.Errorf("runtime: host functions: %w", err)
	}
	// Anonymous, so that no guest can import it by name: guests reach it
	// only through the import resolver, under the names we choose.
	if r.host, err = r.wz.InstantiateModule(ctx, host, wazero.NewModuleConfig().WithName("")); err != nil {
		return fmt.Errorf("runtime: host functions: %w", err)
	}
	caps, err := r.compileCapabilities(ctx)
	if err != nil {
		return fmt.Errorf("runtime: host capabilities: %w", err)
	}
	if r.caps, err = r.wz.InstantiateModule(ctx, caps, wazero.NewModuleConfig().WithName("")); err != nil {
		return fmt.Errorf("runtime: host capabilities: %w", err)
	}
	if r.kernel, err = r.wz.CompileModule(ctx, kernel.Wasm); err != nil {
		return fmt.Errorf("runtime: kernel: %w", err)
	}
	return nil
}

// Close closes every plugin of the runtime, stopping calls in progress
// and waiting for them to return (or for ctx to end: then it returns
// ctx's error and leaves the runtime open, as closing wazero under a
// running guest is not safe), and releases all compiled code. The
// compilation cache directory stays.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	plugins := make([]*Plugin, 0, len(r.plugins))
	for p := range r.plugins {
		plugins = append(plugins, p)
	}
	r.mu.Unlock()
	for _, p := range plugins {
		p.stopAll() // all at once, then wait for each
	}
	for _, p := range plugins {
		if err := p.Close(ctx); err != nil {
			return fmt.Errorf("runtime: close: %w", err)
		}
	}
	r.watch.stop()
	err := r.wz.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// Module is a compiled guest module, from which plugins are made.
type Module struct {
	rt       *Runtime
	compiled wazero.CompiledModule
	// exports holds the exported functions Extism can call.
	exports map[string]export
	// abi is the module's ABI, from its imports; nativeErr says why Run
	// cannot run it (nil: it can).
	abi           ABI
	nativeErr     error
	importModules []string // one per import
}

// Compile compiles a guest module.
//
// Compile does not protect the process from hostile bytes: wazero v1.12's
// decoder allocates from count fields before checking them, and a module
// of a few bytes can make it request hundreds of gigabytes, which kills
// the process (no recover helps). Give it only modules that passed
// internal/audit, whose bounds guard rejects such counts, or that come
// from a trusted source.
//
// The module is compiled instrumented (internal/runtime/instrument) so
// that a timeout, a cancellation or Close can stop it wherever it is,
// even in a loop that never calls out.
func (r *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	stoppable, err := r.instrument(wasm)
	if err != nil {
		// wazero's error says more about a module it cannot read either.
		c, cerr := r.wz.CompileModule(ctx, wasm)
		if cerr != nil {
			return nil, fmt.Errorf("runtime: compile: %w", cerr)
		}
		c.Close(ctx)
		return nil, fmt.Errorf("runtime: compile: %w", err)
	}
	compiled, err := r.wz.CompileModule(ctx, stoppable)
	if err != nil {
		return nil, fmt.Errorf("runtime: compile: %w", err)
	}
	m := &Module{rt: r, compiled: compiled, exports: make(map[string]export)}
	for name, def := range compiled.ExportedFunctions() {
		if strings.HasPrefix(name, instrument.Reserved) {
			continue // the instrumenter's, such as the start function
		}
		if len(def.ParamTypes()) == 0 && len(def.ResultTypes()) <= 1 {
			m.exports[name] = export{index: len(m.exports), hasResult: len(def.ResultTypes()) == 1,
				i32: len(def.ResultTypes()) == 1 && def.ResultTypes()[0] == api.ValueTypeI32}
		}
	}
	m.detectABI()
	return m, nil
}

// instrument returns wasm instrumented, from the compilation cache when it
// has it: instrumenting a Go guest takes a fifth of a cold start from the
// cache. The cache dir is trusted as wazero's compiled code in it is.
func (r *Runtime) instrument(wasm []byte) ([]byte, error) {
	if r.cacheDir == "" {
		return instrument.Instrument(wasm)
	}
	sum := sha256.Sum256(wasm)
	path := filepath.Join(r.cacheDir, fmt.Sprintf("palyra-instrumented-v%d", instrument.Version), hex.EncodeToString(sum[:])+".wasm")
	if out, err := os.ReadFile(path); err == nil {
		return out, nil
	}
	out, err := instrument.Instrument(wasm)
	if err != nil {
		return nil, err
	}
	// A cache: failing to fill it costs only time, next start.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		if err := atomicfile.WriteFile(path, out, 0o600); err != nil && r.logger != nil {
			r.logger.Warn("runtime: caching an instrumented module", "error", err)
		}
	}
	return out, nil
}

// export is a function a plugin can call: its index among them (each
// instance caches its api.Functions by index), whether it returns a
// status, and whether that is an i32 (a Palyra-native entrypoint).
type export struct {
	index     int
	hasResult bool
	i32       bool
}

// Close releases the module's compiled code. Plugins made from it must be
// closed first.
func (m *Module) Close(ctx context.Context) error {
	return m.compiled.Close(ctx)
}
