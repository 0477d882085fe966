package sdk_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/internal/probe"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

const modulePath = "github.com/palyra/palyra-go"

// TestStdlibOnly enforces that a skill importing sdk or sdk/tool (what
// generated wrappers import) pulls in nothing but the standard library and
// the sdk's own packages, natively and for Wasm.
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
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", modulePath+"/sdk", modulePath+"/sdk/tool")
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			var n int
			for line := range strings.Lines(string(out)) {
				path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
				ours := path == modulePath+"/sdk" || path == modulePath+"/sdk/tool" || strings.HasPrefix(path, modulePath+"/sdk/internal/")
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

// TestConformance runs each probe tool natively through sdktest and in
// Wasm through Extism's go-sdk and the Palyra runtime, and expects all
// three to give the wanted result. The Wasm calls of each host share one
// instance, so each also checks that the previous call left nothing
// behind.
func TestConformance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(httpProbeHandler))
	t.Cleanup(srv.Close)

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
	httpCall := func(c probe.HTTPCall) []byte {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
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
		test{"log_enabled", "log_enabled", probe.LogEnabled, []byte("m"), result{out: []byte("TTTTT"), logs: allLevels("m")[1:6]}},
		test{"overwrite", "overwrite", probe.Overwrite, nil, result{out: []byte("second")}},
		test{"status", "status", probe.Status, []byte{7}, result{rc: 7}},
		test{"status/zero", "status", probe.Status, nil, result{}},

		test{"json", "json", probe.JSON, []byte(` {"name": "Ada", "tags": ["x", "<y>"]}` + "\n"),
			result{out: []byte(`{"greeting":"<hello> & Ada","tags":["x","<y>"]}`)}},
		test{"json/no tags", "json", probe.JSON, []byte(`{"name":"Ada"}`),
			result{out: []byte(`{"greeting":"<hello> & Ada","tags":null}`)}},
		test{"json/unknown field", "json", probe.JSON, []byte(`{"name":"Ada","age":36}`),
			result{rc: 1, err: `sdk: input: json: unknown field "age"`}},
		test{"json/trailing data", "json", probe.JSON, []byte(`{"name":"Ada"} {}`),
			result{rc: 1, err: "sdk: input: data after the JSON value"}},
		test{"json/trailing garbage", "json", probe.JSON, []byte(`{"name":"Ada"}x`),
			result{rc: 1, err: "sdk: input: data after the JSON value"}},
		test{"json/empty", "json", probe.JSON, []byte(" \n"), result{rc: 1, err: "sdk: input is empty, want JSON"}},
		test{"json/wrong type", "json", probe.JSON, []byte(`{"name":1}`),
			result{rc: 1, err: "sdk: input: json: cannot unmarshal number into Go struct field Person.name of type string"}},
		test{"json/unencodable", "json_unencodable", probe.JSONUnencodable, nil,
			result{out: []byte("kept"), logs: []sdktest.Log{{Level: sdk.LogError, Message: "sdk: output: json: unsupported type: func()"}}}},

		test{"vars", "vars", probe.Vars, []byte("scratch"),
			result{out: []byte(`"" false;"one" true;"\x00two\xff" true;"" false;"" false;"" false;"final" true;`)}},
		test{"vars/empty name", "var_get", probe.VarGet, nil, result{out: []byte("unset")}},

		test{"http/get", "http", probe.HTTP, httpCall(probe.HTTPCall{URL: srv.URL + "/hello", Header: "x-seen"}),
			result{out: []byte(`{"status":200,"header":"GET /hello token= body=","body":"hello"}`)}},
		test{"http/post", "http", probe.HTTP, httpCall(probe.HTTPCall{Method: "post", URL: srv.URL + "/echo?q=1",
			Headers: map[string]string{"X-Token": "t1"}, Body: "payload", Header: "x-seen"}),
			result{out: []byte(`{"status":200,"header":"POST /echo token=t1 body=payload","body":"payload"}`)}},
		test{"http/not found", "http", probe.HTTP, httpCall(probe.HTTPCall{URL: srv.URL + "/missing", Header: "content-type"}),
			result{out: []byte(`{"status":404,"header":"text/plain; charset=utf-8","body":"404 page not found\n"}`)}},
		test{"http/no content", "http", probe.HTTP, httpCall(probe.HTTPCall{Method: "DELETE", URL: srv.URL + "/empty", Header: "x-seen"}),
			result{out: []byte(`{"status":204,"header":"DELETE /empty token= body=","body":""}`)}},
		test{"http/multi-valued header", "http", probe.HTTP, httpCall(probe.HTTPCall{URL: srv.URL + "/hello", Header: "x-multi"}),
			result{out: []byte(`{"status":200,"header":"a,b","body":"hello"}`)}},
		test{"http/not http", "http", probe.HTTP, httpCall(probe.HTTPCall{URL: "ftp://127.0.0.1/x"}),
			result{rc: 1, err: `sdk: HTTP request: want an absolute http or https URL, not "ftp://127.0.0.1/x"`}},
		test{"http/relative", "http", probe.HTTP, httpCall(probe.HTTPCall{URL: "/x"}),
			result{rc: 1, err: `sdk: HTTP request: want an absolute http or https URL, not "/x"`}},
	)

	ep, elogs := extismPlugin(t)
	pp := newPalyraPlugin(t, portableGuest, runtime.PluginConfig{HTTP: srv.Client()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.Host{Config: config, HTTP: srv.Client()}
			check(t, "sdktest", nativeCall(&h, tt.tool, tt.input), tt.want)
			check(t, "extism", extismCall(ep, elogs, tt.export, tt.input), tt.want)
			check(t, "palyra", pp.call(tt.export, tt.input), tt.want)
		})
	}
}

// httpProbeHandler answers the HTTP probes: /hello says hello, /echo
// echoes the body, /empty says nothing; every answer has an X-Seen
// header describing the request.
func httpProbeHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Seen", fmt.Sprintf("%s %s token=%s body=%s", r.Method, r.URL.Path, r.Header.Get("X-Token"), body))
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	switch r.URL.Path {
	case "/hello":
		io.WriteString(w, "hello")
	case "/echo":
		w.Write(body)
	case "/empty":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
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
