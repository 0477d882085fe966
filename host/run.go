package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/egress"
	"github.com/palyra/palyra-go/internal/guestabi"
	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/internal/secrets"
	"github.com/palyra/palyra-go/internal/toolschema"
)

// Call errors callers tell apart with errors.Is or errors.As.
var (
	// ErrNotEligible: the skill's current version is not in service
	// (quarantined, or an install not finished).
	ErrNotEligible = errors.New("skill not eligible to run")
	// ErrNoTool: the skill declares no such tool.
	ErrNoTool = errors.New("no such tool")
	// ErrClosed: the host was closed.
	ErrClosed = errors.New("host closed")
	// ErrMemoryLimit: the guest tried to grow its memory past the quota.
	ErrMemoryLimit = runtime.ErrMemoryLimit
	// ErrFuelExhausted: the guest used up its fuel budget.
	ErrFuelExhausted = runtime.ErrFuelExhausted
)

// GuestError is a call the guest itself failed: it returned a non-zero
// code or set an error message.
type GuestError = runtime.GuestError

// TrapError is a call that did not complete: the guest trapped
// (unreachable, out-of-bounds access, a Go panic, memory past the quota),
// exited, or was refused a capability by a host function.
type TrapError = runtime.TrapError

// DefaultJournalPollInterval is how often, at most, a call re-reads the
// journal to notice a change another process made to the skill it calls.
const DefaultJournalPollInterval = time.Second

// CallResult is one call and what it logged.
type CallResult struct {
	SkillID  string        `json:"skill_id"`
	Version  string        `json:"version"`
	Tool     string        `json:"tool"`
	CallID   uint64        `json:"call_id"`
	Output   []byte        `json:"-"`
	Duration time.Duration `json:"duration_ns"`
	// Module is the artifact's module that exports the tool, like
	// "modules/echo.wasm".
	Module string `json:"module"`
	// Instance numbers the module's instances in this Host from 1: calls
	// with the same Instance ran in the same warm instance. InstanceCalls
	// is how many calls that instance has run, this one included (1: the
	// call started it).
	Instance      uint64 `json:"instance"`
	InstanceCalls uint64 `json:"instance_calls"`
	// FuelConsumed is the fuel the call consumed, in wasmtime's units: the
	// same call on the same input reports the same number every time.
	FuelConsumed uint64 `json:"fuel_consumed"`
	// Logs are the guest's log records and stdout/stderr lines, at the
	// skill's log level and within the per-call bounds.
	Logs []GuestLog `json:"logs"`
}

// GuestLog is one record a guest logged during a call.
type GuestLog struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	// Stream is "stdout" or "stderr" for WASI output, "" for log_*.
	Stream string `json:"stream,omitempty"`
}

// Call calls tool (a tool id or name from the manifest) of the current
// version of skillID, which must be eligible, with input, and returns its
// output.
//
// The skill runs with the capabilities the operator granted and the
// quotas min(manifest, policy): a capability not granted fails the call
// with an error naming it, the wall-clock quota and ctx stop the guest
// wherever it is. The input must match the tool's input_schema (checked
// before the guest runs) and the output its output_schema, as
// Policy.ToolSchemas says. Errors callers tell apart: ErrNotInstalled,
// ErrNotEligible, ErrNoTool, *GuestError, *TrapError (ErrMemoryLimit),
// *SchemaViolation (ErrSchemaViolation), context.DeadlineExceeded and
// context.Canceled, ErrClosed.
//
// A tool of a Palyra-native module (see docs/abi.md) runs as Palyra runs
// it: its entrypoint, with capability handles of what was granted and no
// input (input is ignored, as Palyra's ABI has none to give, but still
// validated against the input schema); its output is {"exit_code":N}, N
// being the i32 the entrypoint returned, not checked against the output
// schema.
//
// The first call to a skill loads it: its modules come from the
// installed copy of the signed artifact, checked against the payload
// digest the journal recorded, and are compiled once (with a compilation
// cache under <state>/cache, so a restart does not recompile). Later
// calls reuse a pool of warm instances. Call is safe for concurrent use;
// changes made through this Host take effect at once, changes made by
// other processes within Options.JournalPollInterval.
func (h *Host) Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error) {
	return withLoaded(ctx, h, skillID, func(ls *loadedSkill) ([]byte, error) { return ls.call(ctx, tool, input) })
}

// withLoaded runs f on skillID ready to run, and again on its current
// version while f's call was refused by a version retired meanwhile.
func withLoaded[T any](ctx context.Context, h *Host, skillID string, f func(*loadedSkill) (T, error)) (T, error) {
	for {
		ls, err := h.loaded(ctx, skillID)
		if err != nil {
			var zero T
			return zero, err
		}
		res, err := f(ls)
		if h.refusedByRetired(ls, err) {
			continue
		}
		return res, err
	}
}

func (ls *loadedSkill) call(ctx context.Context, tool string, input []byte) ([]byte, error) {
	t, err := ls.tool(tool)
	if err != nil {
		return nil, err
	}
	if ls.logs {
		// Only when the host logs guest records: the value costs an
		// allocation per call.
		ctx = context.WithValue(ctx, callKey{}, &callRecorder{id: ls.h.callSeq.Add(1)})
	}
	if err := ls.checkInput(ctx, t, input); err != nil {
		return nil, err
	}
	if t.native {
		out, _, err := runNative(ctx, t)
		if err != nil {
			return nil, ls.callError(t, err)
		}
		return out, nil
	}
	out, err := t.plugin.Call(ctx, t.export, input)
	if err != nil {
		return nil, ls.callError(t, err)
	}
	if err := ls.checkOutput(ctx, t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// refusedByRetired reports whether a call failed only because its skill
// was retired (reinstalled, removed, its grants or config changed)
// between the lookup and the call: a retired skill's plugins refuse new
// calls, which never ran, so they run again on the current version. A
// retired skill's calls in progress are never stopped, so ErrClosed from
// one means the call was refused, unless the host is closing.
func (h *Host) refusedByRetired(ls *loadedSkill, err error) bool {
	return err != nil && ls.retired.Load() && !h.runClosed.Load() && errors.Is(err, runtime.ErrClosed)
}

// Run is Call that also reports how the call went: its duration and the
// guest's logs (for `palyra skills run --json`).
func (h *Host) Run(ctx context.Context, skillID, tool string, input []byte) (*CallResult, error) {
	return withLoaded(ctx, h, skillID, func(ls *loadedSkill) (*CallResult, error) { return ls.run(ctx, tool, input) })
}

func (ls *loadedSkill) run(ctx context.Context, tool string, input []byte) (*CallResult, error) {
	t, err := ls.tool(tool)
	if err != nil {
		return nil, err
	}
	res := &CallResult{SkillID: ls.skillID, Version: ls.version, Tool: t.id, CallID: ls.h.callSeq.Add(1), Logs: []GuestLog{}}
	if err := ls.checkInput(ctx, t, input); err != nil {
		return res, err
	}
	rec := &callRecorder{id: res.CallID, record: true}
	start := time.Now()
	var out []byte
	var info runtime.CallInfo
	if t.native {
		out, info, err = runNative(ctx, t)
	} else {
		out, info, err = t.plugin.CallInfo(context.WithValue(ctx, callKey{}, rec), t.export, input)
	}
	res.Duration = time.Since(start)
	res.Module, res.Instance, res.InstanceCalls = t.module, info.Instance, info.Calls
	res.FuelConsumed = info.Fuel
	rec.mu.Lock()
	res.Logs = append(res.Logs, rec.logs...)
	rec.mu.Unlock()
	if err != nil {
		return res, ls.callError(t, err)
	}
	if err := ls.checkOutput(ctx, t, out); err != nil {
		return res, err
	}
	res.Output = out
	return res, nil
}

// loadedSkill is one skill version ready to run: its compiled modules and
// a plugin per module, with the grants and quotas of when it was loaded.
type loadedSkill struct {
	h                *Host
	skillID, version string
	seq              int64 // the journal's last event for the skill when loaded
	// stale is set by staleTimer once the journal poll interval has
	// passed since the last check: the next call re-reads the journal.
	// A flag set by a timer costs a call nothing; reading the clock on
	// every call cost a tenth of a no-op call.
	stale      atomic.Bool
	staleTimer *time.Timer
	tools      map[string]*loadedTool
	toolNames  []string
	plugins    []*runtime.Plugin
	modules    []*runtime.Module
	egress     *egress.Client
	logs       bool // the host's logger takes guest records at the skill's level
	schemaWarn bool // Policy.ToolSchemas is "warn": log violations, go on

	retired  atomic.Bool
	retiring sync.Once
	closing  sync.Once
}

type loadedTool struct {
	id, export string // export: the function called (a native tool's entrypoint)
	module     string // its path in the artifact
	plugin     *runtime.Plugin
	native     bool             // Palyra-native: Run the entrypoint, output {"exit_code": N}
	schemas    *toolschema.Tool // nil: not checked (Policy.ToolSchemas "off")
}

func (ls *loadedSkill) tool(name string) (*loadedTool, error) {
	if t, ok := ls.tools[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%s %s: %w %q (tools: %s)", ls.skillID, ls.version, ErrNoTool, name, strings.Join(ls.toolNames, ", "))
}

func (ls *loadedSkill) callError(t *loadedTool, err error) error {
	if errors.Is(err, runtime.ErrClosed) {
		err = fmt.Errorf("%w (%w)", ErrClosed, err)
	}
	return fmt.Errorf("%s %s: %s: %w", ls.skillID, ls.version, t.id, err)
}

// retire takes the skill out of service without failing the calls in
// progress (a reinstall or a grants change must not): its plugins refuse
// new calls (Call runs them on the current version instead) and close as
// their last call in progress returns; the last of them closes the skill.
// No call counts itself in or out of the skill: that was a counter every
// call wrote twice; the plugins' pools know which calls are in progress.
func (ls *loadedSkill) retire() {
	ls.retiring.Do(func() {
		ls.retired.Store(true)
		if ls.staleTimer != nil {
			ls.staleTimer.Stop()
		}
		if len(ls.plugins) == 0 {
			ls.close()
			return
		}
		var left atomic.Int32
		left.Store(int32(len(ls.plugins)))
		for _, p := range ls.plugins {
			p.Retire(func() {
				if left.Add(-1) == 0 {
					ls.close()
				}
			})
		}
	})
}

func (ls *loadedSkill) close() {
	ls.closing.Do(func() {
		ctx := context.Background()
		if ls.staleTimer != nil {
			ls.staleTimer.Stop()
		}
		for _, p := range ls.plugins {
			p.Close(ctx)
		}
		for _, m := range ls.modules {
			m.Close(ctx)
		}
		if ls.egress != nil {
			ls.egress.CloseIdleConnections()
		}
	})
}

// loaded returns the skill ready to run: the cached one if the journal
// (re-read at most every poll interval) says it is still current, else a
// fresh load.
func (h *Host) loaded(ctx context.Context, skillID string) (*loadedSkill, error) {
	if h.runClosed.Load() {
		return nil, ErrClosed
	}
	if ls := h.cached(skillID); ls != nil {
		if !ls.stale.Load() || !ls.stale.CompareAndSwap(true, false) {
			return ls, nil
		}
		// This call re-reads the journal for everyone.
		seq, err := h.journal.LastEventSeq(ctx, skillID)
		if err != nil {
			ls.stale.Store(true) // the next call tries again
			return nil, err
		}
		if seq == ls.seq {
			ls.staleTimer.Reset(h.pollInterval())
			return ls, nil
		}
		h.invalidate(skillID)
	}
	return h.load(ctx, skillID)
}

// cached returns the loaded copy of skillID, if any.
func (h *Host) cached(skillID string) *loadedSkill {
	if m := h.skills.Load(); m != nil {
		return (*m)[skillID]
	}
	return nil
}

// setCached stores (ls non-nil) or drops the loaded copy of skillID in a
// new map; h.runMu is held.
func (h *Host) setCached(skillID string, ls *loadedSkill) {
	old := h.skills.Load()
	if old == nil {
		return // closed
	}
	m := make(map[string]*loadedSkill, len(*old)+1)
	maps.Copy(m, *old)
	if ls != nil {
		m[skillID] = ls
	} else {
		delete(m, skillID)
	}
	h.skills.Store(&m)
}

func (h *Host) pollInterval() time.Duration {
	if h.opts.JournalPollInterval > 0 {
		return h.opts.JournalPollInterval
	}
	return DefaultJournalPollInterval
}

// pendingLoad is one skill's load in progress. done closes when it ends;
// then err is its failure, or nil with the skill in h.skills.
type pendingLoad struct {
	done chan struct{}
	err  error
}

// load returns the current version of skillID: from the cache, else from a load it starts or one already in progress for the
// same skill.
//
// Loads are per skill and run in their own goroutine: a skill whose
// compile is slow delays only its own callers, who stop waiting when
// their ctx ends (the load goes on and is cached for the next call).
// Close cancels the loads in progress and waits for them; one that
// finishes after Close releases what it made.
func (h *Host) load(ctx context.Context, skillID string) (*loadedSkill, error) {
	for {
		h.loadMu.Lock()
		ls := h.cached(skillID)
		// Read under loadMu, which Close takes after it sets runClosed and
		// before it waits for the loads: a load started here is waited for.
		closed := h.runClosed.Load()
		pl := h.loading[skillID]
		if !closed && ls == nil && pl == nil {
			pl = h.startLoad(skillID)
		}
		h.loadMu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case ls != nil:
			return ls, nil
		}

		select {
		case <-pl.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if pl.err != nil {
			if h.runClosed.Load() {
				return nil, ErrClosed
			}
			return nil, pl.err
		}
		// Loaded and cached: take it from the cache (or, if it was
		// invalidated meanwhile, load again).
	}
}

// startLoad starts loading skillID in a goroutine; h.loadMu is held,
// runClosed is false.
func (h *Host) startLoad(skillID string) *pendingLoad {
	if h.loading == nil {
		h.loading = make(map[string]*pendingLoad)
		h.loadCtx, h.loadCancel = context.WithCancel(context.Background())
	}
	pl := &pendingLoad{done: make(chan struct{})}
	h.loading[skillID] = pl
	h.loads.Add(1)
	go func() {
		defer h.loads.Done()
		err := h.loadNow(h.loadCtx, skillID)
		h.loadMu.Lock()
		delete(h.loading, skillID)
		pl.err = err
		close(pl.done)
		h.loadMu.Unlock()
	}()
	return pl
}

// loadNow loads the current version of skillID into h.skills.
func (h *Host) loadNow(ctx context.Context, skillID string) error {
	if h.opts.loadHook != nil {
		h.opts.loadHook(ctx, skillID)
	}
	seq, err := h.journal.LastEventSeq(ctx, skillID)
	if err != nil {
		return err
	}
	st, err := h.current(ctx, skillID)
	if err != nil {
		return err
	}
	if !st.State.Runnable() {
		why := ""
		if st.Reason != "" {
			why = ": " + st.Reason
		}
		return fmt.Errorf("%s %s is %s%s: %w", skillID, st.Version, st.State, why, ErrNotEligible)
	}
	rt, err := h.runtime(ctx)
	if err != nil {
		return err
	}
	ls, err := h.prepare(ctx, rt, st)
	if err != nil {
		return fmt.Errorf("%s %s: load: %w", skillID, st.Version, err)
	}
	ls.seq = seq
	ls.staleTimer = time.AfterFunc(h.pollInterval(), func() { ls.stale.Store(true) })

	h.runMu.Lock()
	defer h.runMu.Unlock()
	if h.runClosed.Load() {
		ls.retire()
		return ErrClosed
	}
	h.setCached(skillID, ls)
	return nil
}

// prepare reads, checks and compiles an installed version and makes its
// plugins with its grants and quotas.
func (h *Host) prepare(ctx context.Context, rt *runtime.Runtime, st journal.Status) (_ *loadedSkill, err error) {
	dir := h.versionDir(st.SkillID, st.Version)
	data, err := os.ReadFile(filepath.Join(dir, artifactCopyName))
	if err != nil {
		return nil, err
	}
	// The copy must be the artifact that was verified and audited at
	// install: same payload digest. Its signature and integrity list are
	// checked again on the way.
	a, err := artifact.OpenBytes(ctx, data, nil)
	if err != nil {
		return nil, fmt.Errorf("installed artifact: %w", err)
	}
	if a.PayloadSHA256 != st.PayloadSHA256 {
		return nil, fmt.Errorf("installed artifact's payload digest %s differs from the journal's %s (run palyra skills check)", a.PayloadSHA256, st.PayloadSHA256)
	}
	m := a.Manifest
	g, err := h.storedGrants(ctx, st)
	if err != nil {
		return nil, err
	}
	oc, err := h.operatorConfig(ctx, st, m)
	if err != nil {
		return nil, err
	}
	p := h.policy.withDefaults()
	q := m.Capabilities.Quotas

	ls := &loadedSkill{h: h, skillID: st.SkillID, version: st.Version, tools: make(map[string]*loadedTool),
		logs: h.log.Enabled(ctx, guestLogLevel(p.LogLevel))}
	defer func() {
		if err != nil {
			ls.close()
		}
	}()
	cfg := runtime.PluginConfig{
		Config:           oc.config, // config.go
		Vars:             oc.vars,
		MaxMemoryBytes:   min(q.MaxMemoryBytes, p.MaxMemoryBytes),
		Timeout:          time.Duration(min(q.WallClockTimeoutMS, p.MaxWallClockTimeoutMS)) * time.Millisecond,
		FuelBudget:       min(q.FuelBudget, p.FuelBudget),
		PoolSize:         p.InstancesPerSkill,
		MaxTableElements: p.MaxTableElements,
		MaxOpenFiles:     p.MaxOpenFiles,
		MaxLogRecords:    p.MaxLogRecordsPerCall,
		MaxLogBytes:      p.MaxLogBytesPerCall,
		WriteQuotaBytes:  p.MaxWriteRootBytes,
		Logger: slog.New(&guestLogHandler{
			next:  h.log.Handler(),
			attrs: []slog.Attr{slog.String("skill", st.SkillID), slog.String("version", st.Version)},
		}),
		LogLevel:             guestLogLevel(p.LogLevel),
		MaxHTTPResponseBytes: p.MaxHTTPResponseBytes,
	}
	if len(m.Capabilities.HTTPEgressAllowlist) > 0 {
		if err := h.wildcardsAllowed(g); err != nil {
			return nil, fmt.Errorf("HTTP egress: %w", err)
		}
		ls.egress, err = egress.New(egress.Policy{
			AllowedHosts:          g.HTTPHosts,
			AllowWildcards:        m.Capabilities.WildcardOptIn.HTTPEgress,
			AllowedPorts:          p.HTTPPorts,
			AllowPrivateAddresses: p.AllowPrivateNetwork,
			MaxResponseBytes:      p.MaxHTTPResponseBytes,
			Resolver:              h.opts.resolver,
			RootCAs:               h.opts.rootCAs,
		})
		if err != nil {
			return nil, fmt.Errorf("HTTP egress: %w", err)
		}
		cfg.HTTP = egressDoer{ls.egress}
	}
	if len(m.Capabilities.Secrets) > 0 {
		store, err := h.secretStore()
		if err != nil {
			return nil, err
		}
		var sg []secrets.Grant
		for _, s := range g.Secrets {
			// Another skill's secrets are never readable, whatever an
			// older version recorded.
			if !foreignSecretScope(st.SkillID, s.Scope) {
				sg = append(sg, secrets.Grant{Scope: s.Scope, KeyNames: s.KeyNames})
			}
		}
		cfg.Secrets = runtime.SecretFunc(store.Granted(sg))
	}
	if cfg.Mounts, err = h.mounts(st.SkillID, g); err != nil {
		return nil, err
	}

	// Each Extism tool runs in the module that exports it (the audit
	// checked that exactly one does); a tool no Extism module exports runs
	// as Palyra runs it, in a Palyra-native module (see nativeTools).
	names, entry := guestabi.ToolNames(m), guestabi.Entrypoint(m)
	var native []nativeModule
	for _, f := range a.Files {
		if !strings.HasPrefix(f.Path, "modules/") || path.Ext(f.Path) != ".wasm" {
			continue
		}
		mod, err := rt.Compile(ctx, f.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		ls.modules = append(ls.modules, mod)
		abi := mod.ABIFor(names, entry)
		mcfg := cfg
		if abi == runtime.ABIPalyra {
			// Palyra's capabilities, as handles; no WASI, so no mounts,
			// and no Extism host functions.
			mcfg.Mounts, mcfg.HTTP, mcfg.Secrets = nil, nil, nil
			mcfg.Capabilities = nativeGrants(g)
		}
		plugin, err := rt.NewPlugin(ctx, mod, mcfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		ls.plugins = append(ls.plugins, plugin)
		native = append(native, nativeModule{path: f.Path, abi: abi, plugin: plugin})
		if abi == runtime.ABIPalyra {
			continue
		}
		for _, t := range m.Entrypoints.Tools {
			if mod.Exports(t.Name) {
				lt := &loadedTool{id: t.ID, export: t.Name, module: f.Path, plugin: plugin}
				ls.tools[t.ID] = lt
				ls.tools[t.Name] = lt
			}
		}
	}
	for _, t := range m.Entrypoints.Tools {
		if _, ok := ls.tools[t.ID]; !ok {
			nm, err := nativeModuleOf(m, native)
			if err != nil {
				return nil, fmt.Errorf("tool %s: no module exports %q, and %w", t.ID, t.Name, err)
			}
			lt := &loadedTool{id: t.ID, export: entry, module: nm.path, plugin: nm.plugin, native: true}
			ls.tools[t.ID] = lt
			ls.tools[t.Name] = lt
		}
		ls.toolNames = append(ls.toolNames, t.ID)
	}
	if err := ls.compileSchemas(m, p.ToolSchemas); err != nil {
		return nil, err
	}
	return ls, nil
}

// nativeModule is one of a skill's modules, for choosing the one a
// Palyra-native tool runs.
type nativeModule struct {
	path   string
	abi    runtime.ABI
	plugin *runtime.Plugin
}

// nativeModuleOf returns the module Palyra runs a tool in: the manifest's
// [operator.plugin] default_module_path, else the artifact's only module
// (Palyra's select_module_path); it must be Palyra-native.
func nativeModuleOf(m *Manifest, mods []nativeModule) (nativeModule, error) {
	var nm nativeModule
	if want := guestabi.ModulePath(m); want != "" {
		i := slices.IndexFunc(mods, func(x nativeModule) bool { return x.path == want })
		if i < 0 {
			return nm, fmt.Errorf("operator.plugin.default_module_path %q is not a module of the artifact", want)
		}
		nm = mods[i]
	} else if len(mods) == 1 {
		nm = mods[0]
	} else {
		return nm, fmt.Errorf("the artifact has %d modules and no operator.plugin.default_module_path to run natively", len(mods))
	}
	if nm.abi != runtime.ABIPalyra {
		return nm, fmt.Errorf("module %s does not use the Palyra-native ABI", nm.path)
	}
	return nm, nil
}

// nativeGrants maps what the operator granted to the capability classes
// of Palyra's native ABI, as Palyra's capability_grants_from_manifest
// does: http = the granted HTTP egress hosts; secret = the granted secret
// keys as "scope/key"; storage = the granted filesystem write roots;
// channel = none (Palyra grants skills no channel either). The guest sees
// only their handles.
func nativeGrants(g Grants) runtime.NativeGrants {
	n := runtime.NativeGrants{HTTPHosts: g.HTTPHosts, StoragePrefixes: g.WriteRoots}
	for _, s := range g.Secrets {
		for _, k := range s.KeyNames {
			n.SecretKeys = append(n.SecretKeys, s.Scope+"/"+k)
		}
	}
	return n
}

// runNative runs a Palyra-native tool: its entrypoint, with no input (the
// caller's is ignored: Palyra's ABI has none), and returns its exit code
// as the output {"exit_code": N}.
func runNative(ctx context.Context, t *loadedTool) ([]byte, runtime.CallInfo, error) {
	rc, info, err := t.plugin.Run(ctx, t.export)
	if err != nil {
		return nil, info, err
	}
	out := append([]byte(`{"exit_code":`), strconv.FormatInt(int64(rc), 10)...)
	return append(out, '}'), info, nil
}

// mounts turns granted filesystem roots into WASI preopens: root "r" is
// <state>/skills/data/<skill_id>/r on the host and "/r" in the guest,
// read-only for read roots. The directories are created on first use.
func (h *Host) mounts(skillID string, g Grants) ([]runtime.Mount, error) {
	base := h.dataDir(skillID)
	var out []runtime.Mount
	add := func(root string, readOnly bool) error {
		if strings.Contains(root, "*") {
			return fmt.Errorf("filesystem root %q: wildcard roots cannot be mounted", root)
		}
		rel := path.Clean(strings.TrimPrefix(root, "./"))
		hostPath := filepath.Join(base, filepath.FromSlash(rel))
		if err := os.MkdirAll(hostPath, 0o700); err != nil {
			return fmt.Errorf("filesystem root %q: %w", root, err)
		}
		out = append(out, runtime.Mount{HostPath: hostPath, GuestPath: "/" + rel, ReadOnly: readOnly})
		return nil
	}
	for _, r := range g.WriteRoots {
		if err := add(r, false); err != nil {
			return nil, err
		}
	}
	for _, r := range g.ReadRoots {
		if slices.Contains(g.WriteRoots, r) {
			continue // writable already
		}
		if err := add(r, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runtime returns the host's runtime, made on first use so that commands
// that never run a skill do not pay for it.
func (h *Host) runtime(ctx context.Context) (*runtime.Runtime, error) {
	h.rtMu.Lock()
	defer h.rtMu.Unlock()
	if h.rt != nil {
		return h.rt, nil
	}
	rt, err := runtime.New(ctx, runtime.Config{
		CompilationCacheDir: h.cacheDir(),
		Logger:              h.log,
	})
	if err != nil {
		return nil, err
	}
	h.rt = rt
	return rt, nil
}

func (h *Host) secretStore() (*secrets.Store, error) {
	h.rtMu.Lock()
	defer h.rtMu.Unlock()
	if h.secrets != nil {
		return h.secrets, nil
	}
	s, err := h.openSecretStore()
	if err != nil {
		return nil, err
	}
	h.secrets = s
	return s, nil
}

// invalidate drops the loaded copy of a skill, so that the next call
// loads its current version with its current grants. Calls in progress
// finish on the old one.
func (h *Host) invalidate(skillID string) {
	h.runMu.Lock()
	ls := h.cached(skillID)
	if ls != nil {
		h.setCached(skillID, nil)
	}
	h.runMu.Unlock()
	if ls != nil {
		ls.retire()
	}
}

// closeTimeout bounds how long Close waits for the calls it stopped.
const closeTimeout = 10 * time.Second

// closeRuntime stops every call in progress and releases the runtime.
func (h *Host) closeRuntime() error {
	h.runMu.Lock()
	h.runClosed.Store(true)
	var skills map[string]*loadedSkill
	if m := h.skills.Swap(nil); m != nil {
		skills = *m
	}
	h.runMu.Unlock()
	// No load starts now; end those in progress (a compile runs to its
	// end, bounded by the audit's compile limits) before the runtime
	// they compile in closes.
	h.loadMu.Lock()
	if h.loadCancel != nil {
		h.loadCancel()
	}
	h.loadMu.Unlock()
	h.loads.Wait()
	for _, ls := range skills {
		ls.retired.Store(true)
		if ls.staleTimer != nil {
			ls.staleTimer.Stop()
		}
	}
	h.rtMu.Lock()
	defer h.rtMu.Unlock()
	if h.rt == nil {
		return nil
	}
	// Closing the runtime stops calls in progress and waits for them: a
	// guest stops within milliseconds wherever it is, but a host function
	// it called (an embedder's log handler, say) might not, and Close must
	// return all the same.
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := h.rt.Close(ctx)
	for _, ls := range skills {
		if ls.egress != nil {
			ls.egress.CloseIdleConnections()
		}
	}
	return err
}

// egressDoer sends the runtime's HTTP requests through the egress policy.
type egressDoer struct{ c *egress.Client }

func (d egressDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	headers := make(map[string]string, len(req.Header))
	for k, v := range req.Header {
		headers[k] = strings.Join(v, ",")
	}
	resp, err := d.c.Do(req.Context(), egress.Request{Method: req.Method, URL: req.URL.String(), Headers: headers, Body: body})
	if err != nil {
		return nil, err
	}
	out := &http.Response{
		StatusCode:    resp.Status,
		Header:        make(http.Header, len(resp.Headers)),
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}
	for k, v := range resp.Headers {
		out.Header.Set(k, v)
	}
	return out, nil
}

// callKey carries a Run's recorder in the call's context, where the
// runtime passes it to the plugin's logger.
type callKey struct{}

type callRecorder struct {
	id     uint64
	record bool // keep the logs (Run), not just tag them (Call)
	mu     sync.Mutex
	logs   []GuestLog
}

// maxRecordedLogs bounds what one Run keeps (the runtime bounds bytes).
const maxRecordedLogs = 1000

// guestLogHandler passes guest logs on to the host's logger with the
// skill's attributes and the call id, and to a Run's recorder.
type guestLogHandler struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (g *guestLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if rec, ok := ctx.Value(callKey{}).(*callRecorder); ok && rec.record {
		return true
	}
	return g.next.Enabled(ctx, l)
}

func (g *guestLogHandler) Handle(ctx context.Context, r slog.Record) error {
	rec, _ := ctx.Value(callKey{}).(*callRecorder)
	if rec != nil && rec.record {
		var stream string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "stream" {
				stream = a.Value.String()
				return false
			}
			return true
		})
		rec.mu.Lock()
		if len(rec.logs) < maxRecordedLogs {
			rec.logs = append(rec.logs, GuestLog{Level: levelName(r.Level), Message: r.Message, Stream: stream})
		}
		rec.mu.Unlock()
	}
	if !g.next.Enabled(ctx, r.Level) {
		return nil
	}
	r = r.Clone()
	r.AddAttrs(g.attrs...)
	if rec != nil {
		r.AddAttrs(slog.Uint64("call", rec.id))
	}
	return g.next.Handle(ctx, r)
}

func (g *guestLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &guestLogHandler{next: g.next, attrs: append(slices.Clone(g.attrs), as...)}
}

func (g *guestLogHandler) WithGroup(name string) slog.Handler {
	return &guestLogHandler{next: g.next.WithGroup(name), attrs: g.attrs}
}

// guestLogLevel maps policy.json's log_level names to slog levels (Extism
// trace is below debug, as in the runtime).
func guestLogLevel(name string) slog.Level {
	switch name {
	case "trace":
		return slog.LevelDebug - 4
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
