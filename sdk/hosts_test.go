package sdk_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// The Wasm hosts the sdk's tests run the probe guests in: Extism's
// reference host (go-sdk) for the portable guest, and the Palyra runtime
// for both guests. Each guest is built and compiled once per process.

const (
	portableGuest = "./testdata/guest"  // Extism's ABI only
	palyraGuest   = "./testdata/palyra" // Palyra's host functions too
)

// Config is the plugin configuration used by every host.
var config = map[string]string{
	"greeting": "hello, world",
	"empty":    "",
	"binary":   "\xff\x00\xfe",
}

// result is what one call produced, in a form every host can give.
type result struct {
	rc   int32
	out  []byte
	err  string
	logs []sdktest.Log
}

// extismPlugin returns a fresh go-sdk instance of the portable guest and
// the messages it logs. It allows HTTP requests to 127.0.0.1 only.
func extismPlugin(t *testing.T) (*extism.Plugin, *[]sdktest.Log) {
	t.Helper()
	compiled := extismCompiled(t)
	ctx := context.Background()
	p, err := compiled.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	// The first call initialises the Go runtime, which go-sdk logs; make
	// it before the logger is set so the logs hold the guest's alone.
	p.SetLogger(func(extism.LogLevel, string) {})
	if _, _, err := p.Call("status", nil); err != nil {
		t.Fatal(err)
	}
	logs := new([]sdktest.Log)
	p.SetLogger(func(level extism.LogLevel, msg string) {
		// go-sdk logs its own calls at debug level; keep only the guest's.
		if strings.HasPrefix(msg, "Calling function : ") {
			return
		}
		// extism.LogLevelTrace is 1, sdk.LogTrace 0; the order is the same.
		*logs = append(*logs, sdktest.Log{Level: sdk.LogLevel(level - extism.LogLevelTrace), Message: msg})
	})
	return p, logs
}

var extismOnce struct {
	sync.Once
	p   *extism.CompiledPlugin
	err error
}

func extismCompiled(t *testing.T) *extism.CompiledPlugin {
	wasm := testguest.Build(t, portableGuest)
	extismOnce.Do(func() {
		// Extism's log level is process-wide; trace lets every message through.
		extism.SetLogLevel(extism.LogLevelTrace)
		manifest := extism.Manifest{
			Wasm:         []extism.Wasm{extism.WasmData{Data: wasm, Name: "guest"}},
			Config:       config,
			AllowedHosts: []string{"127.0.0.1"},
		}
		extismOnce.p, extismOnce.err = extism.NewCompiledPlugin(context.Background(), manifest,
			extism.PluginConfig{EnableWasi: true, EnableHttpResponseHeaders: true}, nil)
	})
	if extismOnce.err != nil {
		t.Fatal(extismOnce.err)
	}
	return extismOnce.p
}

func extismCall(p *extism.Plugin, logs *[]sdktest.Log, export string, input []byte) result {
	*logs = nil
	rc, out, err := p.Call(export, input)
	return result{int32(rc), out, errString(err), *logs}
}

// The Palyra runtime and the two guests compiled in it.
var palyraOnce struct {
	sync.Once
	rt  *runtime.Runtime
	err error

	mu   sync.Mutex
	mods map[string]*runtime.Module
}

// palyraModule returns guest compiled in the process's Palyra runtime.
func palyraModule(t testing.TB, guest string) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	wasm := testguest.Build(t, guest)
	palyraOnce.Do(func() {
		palyraOnce.rt, palyraOnce.err = runtime.New(context.Background(), runtime.Config{})
		palyraOnce.mods = make(map[string]*runtime.Module)
	})
	if palyraOnce.err != nil {
		t.Fatal(palyraOnce.err)
	}
	palyraOnce.mu.Lock()
	defer palyraOnce.mu.Unlock()
	mod, ok := palyraOnce.mods[guest]
	if !ok {
		var err error
		if mod, err = palyraOnce.rt.Compile(context.Background(), wasm); err != nil {
			t.Fatal(err)
		}
		palyraOnce.mods[guest] = mod
	}
	return palyraOnce.rt, mod
}

// palyraPlugin is one Palyra plugin of a guest and the guest's logs.
type palyraPlugin struct {
	p    *runtime.Plugin
	logs *guestLogs
}

// newPalyraPlugin makes a plugin of guest. Unless cfg says otherwise, it
// has the shared config, one instance (so calls also check that the
// previous one left nothing behind) and keeps every log level: a zero
// LogLevel, slog.LevelInfo, means trace here.
func newPalyraPlugin(t testing.TB, guest string, cfg runtime.PluginConfig) palyraPlugin {
	t.Helper()
	rt, mod := palyraModule(t, guest)
	if cfg.Config == nil {
		cfg.Config = config
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 1
	}
	if cfg.LogLevel == 0 {
		cfg.LogLevel = slog.LevelDebug - 4
	}
	logs := &guestLogs{}
	cfg.Logger = slog.New(logs)
	p, err := rt.NewPlugin(context.Background(), mod, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return palyraPlugin{p, logs}
}

func (pp palyraPlugin) call(export string, input []byte) result {
	pp.logs.reset()
	out, err := pp.p.Call(context.Background(), export, input)
	r := result{out: out, logs: pp.logs.reset()}
	var ge *runtime.GuestError
	switch {
	case errors.As(err, &ge):
		r.rc, r.err = ge.Code, ge.Message
	case err != nil:
		r.err = err.Error()
	}
	return r
}

// guestLogs is a slog.Handler keeping the messages a guest logs with
// log_* (not its stdout or stderr), as sdktest.Logs.
type guestLogs struct {
	mu   sync.Mutex
	logs []sdktest.Log
}

func (h *guestLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *guestLogs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *guestLogs) WithGroup(string) slog.Handler            { return h }

func (h *guestLogs) Handle(_ context.Context, r slog.Record) error {
	guest := false
	r.Attrs(func(a slog.Attr) bool {
		guest = a.Key == "source" && a.Value.String() == "guest"
		return !guest
	})
	if !guest {
		return nil
	}
	// Palyra's slog levels for Extism's trace … error.
	level := map[slog.Level]sdk.LogLevel{
		slog.LevelDebug - 4: sdk.LogTrace,
		slog.LevelDebug:     sdk.LogDebug,
		slog.LevelInfo:      sdk.LogInfo,
		slog.LevelWarn:      sdk.LogWarn,
		slog.LevelError:     sdk.LogError,
	}[r.Level]
	h.mu.Lock()
	h.logs = append(h.logs, sdktest.Log{Level: level, Message: r.Message})
	h.mu.Unlock()
	return nil
}

// reset returns the logs kept so far and forgets them.
func (h *guestLogs) reset() []sdktest.Log {
	h.mu.Lock()
	defer h.mu.Unlock()
	logs := h.logs
	h.logs = nil
	return logs
}

func nativeCall(h *sdktest.Host, tool func() int32, input []byte) result {
	h.Logs = nil
	rc, out, err := h.Call(tool, input)
	return result{rc, out, errString(err), h.Logs}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
