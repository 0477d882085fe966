package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// The conformance test runs the Extism test plugins shipped in
// extism/go-sdk's wasm/ directory through palyra's runtime and through
// go-sdk itself, with the same inputs, and compares outputs, errors,
// return codes, vars and logs. Every difference is documented in
// CONFORMANCE.md, and asserted here as documented.

// goSDKDir returns the extism/go-sdk module directory (go.mod requires
// the module, so it is in the module cache wherever the tests run).
func goSDKDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk").Output()
	if err != nil {
		t.Fatalf("locating extism/go-sdk: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Skip("extism/go-sdk is not in the module cache (go mod download github.com/extism/go-sdk)")
	}
	return dir
}

// outcome is what one call produced, in terms both hosts share.
type outcome struct {
	failed bool
	out    []byte
	code   uint32 // return code; for a trap, the exit code or 1 (go-sdk's)
	msg    string // the guest's error message, or the error's text
	err    error
	vars   map[string]string
	logs   []string
}

func (o outcome) String() string {
	return fmt.Sprintf("failed=%v code=%d out=%q msg=%q vars=%v logs=%v", o.failed, o.code, o.out, o.msg, o.vars, o.logs)
}

// confCase is one plugin run with one setup and a sequence of inputs.
type confCase struct {
	name, file, fn string
	inputs         []string
	config         map[string]string
	vars           map[string][]byte
	watchVars      []string
	mount          string // "rw" or "ro": go-sdk's testdata dir at /mnt
	http           bool   // the host allows HTTP (to a local fake)
	timeout        time.Duration
	logLevel       extism.LogLevel // 0: logs off
	// diff, when set, replaces the exact comparison: it checks a
	// documented difference (CONFORMANCE.md).
	diff func(t *testing.T, sdk, pal outcome)
}

// todo is what the fake web serves for http.wasm's fixed URL.
const todo = `{"userId": 1, "id": 1, "title": "delectus aut autem", "completed": false}`

// fakeWeb answers every request locally, so the HTTP plugins (whose URLs
// are fixed in their code) run offline.
type fakeWeb struct{}

func (fakeWeb) RoundTrip(r *http.Request) (*http.Response, error) {
	body := todo
	ct := "application/json; charset=utf-8"
	if r.URL.Host == "extism.org" {
		body, ct = "<html>extism</html>", "text/html; charset=utf-8"
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {ct}, "X-Fake": {"1"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    r,
	}, nil
}

func TestConformance(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("conformance compares semantics, not concurrency; skipped under -race and -short to keep them fast")
	}
	sdkDir := goSDKDir(t)
	wasmDir := filepath.Join(sdkDir, "wasm")

	// go-sdk's testdata, copied so that read-write mounts cannot touch
	// the module cache.
	data := t.TempDir()
	text, err := os.ReadFile(filepath.Join(sdkDir, "testdata", "test.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "test.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}

	// go-sdk sends HTTP through http.DefaultClient; point it at the fake.
	saved := http.DefaultTransport
	http.DefaultTransport = fakeWeb{}
	t.Cleanup(func() { http.DefaultTransport = saved })

	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close(ctx)
	rt := newRuntime(t)

	cases := []confCase{
		{name: "alloc", file: "alloc.wasm", fn: "run_test", inputs: []string{""}},
		{name: "config/set", file: "config.wasm", fn: "run_test", inputs: []string{""}, config: map[string]string{"thing": "hello"}},
		{name: "config/unset", file: "config.wasm", fn: "run_test", inputs: []string{""}},
		{name: "count_vowels", file: "count_vowels.wasm", fn: "count_vowels",
			inputs: []string{"hello world", "aaa", "bbba", "", strings.Repeat("aeiouxyz", 5000)}},
		{name: "fail", file: "fail.wasm", fn: "run_test", inputs: []string{""}},
		{name: "hello", file: "hello.wasm", fn: "run_test", inputs: []string{""}},
		{name: "hello_haskell", file: "hello_haskell.wasm", fn: "testing", inputs: []string{"John", "Jane"},
			config: map[string]string{"greeting": "Howdy"}},
		{name: "input_offset", file: "input_offset.wasm", fn: "input_offset_length", inputs: []string{"hello world", "x", ""}},
		{name: "noop", file: "noop.wasm", fn: "run_test", inputs: []string{"", "ignored"}},
		{name: "println", file: "println.wasm", fn: "run_test", inputs: []string{"printed"}},
		{name: "replace", file: "replace.wasm", fn: "run_test", inputs: []string{"", "ab  abc", strings.Repeat("bdb 3 ", 500)}},
		{name: "var", file: "var.wasm", fn: "run_test", inputs: []string{"", ""},
			vars: map[string][]byte{"a": {10, 0, 0, 0}}, watchVars: []string{"a"}},
		{name: "std_command", file: "std_command.wasm", fn: "_start", inputs: []string{"ben"}},
		{name: "count_vowels_std", file: "count_vowels_std.wasm", fn: "_start", inputs: []string{"hello world"}},
		{name: "fs", file: "fs.wasm", fn: "run_test", inputs: []string{""}, mount: "rw"},
		{name: "fs_std", file: "fs_std.wasm", fn: "run_test", inputs: []string{""}, mount: "rw"},
		{name: "read_write/read", file: "read_write.wasm", fn: "try_read", inputs: []string{""}, mount: "ro",
			config: map[string]string{"path": "/mnt/test.txt"}},
		{name: "read_write/write_ro", file: "read_write.wasm", fn: "try_write", inputs: []string{"hello hello!"}, mount: "ro",
			config: map[string]string{"path": "/mnt/test.txt"}},
		{name: "http/allowed", file: "http.wasm", fn: "run_test", inputs: []string{""}, http: true},
		{name: "http/denied", file: "http.wasm", fn: "run_test", inputs: []string{""}, diff: trapsAlike},
		{name: "http_headers", file: "http_headers.wasm", fn: "http_get", inputs: []string{`{"url": "https://extism.org"}`}, http: true},
		{name: "log/trace", file: "log.wasm", fn: "run_test", inputs: []string{""}, logLevel: extism.LogLevelTrace},
		{name: "log/warn", file: "log.wasm", fn: "run_test", inputs: []string{""}, logLevel: extism.LogLevelWarn},
		{name: "log/off", file: "log.wasm", fn: "run_test", inputs: []string{""}},
		{name: "sleep/short", file: "sleep.wasm", fn: "run_test", inputs: []string{""}, config: map[string]string{"duration": "0"}},
		{name: "sleep/timeout", file: "sleep.wasm", fn: "run_test", inputs: []string{""},
			config: map[string]string{"duration": "3"}, timeout: 100 * time.Millisecond, diff: timeoutDiff},
		{name: "unknown_function", file: "alloc.wasm", fn: "i_dont_exist", inputs: []string{""}, diff: unknownFunctionDiff},
	}
	for _, code := range []string{"0", "-1", "500", "abc", ""} {
		cfg := map[string]string{}
		if code != "" {
			cfg["code"] = code
		}
		cases = append(cases, confCase{name: "exit/" + code, file: "exit.wasm", fn: "_start", inputs: []string{""}, config: cfg})
	}

	// Log levels are a global in go-sdk: the cases run one at a time.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join(wasmDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			sdk := runGoSDK(t, cache, wasm, data, c)
			pal := runPalyra(t, rt, wasm, data, c)
			for i := range c.inputs {
				if c.diff != nil {
					c.diff(t, sdk[i], pal[i])
					continue
				}
				compareOutcomes(t, i, sdk[i], pal[i])
			}
		})
	}

	t.Run("skipped", func(t *testing.T) {
		// Plugins that need host functions of go-sdk's tests, or
		// multi-module linking, which palyra does not offer.
		for file, why := range map[string]string{
			"host.wasm":           "imports extism:host/user mult, a host function of go-sdk's test",
			"host_memory.wasm":    "imports host.to_upper, a host function of go-sdk's test",
			"host_multiple.wasm":  "imports extism:host/user hostGreenMessage/hostPurpleMessage, host functions of go-sdk's test",
			"lib.wasm":            "half of a two-module plugin (main.wasm imports lib.capitalize); palyra runs one module per plugin",
			"main.wasm":           "imports lib.capitalize: multi-module linking, which palyra does not offer",
			"nested.c.instr.wasm": "imports dylibso_observe instrumentation hooks (observe-sdk), not part of Extism's ABI",
		} {
			if _, err := os.Stat(filepath.Join(wasmDir, file)); err != nil {
				t.Errorf("%s listed as skipped but not shipped: %v", file, err)
			}
			t.Logf("skipped %s: %s", file, why)
		}
		// Every plugin go-sdk ships is either run or skipped for a reason.
		entries, _ := os.ReadDir(wasmDir)
		for _, e := range entries {
			covered := false
			for _, c := range cases {
				covered = covered || c.file == e.Name()
			}
			if !covered && !strings.Contains("host.wasm host_memory.wasm host_multiple.wasm lib.wasm main.wasm nested.c.instr.wasm", e.Name()) {
				t.Errorf("%s is neither run nor skipped", e.Name())
			}
		}
	})
}

func compareOutcomes(t *testing.T, i int, sdk, pal outcome) {
	t.Helper()
	if sdk.failed != pal.failed || sdk.code != pal.code || (!sdk.failed && !bytes.Equal(sdk.out, pal.out)) ||
		(sdk.failed && pal.msg != sdk.msg) || !maps2Equal(sdk.vars, pal.vars) || !slices.Equal(sdk.logs, pal.logs) {
		t.Errorf("call %d differs:\n go-sdk: %v\n palyra: %v", i, sdk, pal)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// trapsAlike: both trap with the same host message; go-sdk's error text
// is the panic value plus wazero's stack trace, palyra's wraps it.
func trapsAlike(t *testing.T, sdk, pal outcome) {
	t.Helper()
	first, _, _ := strings.Cut(sdk.msg, " (recovered by wazero)")
	if !sdk.failed || !pal.failed || sdk.code != pal.code || !strings.Contains(pal.msg, first) {
		t.Errorf("traps differ:\n go-sdk: %v\n palyra: %v", sdk, pal)
	}
	if !errors.As(pal.err, new(*TrapError)) {
		t.Errorf("palyra: %v is not a *TrapError", pal.err)
	}
}

// timeoutDiff: go-sdk returns wazero's exit code for a deadline as the
// return code; palyra returns an error matching context.DeadlineExceeded.
func timeoutDiff(t *testing.T, sdk, pal outcome) {
	t.Helper()
	if !sdk.failed || sdk.code != sys.ExitCodeDeadlineExceeded {
		t.Errorf("go-sdk: %v", sdk)
	}
	if !errors.Is(pal.err, context.DeadlineExceeded) {
		t.Errorf("palyra: %v, want DeadlineExceeded", pal.err)
	}
}

// unknownFunctionDiff: both fail; palyra's error is ErrNoFunction.
func unknownFunctionDiff(t *testing.T, sdk, pal outcome) {
	t.Helper()
	if !sdk.failed || !strings.Contains(sdk.msg, "unknown function") || !errors.Is(pal.err, ErrNoFunction) {
		t.Errorf("go-sdk: %v\npalyra: %v", sdk, pal)
	}
}

var sdkLogMu sync.Mutex

func runGoSDK(t *testing.T, cache wazero.CompilationCache, wasm []byte, data string, c confCase) []outcome {
	t.Helper()
	ctx := context.Background()
	m := extism.Manifest{
		Wasm:         []extism.Wasm{extism.WasmData{Data: wasm, Name: "main"}},
		Config:       map[string]string{},
		AllowedPaths: map[string]string{},
		Timeout:      uint64(c.timeout / time.Millisecond),
	}
	for k, v := range c.config {
		m.Config[k] = v
	}
	switch c.mount {
	case "rw":
		m.AllowedPaths[data] = "/mnt"
	case "ro":
		m.AllowedPaths["ro:"+data] = "/mnt"
	}
	if c.http {
		m.AllowedHosts = []string{"jsonplaceholder.*.com", "extism.org"}
	}
	cp, err := extism.NewCompiledPlugin(ctx, m, extism.PluginConfig{
		EnableWasi:                true,
		EnableHttpResponseHeaders: true,
		// Close on context done as in palyra's runtime, so both share the
		// compiled code in the cache (the flag is part of its key).
		RuntimeConfig: wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true),
	}, nil)
	if err != nil {
		t.Fatalf("go-sdk: %v", err)
	}
	defer cp.Close(ctx)
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: wazero.NewModuleConfig().WithSysWalltime()})
	if err != nil {
		t.Fatalf("go-sdk: %v", err)
	}
	defer p.Close(ctx)
	for k, v := range c.vars {
		p.Var[k] = bytes.Clone(v)
	}
	var logs []string
	p.SetLogger(func(level extism.LogLevel, msg string) {
		// go-sdk logs its own steps through the plugin's logger; palyra
		// logs them nowhere. Only the guest's logs are compared.
		if strings.HasPrefix(msg, "Initializing runtime") || strings.HasPrefix(msg, "Calling function") ||
			strings.HasPrefix(msg, "Calling _initialize") || strings.HasPrefix(msg, "Calling __wasm_call_ctors") {
			return
		}
		logs = append(logs, level.String()+": "+msg)
	})
	sdkLogMu.Lock()
	defer sdkLogMu.Unlock()
	level := c.logLevel
	if level == 0 {
		level = extism.LogLevelOff
	}
	extism.SetLogLevel(level)
	defer extism.SetLogLevel(extism.LogLevelOff)

	var outs []outcome
	for _, in := range c.inputs {
		logs = nil
		rc, out, err := p.Call(c.fn, []byte(in))
		o := outcome{failed: err != nil, out: out, code: rc, err: err, logs: logs, vars: map[string]string{}}
		if err != nil {
			o.msg = err.Error()
		}
		for _, name := range c.watchVars {
			o.vars[name] = fmt.Sprint(p.Var[name])
		}
		outs = append(outs, o)
	}
	return outs
}

// extismLevelName names slog levels as go-sdk names its log levels.
func extismLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "TRACE"
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	}
	return "ERROR"
}

func runPalyra(t *testing.T, rt *Runtime, wasm []byte, data string, c confCase) []outcome {
	t.Helper()
	ctx := context.Background()
	rec := &logRecorder{}
	cfg := PluginConfig{Config: c.config, Vars: c.vars, Timeout: c.timeout, PoolSize: 1}
	if c.logLevel != 0 {
		cfg.Logger = slog.New(rec)
		cfg.LogLevel = slogLevel[c.logLevel.ExtismCompat()]
	}
	switch c.mount {
	case "rw":
		cfg.Mounts = []Mount{{HostPath: data, GuestPath: "/mnt"}}
	case "ro":
		cfg.Mounts = []Mount{{HostPath: data, GuestPath: "/mnt", ReadOnly: true}}
	}
	if c.http {
		cfg.HTTP = &http.Client{Transport: fakeWeb{}}
	}
	p := pluginOf(t, rt, wasm, cfg)
	var outs []outcome
	for _, in := range c.inputs {
		rec.mu.Lock()
		rec.records = nil
		rec.mu.Unlock()
		out, err := p.Call(ctx, c.fn, []byte(in))
		o := outcome{failed: err != nil, out: out, err: err, vars: map[string]string{}}
		var ge *GuestError
		var te *TrapError
		switch {
		case errors.As(err, &ge):
			o.code, o.msg = uint32(ge.Code), ge.Message
		case errors.As(err, &te) && te.Exited:
			o.code, o.msg = te.ExitCode, err.Error()
		case err != nil:
			o.code, o.msg = 1, err.Error()
		}
		if te != nil && te.Exited {
			o.msg = te.Err.Error() // wazero's *sys.ExitError, as go-sdk returns it
		}
		for _, r := range rec.records {
			if src := r.Message; src != "" {
				o.logs = append(o.logs, extismLevelName(r.Level)+": "+src)
			}
		}
		for _, name := range c.watchVars {
			v, _ := p.Var(name)
			o.vars[name] = fmt.Sprint(v)
		}
		outs = append(outs, o)
	}
	return outs
}
