package sdk_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/internal/probe"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

const modulePath = "github.com/palyra/palyra-go"

// TestStdlibOnly enforces that a skill importing sdk pulls in nothing but
// the standard library and the sdk's own internal packages, natively and
// for Wasm.
func TestStdlibOnly(t *testing.T) {
	targets := []struct {
		name string
		env  []string
	}{
		{"native", nil},
		{"wasip1", []string{"GOOS=wasip1", "GOARCH=wasm"}},
	}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", modulePath+"/sdk")
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			var n int
			for line := range strings.Lines(string(out)) {
				path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
				ours := path == modulePath+"/sdk" || strings.HasPrefix(path, modulePath+"/sdk/internal/")
				if std != "true" && !ours {
					t.Errorf("sdk depends on %s, which is neither standard library nor the sdk's own", path)
				}
				n++
			}
			if n < 2 {
				t.Fatalf("go list printed %d packages; the check checked nothing", n)
			}
		})
	}
}

// Config is the plugin configuration used by both hosts.
var config = map[string]string{
	"greeting": "hello, world",
	"empty":    "",
	"binary":   "\xff\x00\xfe",
}

// plugin returns a fresh Extism instance of sdk/testdata/guest and the
// messages it logs. The guest is compiled once per test process.
func plugin(t *testing.T) (*extism.Plugin, *[]sdktest.Log) {
	t.Helper()
	compiled := compiledGuest(t)
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

var compiled struct {
	once sync.Once
	p    *extism.CompiledPlugin
	err  error
}

func compiledGuest(t *testing.T) *extism.CompiledPlugin {
	wasm := testguest.Build(t, "./testdata/guest")
	compiled.once.Do(func() {
		// Extism's log level is process-wide; trace lets every message through.
		extism.SetLogLevel(extism.LogLevelTrace)
		manifest := extism.Manifest{
			Wasm:   []extism.Wasm{extism.WasmData{Data: wasm, Name: "guest"}},
			Config: config,
		}
		compiled.p, compiled.err = extism.NewCompiledPlugin(context.Background(), manifest,
			extism.PluginConfig{EnableWasi: true}, nil)
	})
	if compiled.err != nil {
		t.Fatal(compiled.err)
	}
	return compiled.p
}

// inputs are the payloads every echo is tried with: empty, each length
// around the 8-byte chunk the ABI copies by, large ones, and bytes that
// are not UTF-8.
func inputs() map[string][]byte {
	r := rand.New(rand.NewChaCha8([32]byte{'s', 'd', 'k'}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	m := map[string][]byte{
		"empty":    {},
		"small":    []byte("hello"),
		"1KiB":     random(1 << 10),
		"100KiB":   random(100 << 10),
		"non-UTF8": {0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80},
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17} {
		m["len"+strconv.Itoa(n)] = random(n)
	}
	return m
}

type result struct {
	rc   int32
	out  []byte
	err  string
	logs []sdktest.Log
}

// TestConformance runs each probe tool natively through sdktest and in
// Wasm through Extism's go-sdk, and expects both to give the wanted
// result. The Wasm calls share one instance, so each also checks that the
// previous call left nothing behind.
func TestConformance(t *testing.T) {
	type test struct {
		name   string
		export string
		tool   func() int32
		input  []byte
		want   result
	}
	var tests []test
	for name, in := range inputs() {
		tests = append(tests,
			test{"echo/" + name, "echo", probe.Echo, in, result{out: in}},
			test{"echo_string/" + name, "echo_string", probe.EchoString, in, result{out: in}})
	}
	allLevels := func(msg string) []sdktest.Log {
		var logs []sdktest.Log
		for _, l := range []sdk.LogLevel{sdk.LogTrace, sdk.LogTrace, sdk.LogDebug, sdk.LogInfo, sdk.LogWarn, sdk.LogError, sdk.LogError} {
			logs = append(logs, sdktest.Log{Level: l, Message: msg})
		}
		return logs
	}
	tests = append(tests,
		test{"fail", "fail", probe.Fail, []byte("boom: ünïcode"), result{rc: 1, err: "boom: ünïcode"}},
		test{"fail/empty", "fail", probe.Fail, nil, result{rc: 1}},
		test{"config/set", "config", probe.Config, []byte("greeting"), result{out: []byte("set:hello, world")}},
		test{"config/binary", "config", probe.Config, []byte("binary"), result{out: []byte("set:\xff\x00\xfe")}},
		test{"config/unset", "config", probe.Config, []byte("nope"), result{out: []byte("unset")}},
		test{"config/empty value", "config", probe.Config, []byte("empty"), result{out: []byte("unset")}},
		test{"config/empty key", "config", probe.Config, nil, result{out: []byte("unset")}},
		test{"log", "log", probe.Log, []byte("note"), result{logs: allLevels("note")}},
		test{"log/empty", "log", probe.Log, nil, result{}},
		test{"overwrite", "overwrite", probe.Overwrite, nil, result{out: []byte("second")}},
		test{"status", "status", probe.Status, []byte{7}, result{rc: 7}},
		test{"status/zero", "status", probe.Status, nil, result{}},
	)

	p, logs := plugin(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.Host{Config: config}
			rc, out, err := h.Call(tt.tool, tt.input)
			check(t, "sdktest", result{rc, out, errString(err), h.Logs}, tt.want)

			*logs = nil
			urc, out, err := p.Call(tt.export, tt.input)
			check(t, "extism", result{int32(urc), out, errString(err), *logs}, tt.want)
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func check(t *testing.T, host string, got, want result) {
	t.Helper()
	if got.rc != want.rc {
		t.Errorf("%s: status %d, want %d", host, got.rc, want.rc)
	}
	if !bytes.Equal(got.out, want.out) {
		t.Errorf("%s: output differs: got %d bytes %.40q, want %d bytes %.40q",
			host, len(got.out), got.out, len(want.out), want.out)
	}
	if got.err != want.err {
		t.Errorf("%s: error %q, want %q", host, got.err, want.err)
	}
	if len(got.logs) != 0 || len(want.logs) != 0 {
		if !reflect.DeepEqual(got.logs, want.logs) {
			t.Errorf("%s: logs\n got %v\nwant %v", host, got.logs, want.logs)
		}
	}
}
