package sdktest_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

func TestCallCopies(t *testing.T) {
	in := []byte("input")
	var h sdktest.Host
	var kept []byte
	_, out, _ := h.Call(func() int32 {
		b := sdk.Input()
		b[0] = 'X' // must change neither the host's input nor the test's
		if again := sdk.InputString(); again != "input" {
			t.Errorf("second Input after editing the first = %q", again)
		}
		kept = []byte("output")
		sdk.Output(kept)
		kept[0] = 'X' // must not reach the host's output
		return 0
	}, in)
	if string(in) != "input" {
		t.Errorf("the tool changed the test's input to %q", in)
	}
	if string(out) != "output" {
		t.Errorf("output = %q, want %q", out, "output")
	}
}

func TestCallResults(t *testing.T) {
	tests := []struct {
		name    string
		tool    func() int32
		rc      int32
		out     []byte
		err     string
		wantErr bool
	}{
		{"nothing", func() int32 { return 0 }, 0, nil, "", false},
		{"status without error", func() int32 { return 3 }, 3, nil, "", false},
		{"error and output", func() int32 {
			sdk.OutputString("partial")
			sdk.SetErrorString("bad input")
			return 1
		}, 1, []byte("partial"), "bad input", true},
		{"error cleared", func() int32 {
			sdk.SetErrorString("bad input")
			sdk.SetErrorString("")
			return 0
		}, 0, nil, "", false},
		{"empty output", func() int32 { sdk.Output(nil); return 0 }, 0, []byte{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h sdktest.Host
			rc, out, err := h.Call(tt.tool, nil)
			if rc != tt.rc {
				t.Errorf("rc = %d, want %d", rc, tt.rc)
			}
			if !bytes.Equal(out, tt.out) || (out == nil) != (tt.out == nil) {
				t.Errorf("output = %#v, want %#v", out, tt.out)
			}
			if (err != nil) != tt.wantErr || (err != nil && err.Error() != tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	h := sdktest.Host{Config: map[string]string{"k": "v"}}
	tool := func() int32 {
		v, ok := sdk.GetConfig(sdk.InputString())
		sdk.OutputString(fmt.Sprintf("%s %v", v, ok))
		return 0
	}
	for key, want := range map[string]string{"k": "v true", "other": " false"} {
		if _, out, _ := h.Call(tool, []byte(key)); string(out) != want {
			t.Errorf("GetConfig(%q): %q, want %q", key, out, want)
		}
	}
	// Config is read at each call, not captured by the Host.
	h.Config["k"] = "w"
	if _, out, _ := h.Call(tool, []byte("k")); string(out) != "w true" {
		t.Errorf("after changing Config: %q", out)
	}
}

func TestLogsAccumulate(t *testing.T) {
	var h sdktest.Host
	h.Call(func() int32 { sdk.Log(sdk.LogWarn, "one"); return 0 }, nil)
	func() {
		defer func() { recover() }()
		h.Call(func() int32 { sdk.Log(sdk.LogDebug, "two"); panic("tool bug") }, nil)
	}()
	want := []sdktest.Log{{sdk.LogWarn, "one"}, {sdk.LogDebug, "two"}}
	if !reflect.DeepEqual(h.Logs, want) {
		t.Fatalf("Logs = %v, want %v", h.Logs, want)
	}
}

// TestOutsideCall checks that the sdk refuses to run without a host, and
// that a panicking tool does not leave its call behind.
func TestOutsideCall(t *testing.T) {
	var h sdktest.Host
	func() {
		defer func() {
			if r := recover(); r != "tool bug" {
				t.Errorf("recovered %v, want the tool's own panic", r)
			}
		}()
		h.Call(func() int32 { panic("tool bug") }, []byte("x"))
	}()

	calls := map[string]func(){
		"Input":     func() { sdk.Input() },
		"Output":    func() { sdk.Output(nil) },
		"SetError":  func() { sdk.SetErrorString("x") },
		"GetConfig": func() { sdk.GetConfig("k") },
		"Log":       func() { sdk.Log(sdk.LogInfo, "x") },
	}
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "sdk."+name+" called outside a tool call") {
					t.Errorf("panic %q does not say sdk.%s was called outside a call", msg, name)
				}
			}()
			f()
		})
	}
}

// TestConcurrentCalls runs calls from many goroutines; each sees its own
// input (run with -race to also check the locking).
func TestConcurrentCalls(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			h := sdktest.Host{}
			in := fmt.Appendf(nil, "call %d", i)
			_, out, _ := h.Call(func() int32 {
				sdk.Log(sdk.LogInfo, sdk.InputString())
				sdk.Output(sdk.Input())
				return 0
			}, in)
			if !bytes.Equal(out, in) || len(h.Logs) != 1 || h.Logs[0].Message != string(in) {
				t.Errorf("call %d: output %q, logs %v", i, out, h.Logs)
			}
		})
	}
	wg.Wait()
}
