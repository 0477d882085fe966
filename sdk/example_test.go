package sdk_test

import (
	"errors"
	"fmt"

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
