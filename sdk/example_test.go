package sdk_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// A tool is a function the skill exports with //go:wasmexport. Natively,
// sdktest.Host runs it against an in-memory host.
func Example() {
	greet := func() int32 {
		sdk.OutputString("hello, " + sdk.InputString())
		return 0
	}

	var h sdktest.Host
	_, out, err := h.Call(greet, []byte("world"))
	fmt.Println(string(out), err)
	// Output: hello, world <nil>
}

func ExampleSetError() {
	parse := func() int32 {
		if len(sdk.Input()) == 0 {
			sdk.SetError(errors.New("empty input"))
			return 1 // non-zero as well, for hosts that look only at the status
		}
		sdk.Output(sdk.Input())
		return 0
	}

	var h sdktest.Host
	rc, _, err := h.Call(parse, nil)
	fmt.Println(rc, err)
	// Output: 1 empty input
}

func ExampleGetConfig() {
	tool := func() int32 {
		if units, ok := sdk.GetConfig("units"); ok {
			sdk.OutputString("units: " + units)
		} else {
			sdk.OutputString("units: metric (default)")
		}
		return 0
	}

	h := sdktest.Host{Config: map[string]string{"units": "imperial"}}
	_, out, _ := h.Call(tool, nil)
	fmt.Println(string(out))
	// Output: units: imperial
}

func ExampleLog() {
	tool := func() int32 {
		sdk.Log(sdk.LogInfo, "starting")
		return 0
	}

	var h sdktest.Host
	h.Call(tool, nil)
	fmt.Println(h.Logs)
	// Output: [{info starting}]
}

func ExampleInput() {
	count := func() int32 {
		in := sdk.Input() // the tool's own copy: safe to modify
		sdk.OutputString(fmt.Sprint(len(in), " bytes"))
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(count, []byte{0, 1, 2})
	fmt.Println(string(out))
	// Output: 3 bytes
}

func ExampleInputString() {
	upper := func() int32 {
		sdk.OutputString(strings.ToUpper(sdk.InputString()))
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(upper, []byte("quiet"))
	fmt.Println(string(out))
	// Output: QUIET
}

func ExampleOutput() {
	reverse := func() int32 {
		b := sdk.Input()
		slices.Reverse(b)
		sdk.Output(b)
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(reverse, []byte("stressed"))
	fmt.Println(string(out))
	// Output: desserts
}

func ExampleOutputString() {
	hello := func() int32 {
		sdk.OutputString("hello")
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(hello, nil)
	fmt.Println(string(out))
	// Output: hello
}

func ExampleSetErrorString() {
	tool := func() int32 {
		sdk.SetErrorString("not implemented yet")
		return 1
	}

	var h sdktest.Host
	_, _, err := h.Call(tool, nil)
	fmt.Println(err)
	// Output: not implemented yet
}

func ExampleLogEnabled() {
	tool := func() int32 {
		// Build the costly message only if the host keeps it.
		if sdk.LogEnabled(sdk.LogDebug) {
			sdk.Log(sdk.LogDebug, fmt.Sprintf("input: %q", sdk.Input()))
		}
		sdk.Log(sdk.LogWarn, "done")
		return 0
	}

	h := sdktest.Host{LogLevel: sdk.LogInfo}
	h.Call(tool, []byte("x"))
	fmt.Println(h.Logs)
	// Output: [{warn done}]
}

func ExampleInputJSON() {
	type forecastInput struct {
		City string `json:"city"`
		Days int    `json:"days"`
	}
	forecast := func() int32 {
		in, err := sdk.InputJSON[forecastInput]()
		if err != nil {
			sdk.SetError(err)
			return 1
		}
		sdk.OutputString(fmt.Sprintf("%d days in %s", in.Days, in.City))
		return 0
	}

	var h sdktest.Host
	_, out, err := h.Call(forecast, []byte(`{"city": "Oslo", "days": 3}`))
	fmt.Println(string(out), err)
	_, _, err = h.Call(forecast, []byte(`{"city": "Oslo", "dayz": 3}`))
	fmt.Println(err)
	// Output:
	// 3 days in Oslo <nil>
	// sdk: input: json: unknown field "dayz"
}

func ExampleOutputJSON() {
	type summary struct {
		Summary string  `json:"summary"`
		TempC   float64 `json:"temp_c"`
	}
	tool := func() int32 {
		if err := sdk.OutputJSON(summary{"Rain & wind", 7.5}); err != nil {
			sdk.SetError(err)
			return 1
		}
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(tool, nil)
	fmt.Println(string(out))
	// Output: {"summary":"Rain & wind","temp_c":7.5}
}

func ExampleGetVar() {
	// count counts its calls in the var "calls".
	count := func() int32 {
		var n uint64
		if v, ok := sdk.GetVar("calls"); ok {
			n = binary.LittleEndian.Uint64(v)
		}
		n++
		sdk.SetVar("calls", binary.LittleEndian.AppendUint64(nil, n))
		sdk.OutputString(fmt.Sprint(n))
		return 0
	}

	var h sdktest.Host // h.Vars carries vars from call to call
	for range 3 {
		_, out, _ := h.Call(count, nil)
		fmt.Print(string(out), " ")
	}
	fmt.Println()
	// Output: 1 2 3
}

func ExampleSetVar() {
	remember := func() int32 {
		sdk.SetVar("last", sdk.Input())
		return 0
	}

	var h sdktest.Host
	h.Call(remember, []byte("first"))
	h.Call(remember, []byte("second"))
	fmt.Println(string(h.Vars["last"]))
	// Output: second
}

func ExampleDeleteVar() {
	forget := func() int32 {
		sdk.DeleteVar("session")
		return 0
	}

	h := sdktest.Host{Vars: map[string][]byte{"session": []byte("abc"), "other": []byte("kept")}}
	h.Call(forget, nil)
	fmt.Println(len(h.Vars), string(h.Vars["other"]))
	// Output: 1 kept
}

func ExampleSend() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()

	fetch := func() int32 {
		resp, err := sdk.Send(sdk.HTTPRequest{URL: sdk.InputString()})
		if err != nil {
			sdk.SetError(err)
			return 1
		}
		sdk.OutputString(fmt.Sprintf("%d %s: %s", resp.Status, resp.Headers["content-type"], resp.Body))
		return 0
	}

	h := sdktest.Host{HTTP: srv.Client()}
	_, out, _ := h.Call(fetch, []byte(srv.URL+"/forecast"))
	fmt.Println(string(out))

	// Without an HTTP client the host denies every request: the call
	// traps, and the tool never sees the response.
	h.HTTP = nil
	_, _, err := h.Call(fetch, []byte("http://weather.example.net/"))
	fmt.Println(err)
	// Output:
	// 200 text/plain: GET /forecast
	// http_request: HTTP request to 'http://weather.example.net/' is not allowed
}

func ExampleSecret() {
	tool := func() int32 {
		key, err := sdk.Secret("skill:acme.weather", "api_key")
		if err != nil {
			sdk.SetError(err)
			return 1
		}
		sdk.OutputString(fmt.Sprintf("got a %d-byte key", len(key)))
		return 0
	}

	h := sdktest.Host{Secrets: map[string]string{"skill:acme.weather/api_key": "k-123"}}
	_, out, _ := h.Call(tool, nil)
	fmt.Println(string(out))

	h.Secrets = map[string]string{}
	_, _, err := h.Call(tool, nil)
	fmt.Println(err)
	// Output:
	// got a 5-byte key
	// palyra_secret_get "skill:acme.weather/api_key": secret not granted (not in sdktest.Host.Secrets)
}

func ExampleLogLevel_String() {
	fmt.Println(sdk.LogWarn, sdk.LogLevel(9))
	// Output: warn LogLevel(9)
}
