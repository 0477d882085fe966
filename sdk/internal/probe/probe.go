// Package probe holds tool functions that exercise each part of package
// sdk. The sdk's tests run them twice, natively through sdktest and in
// Wasm (compiled from sdk/testdata/guest) through Extism's reference host,
// and expect the same results from both.
package probe

import (
	"errors"

	"github.com/palyra/palyra-go/sdk"
)

// Echo outputs its input.
func Echo() int32 {
	sdk.Output(sdk.Input())
	return 0
}

// EchoString outputs its input through the string functions.
func EchoString() int32 {
	sdk.OutputString(sdk.InputString())
	return 0
}

// Fail fails with its input as the error message.
func Fail() int32 {
	sdk.SetError(errors.New(sdk.InputString()))
	return 1
}

// Config outputs "set:VALUE" for the configuration key named by its input,
// or "unset".
func Config() int32 {
	v, ok := sdk.GetConfig(sdk.InputString())
	if !ok {
		sdk.OutputString("unset")
		return 0
	}
	sdk.OutputString("set:" + v)
	return 0
}

// Log logs its input at each level and at one beyond each end, then an
// empty message, which is not sent.
func Log() int32 {
	msg := sdk.InputString()
	for l := sdk.LogTrace - 1; l <= sdk.LogError+1; l++ {
		sdk.Log(l, msg)
	}
	sdk.Log(sdk.LogInfo, "")
	return 0
}

// Overwrite sets an output and an error, then replaces the output and
// clears the error: the last of each wins.
func Overwrite() int32 {
	sdk.OutputString("first")
	sdk.SetErrorString("not an error in the end")
	sdk.Output([]byte("second"))
	sdk.SetError(nil)
	return 0
}

// Status returns the first byte of its input as the call's status, with
// no error set.
func Status() int32 {
	in := sdk.Input()
	if len(in) == 0 {
		return 0
	}
	return int32(in[0])
}
