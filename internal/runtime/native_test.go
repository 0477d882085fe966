package runtime

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

//go:generate sh -c "for f in testdata/native/*.wat; do wat2wasm $DOLLAR{f} -o $DOLLAR{f%.wat}.wasm; done"

// nativeModules are the Palyra-native test modules of testdata/native.
var nativeModules = []string{"bad_type", "echo_http", "wasi_mixed"}

func TestNativeWasmMatchesSource(t *testing.T) {
	checkWatFixtures(t, "testdata/native", nativeModules)
}

func nativeWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/native/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNativeABIDetected(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	for _, c := range []struct {
		wasm   []byte
		abi    ABI
		native bool
	}{
		{nativeWasm(t, "echo_http"), ABIPalyra, true},
		{nativeWasm(t, "wasi_mixed"), ABIPalyra, false},
		{nativeWasm(t, "bad_type"), ABIPalyra, false},
		{guestWasm(t), ABIExtism, false},
		{abuseWasm(t, "fuel"), ABIExtism, true}, // no imports: either ABI
	} {
		mod, err := r.Compile(ctx, c.wasm)
		if err != nil {
			t.Fatal(err)
		}
		if mod.ABI() != c.abi {
			t.Errorf("ABI = %v, want %v", mod.ABI(), c.abi)
		}
		if err := mod.RunsNative(); (err == nil) != c.native {
			t.Errorf("%v module: RunsNative = %v, want native %v", c.abi, err, c.native)
		}
		mod.Close(ctx)
	}
	if s := ABIPalyra.String(); s != "palyra-native" {
		t.Errorf("ABIPalyra = %q", s)
	}
}

// The handles are Palyra's (CapabilityHandles::from_grants): each class
// canonicalized, base + index, -1 out of range; run checks them from
// inside the guest and returns the counts.
func TestNativeRunHandles(t *testing.T) {
	r := newRuntime(t)
	for _, c := range []struct {
		name  string
		g     NativeGrants
		want  int32
		http  []int32
		chans []int32
	}{
		{name: "none", want: 0},
		{name: "all", g: NativeGrants{
			HTTPHosts:       []string{"b.example.com", " a.example.com ", "b.example.com", ""},
			SecretKeys:      []string{"skill:acme.echo_http/api_token"},
			StoragePrefixes: []string{"skills/cache", "x", "y"},
			Channels:        []string{"cli", "  "},
		}, want: 2131, http: []int32{10000, 10001}, chans: []int32{40000}},
	} {
		p := pluginOf(t, r, nativeWasm(t, "echo_http"), PluginConfig{Capabilities: c.g, FuelBudget: 1_000_000})
		rc, info, err := p.Run(context.Background(), "run")
		if err != nil || rc != c.want {
			t.Errorf("%s: run = %d, %v; want %d", c.name, rc, err, c.want)
		}
		if info.Fuel == 0 {
			t.Errorf("%s: no fuel counted", c.name)
		}
		http, _, _, chans := c.g.Handles()
		if !slices.Equal(http, c.http) || !slices.Equal(chans, c.chans) {
			t.Errorf("%s: Handles = %v, %v; want %v, %v", c.name, http, chans, c.http, c.chans)
		}
		// The same call costs the same fuel every time, warm or cold.
		if _, again, _ := p.Run(context.Background(), "run"); again.Fuel != info.Fuel || again.Instance != info.Instance {
			t.Errorf("%s: second run %+v, first %+v", c.name, again, info)
		}
	}
}

func TestNativeRunContainment(t *testing.T) {
	r := newRuntime(t)
	wasm := nativeWasm(t, "echo_http")

	// Fuel: burn needs several million units.
	p := pluginOf(t, r, wasm, PluginConfig{FuelBudget: 100_000, PoolSize: 1})
	if _, _, err := p.Run(context.Background(), "burn"); !errors.Is(err, ErrFuelExhausted) {
		t.Errorf("burn on 100000 fuel: %v, want ErrFuelExhausted", err)
	}
	if rc, _, err := p.Run(context.Background(), "run"); err != nil || rc != 0 {
		t.Errorf("run after running out of fuel: %d, %v", rc, err)
	}
	p = pluginOf(t, r, wasm, PluginConfig{FuelBudget: 100_000_000})
	if rc, info, err := p.Run(context.Background(), "burn"); err != nil || rc != 7 || info.Fuel < 1_000_000 {
		t.Errorf("burn on enough fuel: %d, %+v, %v", rc, info, err)
	}

	// Deadline: spin is stopped at the plugin's timeout.
	p = pluginOf(t, r, wasm, PluginConfig{Timeout: 100 * time.Millisecond, PoolSize: 1})
	start := time.Now()
	if _, _, err := p.Run(context.Background(), "spin"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("spin stopped after %v", d)
	}
	if rc, info, err := p.Run(context.Background(), "run"); err != nil || rc != 0 || info.Calls != 1 {
		t.Errorf("run after spin: %d, %+v, %v (want a fresh instance)", rc, info, err)
	}

	// Memory: the module's one page does not fit a smaller quota.
	p = pluginOf(t, r, wasm, PluginConfig{MaxMemoryBytes: 1024})
	if _, _, err := p.Run(context.Background(), "run"); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("run in 1 KiB: %v, want ErrMemoryLimit", err)
	}
	// Tables: its 4 elements do not fit a limit of 2.
	p = pluginOf(t, r, wasm, PluginConfig{MaxTableElements: 2})
	if _, _, err := p.Run(context.Background(), "run"); err == nil {
		t.Error("run with 2 table elements allowed: no error")
	}
}

func TestNativeRunRefusals(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	p := pluginOf(t, r, nativeWasm(t, "echo_http"), PluginConfig{})
	if _, err := p.Call(ctx, "run", nil); !errors.Is(err, ErrABI) {
		t.Errorf("Call on a native plugin: %v, want ErrABI", err)
	}
	for _, name := range []string{"nope", "memory"} {
		if _, _, err := p.Run(ctx, name); !errors.Is(err, ErrNoFunction) {
			t.Errorf("Run(%q): %v, want ErrNoFunction", name, err)
		}
	}
	// A native module importing WASI, or a capability of the wrong type,
	// gets no plugin: Palyra links neither.
	for _, name := range []string{"wasi_mixed", "bad_type"} {
		mod, err := r.Compile(ctx, nativeWasm(t, name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.NewPlugin(ctx, mod, PluginConfig{})
		if !errors.Is(err, ErrABI) {
			t.Errorf("%s: NewPlugin: %v, want ErrABI", name, err)
		}
		if name == "wasi_mixed" && (err == nil || !strings.Contains(err.Error(), "wasi_snapshot_preview1.proc_exit")) {
			t.Errorf("%s: the error does not name the WASI import: %v", name, err)
		}
		mod.Close(ctx)
	}
	// An Extism module cannot be run natively: it imports the kernel.
	ep := newPlugin(t, PluginConfig{})
	if _, _, err := ep.Run(ctx, "echo"); !errors.Is(err, ErrABI) {
		t.Errorf("Run on an Extism plugin: %v, want ErrABI", err)
	}
	// A module without imports runs either way.
	fp := pluginOf(t, r, abuseWasm(t, "start_loop"), PluginConfig{Timeout: 50 * time.Millisecond})
	if _, _, err := fp.Run(ctx, "run"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("start_loop run natively: %v, want DeadlineExceeded", err)
	}
}
