package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/internal/testguest"
)

// cacheDir is the wazero compilation cache shared by every test and
// benchmark of this process, so each module is compiled once.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "palyra-runtime-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newRuntime returns a Runtime on the shared cache, closed when t ends.
func newRuntime(t testing.TB) *Runtime {
	t.Helper()
	r, err := New(context.Background(), Config{CompilationCacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

const guestPkg = "./testdata/guest"

// newPlugin compiles the test guest in a new Runtime and makes a plugin.
func newPlugin(t testing.TB, cfg PluginConfig) *Plugin {
	t.Helper()
	r := newRuntime(t)
	return pluginOf(t, r, guestWasm(t), cfg)
}

func guestWasm(t testing.TB) []byte { return testguest.Build(t, guestPkg) }

func pluginOf(t testing.TB, r *Runtime, wasm []byte, cfg PluginConfig) *Plugin {
	t.Helper()
	ctx := context.Background()
	mod, err := r.Compile(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.NewPlugin(ctx, mod, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// logRecorder is a slog.Handler keeping records for inspection.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// lines returns "LEVEL message" for each record.
func (h *logRecorder) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		out = append(out, r.Level.String()+" "+r.Message)
	}
	return out
}

func (h *logRecorder) has(line string) bool {
	for _, l := range h.lines() {
		if l == line {
			return true
		}
	}
	return false
}

func (h *logRecorder) String() string { return strings.Join(h.lines(), "\n") }
