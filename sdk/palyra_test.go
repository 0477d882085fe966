package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/internal/probe"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// imports returns the "module name" of every function the module imports.
func imports(t *testing.T, wasm []byte) []string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	mod, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range mod.ImportedFunctions() {
		module, name, _ := f.Import()
		names = append(names, module+" "+name)
	}
	return names
}

// TestImports checks what makes a skill portable: Go's linker emits an
// import only for the host functions the program reaches. The portable
// guest links package probe, whose Palyra-only tools call sdk.Secret and
// package bulk, and must still import nothing outside Extism's ABI and
// WASI; the Palyra guest, which exports those tools, imports Palyra's
// functions.
func TestImports(t *testing.T) {
	portable := imports(t, testguest.Build(t, portableGuest))
	for _, imp := range portable {
		module, _, _ := strings.Cut(imp, " ")
		if module != "extism:host/env" && module != "wasi_snapshot_preview1" {
			t.Errorf("portable guest imports %s", imp)
		}
	}
	if !slices.Contains(portable, "extism:host/env http_request") {
		t.Errorf("portable guest does not import http_request, so this test checks less than it says: %v", portable)
	}

	palyra := imports(t, testguest.Build(t, palyraGuest))
	for _, want := range []string{
		"extism:host/user palyra_secret_get",
		"palyra:host/env input_read",
		"palyra:host/env output_write",
	} {
		if !slices.Contains(palyra, want) {
			t.Errorf("palyra guest does not import %s: %v", want, palyra)
		}
	}
	// Only the tools a skill uses cost an import: the Palyra guest never
	// makes an HTTP request.
	if slices.Contains(palyra, "extism:host/env http_request") {
		t.Errorf("palyra guest imports http_request, which it never calls")
	}
}

// Secrets as both the native and the Palyra host serve them.
var secrets = map[string]string{
	"skill:acme.weather/api_key": "s3cret",
	"global/empty":               "",
	"channel:ops/a/b":            "scope with a slash",
}

const notGranted = "secret not granted (not in sdktest.Host.Secrets)"

func secretFunc(_ context.Context, scope, key string) ([]byte, error) {
	v, ok := secrets[scope+"/"+key]
	if !ok {
		return nil, errors.New(notGranted)
	}
	return []byte(v), nil
}

// TestPalyraExtras runs the probes of Palyra's own host functions,
// secrets and the bulk path, natively and in the Palyra runtime.
func TestPalyraExtras(t *testing.T) {
	type test struct {
		name   string
		export string
		tool   func() int32
		input  string
		want   result
	}
	denied := func(ref string) string { return `palyra_secret_get "` + ref + `": ` + notGranted }
	const invalid = `sdk: secret scope and key must be non-empty, and the key has no "/"`
	tests := []test{
		{"secret", "secret", probe.Secret, "skill:acme.weather api_key", result{out: []byte("s3cret")}},
		{"secret/slash in scope", "secret", probe.Secret, "channel:ops/a b", result{out: []byte("scope with a slash")}},
		{"secret/empty", "secret", probe.Secret, "global empty", result{}},
		{"secret/denied", "secret", probe.Secret, "skill:acme.weather other", result{rc: 1, err: denied("skill:acme.weather/other")}},
		{"secret/no key", "secret", probe.Secret, "global", result{rc: 1, err: invalid}},
		{"secret/slash in key", "secret", probe.Secret, "global a/b", result{rc: 1, err: invalid}},
		{"secret/fallback", "secret_fallback", probe.SecretFallback, "global nope",
			result{out: []byte("fallback: " + denied("global/nope"))}},
		{"secret/fallback granted", "secret_fallback", probe.SecretFallback, "skill:acme.weather api_key", result{out: []byte("s3cret")}},
		{"secret/keeps error denied", "secret_keeps_error", probe.SecretKeepsError, "global nope",
			result{rc: 1, err: "set before"}},
		{"secret/keeps error empty", "secret_keeps_error", probe.SecretKeepsError, "global empty",
			result{rc: 2, err: "set before"}},
		{"secret/keeps error granted", "secret_keeps_error", probe.SecretKeepsError, "skill:acme.weather api_key",
			result{rc: 2, err: "set before"}},
	}
	for name, in := range inputs() {
		tests = append(tests,
			test{"bulk_echo/" + name, "bulk_echo", probe.BulkEcho, string(in), result{out: in}},
			test{"bulk_mixed/" + name, "bulk_mixed", probe.BulkMixed, string(in), result{out: in}})
	}

	pp := newPalyraPlugin(t, palyraGuest, runtime.PluginConfig{Secrets: secretFunc})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.Host{Secrets: secrets}
			check(t, "sdktest", nativeCall(&h, tt.tool, []byte(tt.input)), tt.want)
			check(t, "palyra", pp.call(tt.export, []byte(tt.input)), tt.want)
		})
	}

	t.Run("no secrets", func(t *testing.T) {
		want := result{rc: 1, err: `palyra_secret_get "global/k": no secrets are available to this plugin`}
		var h sdktest.Host
		check(t, "sdktest", nativeCall(&h, probe.Secret, []byte("global k")), want)
		none := newPalyraPlugin(t, palyraGuest, runtime.PluginConfig{})
		check(t, "palyra", none.call("secret", []byte("global k")), want)
	})
}

// TestVarsPersist checks that vars outlive the call that sets them, in
// every host, and that the host sees them.
func TestVarsPersist(t *testing.T) {
	const want = "set:final"
	var h sdktest.Host
	nativeCall(&h, probe.Vars, []byte("kept"))
	if got := nativeCall(&h, probe.VarGet, []byte("kept")); string(got.out) != want {
		t.Errorf("sdktest: second call sees %q", got.out)
	}
	if string(h.Vars["kept"]) != "final" || len(h.Vars) != 1 {
		t.Errorf("sdktest: Host.Vars = %q", h.Vars)
	}

	ep, logs := extismPlugin(t)
	extismCall(ep, logs, "vars", []byte("kept"))
	if got := extismCall(ep, logs, "var_get", []byte("kept")); string(got.out) != want {
		t.Errorf("extism: second call sees %q", got.out)
	}

	// Two instances: Palyra's vars belong to the plugin, not the instance.
	pp := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{PoolSize: 2,
		Vars: map[string][]byte{"preset": []byte("by the host")}})
	pp.call("vars", []byte("kept"))
	if got := pp.call("var_get", []byte("kept")); string(got.out) != want {
		t.Errorf("palyra: second call sees %q", got.out)
	}
	if got := pp.call("var_get", []byte("preset")); string(got.out) != "set:by the host" {
		t.Errorf("palyra: preset var reads %q", got.out)
	}
	if v, ok := pp.p.Var("kept"); !ok || string(v) != "final" {
		t.Errorf("palyra: Plugin.Var = %q, %v", v, ok)
	}
}

// TestVarsFull: a host that refuses a var aborts the call.
func TestVarsFull(t *testing.T) {
	pp := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{MaxVarBytes: 8})
	got := pp.call("vars", []byte("name"))
	if !strings.Contains(got.err, "var_set") || !strings.Contains(got.err, "variable store is full") {
		t.Errorf("vars over the store's limit: %+v", got)
	}
}

// TestLogLevel checks LogEnabled and the logs kept when the host keeps
// warnings and errors only. (go-sdk's level is process-wide, so it is left
// at trace for the other tests.)
func TestLogLevel(t *testing.T) {
	want := result{out: []byte("FFFTT"), logs: []sdktest.Log{{Level: sdk.LogWarn, Message: "m"}, {Level: sdk.LogError, Message: "m"}}}
	h := sdktest.Host{LogLevel: sdk.LogWarn}
	check(t, "sdktest", nativeCall(&h, probe.LogEnabled, []byte("m")), want)
	pp := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{LogLevel: slog.LevelWarn})
	check(t, "palyra", pp.call("log_enabled", []byte("m")), want)

	// A host that keeps no logs at all reports Extism's "off".
	none := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{LogLevel: slog.LevelError + 1})
	check(t, "palyra", none.call("log_enabled", []byte("m")), result{out: []byte("FFFFF")})
	h = sdktest.Host{LogLevel: sdk.LogError + 1}
	check(t, "sdktest", nativeCall(&h, probe.LogEnabled, []byte("m")), result{out: []byte("FFFFF")})
}

// TestHTTPDenied checks that a request the host does not allow aborts the
// call in every host, with Extism's message naming the URL.
func TestHTTPDenied(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(httpProbeHandler))
	t.Cleanup(srv.Close)
	// go-sdk allows 127.0.0.1 only; the others allow nothing.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/hello"
	input := []byte(`{"url": "` + url + `"}`)
	want := "HTTP request to '" + url + "' is not allowed"

	var h sdktest.Host
	_, _, err := h.Call(probe.HTTP, input)
	var te *sdktest.TrapError
	if !errors.As(err, &te) || te.Function != "http_request" || te.Message != want {
		t.Errorf("sdktest: %v, want a TrapError from http_request: %s", err, want)
	}

	ep, logs := extismPlugin(t)
	if got := extismCall(ep, logs, "http", input); !strings.Contains(got.err, want) {
		t.Errorf("extism: %+v, want %q", got, want)
	}

	pp := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{})
	_, err = pp.p.Call(context.Background(), "http", input)
	var rte *runtime.TrapError
	if !errors.As(err, &rte) || !strings.Contains(err.Error(), "http_request: "+want) {
		t.Errorf("palyra: %v, want a TrapError: %s", err, want)
	}

	// A network failure traps too: the Extism ABI cannot report it.
	srv.Close()
	h = sdktest.Host{HTTP: http.DefaultClient}
	_, _, err = h.Call(probe.HTTP, input)
	if !errors.As(err, &te) || !strings.Contains(te.Message, "connection refused") {
		t.Errorf("sdktest, server closed: %v", err)
	}
}

// BenchmarkEcho compares moving input and output through the Extism
// kernel (package sdk) with Palyra's bulk path (package bulk), in the
// Palyra runtime.
func BenchmarkEcho(b *testing.B) {
	pp := newPalyraPlugin(b, palyraGuest, runtime.PluginConfig{})
	ctx := context.Background()
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		in := bytes.Repeat([]byte{'x'}, size)
		for _, export := range []string{"echo", "bulk_echo"} {
			b.Run(export+"/"+sizeName(size), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := pp.p.Call(ctx, export, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}
