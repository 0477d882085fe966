package sdktest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/bulk"
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
		"sdk.Input":      func() { sdk.Input() },
		"sdk.Output":     func() { sdk.Output(nil) },
		"sdk.SetError":   func() { sdk.SetErrorString("x") },
		"sdk.GetConfig":  func() { sdk.GetConfig("k") },
		"sdk.Log":        func() { sdk.Log(sdk.LogInfo, "x") },
		"sdk.LogEnabled": func() { sdk.LogEnabled(sdk.LogInfo) },
		"sdk.GetVar":     func() { sdk.GetVar("k") },
		"sdk.SetVar":     func() { sdk.SetVar("k", []byte("v")) },
		"sdk.Send":       func() { sdk.Send(sdk.HTTPRequest{URL: "http://example.net/"}) },
		"sdk.Secret":     func() { sdk.Secret("global", "k") },
		"bulk.Input":     func() { bulk.Input() },
		"bulk.Output":    func() { bulk.Output(nil) },
	}
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, name+" called outside a tool call") {
					t.Errorf("panic %q does not say %s was called outside a call", msg, name)
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

// TestVars checks that Host.Vars is the store itself: the test sees what
// tools store, tools see what the test stores, and values are copies.
func TestVars(t *testing.T) {
	var h sdktest.Host
	h.Call(func() int32 {
		v := []byte("value")
		sdk.SetVar("a", v)
		v[0] = 'X' // must not reach the store
		sdk.SetVar("b", []byte("gone"))
		sdk.SetVar("b", nil) // an empty value deletes
		return 0
	}, nil)
	if !reflect.DeepEqual(h.Vars, map[string][]byte{"a": []byte("value")}) {
		t.Fatalf("Vars after the call = %q", h.Vars)
	}
	h.Vars["c"] = []byte("from the test")
	h.Call(func() int32 {
		v, _ := sdk.GetVar("a")
		v[0] = 'X' // must not reach the store either
		c, ok := sdk.GetVar("c")
		if string(c) != "from the test" || !ok {
			t.Errorf("GetVar(c) = %q, %v", c, ok)
		}
		sdk.DeleteVar("c")
		return 0
	}, nil)
	if !reflect.DeepEqual(h.Vars, map[string][]byte{"a": []byte("value")}) {
		t.Fatalf("Vars after the second call = %q", h.Vars)
	}
}

func TestLogLevel(t *testing.T) {
	h := sdktest.Host{LogLevel: sdk.LogWarn}
	h.Call(func() int32 {
		for l := sdk.LogTrace - 1; l <= sdk.LogError+1; l++ {
			sdk.Log(l, l.String())
		}
		return 0
	}, nil)
	want := []sdktest.Log{{sdk.LogWarn, "warn"}, {sdk.LogError, "error"}, {sdk.LogError, "LogLevel(5)"}}
	if !reflect.DeepEqual(h.Logs, want) {
		t.Errorf("Logs = %v, want %v", h.Logs, want)
	}
}

// TestTrap checks that a host function's trap ends the call with a
// TrapError, keeping what was logged and stored before it, and leaves the
// next call unaffected.
func TestTrap(t *testing.T) {
	var h sdktest.Host
	rc, out, err := h.Call(func() int32 {
		sdk.Log(sdk.LogInfo, "before")
		sdk.SetVar("k", []byte("v"))
		sdk.OutputString("partial")
		sdk.Send(sdk.HTTPRequest{URL: "https://api.example.net/x"})
		t.Error("Send returned after a denied request")
		return 0
	}, nil)
	var te *sdktest.TrapError
	if !errors.As(err, &te) || te.Function != "http_request" ||
		te.Error() != "http_request: HTTP request to 'https://api.example.net/x' is not allowed" {
		t.Errorf("err = %v, want the denied request's TrapError", err)
	}
	if rc != 0 || out != nil {
		t.Errorf("rc %d, output %q after a trap", rc, out)
	}
	if len(h.Logs) != 1 || string(h.Vars["k"]) != "v" {
		t.Errorf("logs %v, vars %q after a trap", h.Logs, h.Vars)
	}
	if _, out, err := h.Call(func() int32 { sdk.Output(sdk.Input()); return 0 }, []byte("next")); err != nil || string(out) != "next" {
		t.Errorf("call after a trap: %q, %v", out, err)
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header()["X-Many"] = []string{"1", "2"}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Token"), body)
	}))
	defer srv.Close()
	h := sdktest.Host{HTTP: srv.Client()}
	var resp sdk.HTTPResponse
	_, _, err := h.Call(func() int32 {
		var err error
		resp, err = sdk.Send(sdk.HTTPRequest{Method: "put", URL: srv.URL, Headers: map[string]string{"x-token": "t"}, Body: []byte("b")})
		if err != nil {
			t.Error(err)
		}
		return 0
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusAccepted || string(resp.Body) != "PUT t b" || resp.Headers["x-many"] != "1,2" {
		t.Errorf("response %d %q %v", resp.Status, resp.Body, resp.Headers)
	}
}

func TestSecrets(t *testing.T) {
	h := sdktest.Host{Secrets: map[string]string{"global/k": "v"}}
	var got []string
	h.Call(func() int32 {
		for _, key := range []string{"k", "other"} {
			v, err := sdk.Secret("global", key)
			got = append(got, fmt.Sprintf("%s %v", v, err))
		}
		return 0
	}, nil)
	want := []string{"v <nil>", ` palyra_secret_get "global/other": secret not granted (not in sdktest.Host.Secrets)`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
