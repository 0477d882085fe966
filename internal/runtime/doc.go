// Package runtime runs skills: WebAssembly modules built with an Extism
// PDK (any language) or with palyra's sdk, in a wazero sandbox, with
// palyra's own implementation of the Extism kernel ABI, and modules
// written for Palyra's native plugin ABI (see below).
//
// A Runtime compiles modules (with an optional on-disk compilation
// cache); a Plugin is a compiled module with its configuration, quotas and
// capabilities, served by a bounded pool of warm instances:
//
//	rt, _ := runtime.New(ctx, runtime.Config{CompilationCacheDir: dir})
//	mod, _ := rt.Compile(ctx, wasm) // audited bytes only: see Compile
//	p, _ := rt.NewPlugin(ctx, mod, runtime.PluginConfig{Timeout: 2 * time.Second})
//	out, err := p.Call(ctx, "forecast", input)
//
// A call's errors are typed: *GuestError when the guest reported a
// failure (error_set or a non-zero return), *TrapError when it did not
// complete (a trap, a host function refusing, a non-zero proc_exit; the
// instance is discarded and replaced), an error matching
// context.DeadlineExceeded or context.Canceled when the plugin's Timeout
// or the caller's ctx ended it, ErrNoFunction, ErrClosed.
//
// # Instances
//
// Each instance is a guest instance linked to its own kernel instance:
// wazero's experimental import resolver makes the guest's
// "extism:host/env" imports resolve to that kernel, so guest-to-kernel
// calls are Wasm-to-Wasm calls that stay in compiled code. The host reads
// and writes kernel memory and globals directly: a call is one Wasm entry
// (the guest function), with cached api.Functions and CallWithStack.
// Language runtimes are initialised before an instance's first call as
// go-sdk does (hs_init, else _initialize, else __wasm_call_ctors). An
// instance serves one call at a time; one that trapped, exited or was
// stopped is closed, and the next call creates a fresh one.
//
// A plugin's pool is PoolSize slots, each holding at most one instance.
// A call takes a free slot with a compare-and-swap on that slot alone
// (first the one its P used last, then the first with an idle instance,
// so that sequential calls keep reusing one warm instance) and gives it
// back with a store: calls on different cores write no memory in common,
// and two goroutines get about twice the calls of one (see
// BENCHMARKS.md). Calls that find every slot busy queue, first come first
// served. Retire closes a plugin gracefully: new calls are refused, those
// in progress finish, then the instances close.
//
// # ABI
//
// extism:host/env, with Extism's signatures (handles and lengths are i64
// offsets into kernel memory, which is not the guest's memory):
//
//	alloc(n i64) i64            free(h i64)
//	length(h i64) i64           length_unsafe(h i64) i64
//	load_u8(p i64) i32          load_u64(p i64) i64
//	store_u8(p i64, v i32)      store_u64(p i64, v i64)
//	input_length() i64          input_offset() i64
//	input_load_u8(o i64) i32    input_load_u64(o i64) i64
//	input_set(h i64, n i64)     output_set(h i64, n i64)
//	output_length() i64         output_offset() i64
//	error_set(h i64)            error_get() i64
//	reset()                     memory_bytes() i64
//	config_get(key i64) i64     var_get(name i64) i64    var_set(name i64, value i64)
//	http_request(req i64, body i64) i64  http_status_code() i32  http_headers() i64
//	log_trace/log_debug/log_info/log_warn/log_error(msg i64)     get_log_level() i32
//
// The first group is the kernel, internal/runtime/kernel's kernel.wat; the
// rest are Go host functions. Out-of-range loads return 0 and stores are
// ignored, as in Extism's kernel; 0 is the null handle (a missing config
// key or var, an empty value, a failed alloc). http_request takes Extism's
// JSON request ({"url", "method", "headers"}) and sends it through
// PluginConfig.HTTP, which applies the egress policy; with no client it
// traps with "HTTP request to '<url>' is not allowed". http_headers
// returns a JSON object of the last response's headers, lower-cased.
// Log functions free their message.
//
// extism:host/user, palyra's secret store:
//
//	palyra_secret_get(ref i64) i64
//
// ref is a block holding "scope/key" (split at the last '/', scope as in
// skill.toml: global, principal:ID, channel:ID, skill:ID); the result is a
// block holding the secret from PluginConfig.Secrets. On failure it
// returns 0 and sets the call's error (error_get) to the reason, so a
// guest that ignores the 0 fails with that message; one that recovers
// calls error_set(0). A ref that is not a block traps.
//
// palyra:host/env, the bulk-copy fast path for palyra's sdk (i32
// addresses in the guest's own memory; one copy instead of a kernel call
// per 8 bytes):
//
//	input_read(dst i32, n i32) i32   copy up to n bytes of the input (as
//	                                 input_offset/input_length describe it)
//	                                 to dst; returns the count copied
//	output_write(src i32, n i32)     set the output to a copy of [src, src+n);
//	                                 a later output_set replaces it, and it
//	                                 replaces an earlier one
//	error_write(src i32, n i32)      set the call's error message to
//	                                 [src, src+n) (n = 0 clears it)
//
// A range outside guest memory traps.
//
// # Palyra-native ABI
//
// A module importing from palyra:plugins/host-capabilities@0.1.0 is
// written for Palyra's own plugin ABI (Module.ABI reports ABIPalyra; see
// package guestabi): its instances are linked to those eight functions
// and nothing else, no kernel and no WASI (NewPlugin refuses such a module
// that imports anything else, ErrABI), and Plugin.Run calls its
// entrypoint, an exported () -> i32 function, with no input or output:
//
//	http-count() i32      http-handle(index i32) i32
//	secret-count() i32    secret-handle(index i32) i32
//	storage-count() i32   storage-handle(index i32) i32
//	channel-count() i32   channel-handle(index i32) i32
//
// The counts and handles come from PluginConfig.Capabilities, as Palyra's
// CapabilityHandles::from_grants makes them: each class canonicalized,
// handle = base + index (10000, 20000, 30000, 40000), -1 for an index out
// of range. Run goes through the same call path as Call (pooled
// instances, fuel budget, timeout, ctx, memory and table limits, a
// stopped or trapped instance discarded); the start function runs before
// the first call, _initialize never does. A module with no imports at all
// can be called either way. Call on a Palyra-native plugin fails with
// ErrABI.
//
// # Quotas
//
// MaxMemoryBytes bounds each instance's linear memory, the guest's and
// the kernel's together: both are allocated through a per-instance wazero
// memory allocator (experimental.WithMemoryAllocator) that refuses a
// growth past the quota, so memory.grow returns -1 to the guest and the
// kernel's alloc returns 0. A guest that cannot cope traps (a Go guest
// dies with "fatal error: out of memory"), and its TrapError matches
// ErrMemoryLimit; a module whose initial memory exceeds the quota fails
// to instantiate with ErrMemoryLimit; an input that does not fit is
// refused before the call.
//
// Timeout and the caller's ctx stop the guest, wherever it is: every
// module is compiled instrumented (package instrument), and killing an
// instance sets its kill flag, which the guest checks each time it draws
// a slice of fuel (every instrument.FuelSlice units, a millisecond or so,
// when it also leaves compiled code so the goroutine can be preempted)
// and after every bulk memory or table operation (memory.copy of 60 MB is
// one unit of fuel but takes milliseconds). The runtime's watchdog
// goroutine kills an instance whose call is past its Timeout: it sleeps
// until the earliest deadline of the calls in progress (monotonic clock;
// no ticker, nothing a call writes but its own instance's deadline), and
// context.AfterFunc kills one whose caller's ctx ended. A guest that
// grows its memory checks its deadline itself, in its own goroutine, at
// every growth, and the pages a growth adds are faulted in then, in
// preemptible chunks: the page faults of a bulk operation on fresh
// memory, in compiled code, would hold off a garbage collection's stack
// scan for as long, and the collector's worker would spin meanwhile,
// starving every goroutine of the process, the watchdog included. WASI sleeps are real but cut short the same way; HTTP requests
// end with the caller's ctx or the timeout. wazero's own
// close-on-context-done, which this replaces, costs a goroutine per call
// and an exit to Go at every loop iteration, most of a call's time for
// loop-heavy guests such as Go's (see the benchmarks).
//
// The module's start function does not run inside instantiation, where
// nothing could stop it: the instrumenter exports it instead, and the
// first call on a new instance runs it, then the language runtime's
// initialisation, under the call's deadline and ctx and a fuel budget of
// their own.
//
// Fuel is metered as wasmtime meters it with consume_fuel and its default
// operator costs (Palyra runs skills on wasmtime; a manifest's
// fuel_budget is in its units): every operator costs 1 except nop, drop,
// block, loop, unreachable, return, else and end, which cost 0; entering
// a function costs 1; code after an unconditional branch costs nothing;
// the budget is checked on function entry and at loop headers, and a call
// whose fuel used reaches its budget there traps with ErrFuelExhausted.
// Host functions cost only the call instruction, and the kernel is a host
// function in this sense: its instructions are not counted. CallInfo.Fuel
// reports what a call consumed, the same on every run of the same call on
// the same input. PluginConfig.FuelBudget is per call, refilled each call.
//
// Tables count in MaxMemoryBytes, 8 bytes an element, and are capped at
// MaxTableElements: a table.grow past either returns -1 to the guest.
//
// Guest stdout and stderr become log records (one per line, lines cut at
// 4 KiB, within the call's log budget below); the start of stderr is
// kept in TrapError.Stderr. Clocks are the host's and randomness is
// crypto/rand (wazero's defaults are deterministic fakes). Mounts are WASI
// preopens, read-only when asked, in which the guest cannot make symbolic
// or hard links: the host's kernel would follow a guest's symbolic link
// out of the mount (wazero's directory mounts do not stop that).
//
// Logs are bounded per call for every consumer: a call's log_* records
// and stdout/stderr lines together reach the logger (the embedder's
// handler included) up to MaxLogRecords records and MaxLogBytes bytes of
// messages, checked before the logger is called; the rest are dropped,
// with one record "guest logs truncated" saying so. A dropped log_*
// record's block is freed all the same. The check costs a few
// nanoseconds a record.
//
// Open files are bounded per instance: each instance's mounts are wrapped
// (at its creation, a couple of microseconds against the milliseconds an
// instance takes) to count the files and directories the guest holds
// open through WASI, the preopens excepted, and past MaxOpenFiles
// path_open fails with EAGAIN: wazero's file system interface has no
// EMFILE (nor ENOSPC: any errno outside its set reaches the guest as EIO,
// the host's own EMFILE and ENOSPC included). A plugin's instances hold
// at most PoolSize × MaxOpenFiles descriptors. Closing an instance
// (discarded after a trap, an exit or a timeout, or at Close) closes
// every file its guest left open.
//
// WriteQuotaBytes bounds the bytes of the regular files under a plugin's
// writable mounts, summed (apparent sizes: a sparse file's holes count).
// The quota is the plugin's, shared by its instances (the host makes one
// plugin per skill module), and what the mounts held before counts:
// NewPlugin walks them once, refusing mounts of more than 100,000
// entries. A write, pwrite, truncate or fd_allocate that would take the
// total past the quota fails with EIO and writes nothing; a removed or
// replaced file frees its bytes when its last descriptor closes. Writes
// under a quota take a plugin-wide lock, an fstat and a seek each. Only
// the guest's changes are tracked: the host's count at the next
// NewPlugin. Directory entries and inodes are not counted. Each refusal
// (open-file limit, write quota) is logged once per call, as a warning
// with "source"="runtime".
//
// Compatibility with Extism is tested against extism/go-sdk on the test
// plugins it ships; the differences are listed in CONFORMANCE.md.
package runtime
