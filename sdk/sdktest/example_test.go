package sdktest_test

import (
	"fmt"
	"strings"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// shout is a skill's tool. In the skill, a file built only for wasip1
// exports it:
//
//	//go:wasmexport shout
//	func wasmShout() int32 { return shout() }
func shout() int32 {
	in := sdk.InputString()
	if in == "" {
		sdk.SetErrorString("nothing to shout")
		return 1
	}
	suffix, _ := sdk.GetConfig("suffix")
	sdk.Log(sdk.LogDebug, "shouting")
	sdk.OutputString(strings.ToUpper(in) + suffix)
	return 0
}

func ExampleHost_Call() {
	h := sdktest.Host{Config: map[string]string{"suffix": "!"}}

	rc, out, err := h.Call(shout, []byte("hello"))
	fmt.Println(rc, string(out), err)

	rc, out, err = h.Call(shout, nil)
	fmt.Println(rc, string(out), err)

	fmt.Println(h.Logs)
	// Output:
	// 0 HELLO! <nil>
	// 1  nothing to shout
	// [{debug shouting}]
}
