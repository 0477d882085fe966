// Package probe holds tool functions that exercise each part of package
// sdk. The sdk's tests run them natively through sdktest and in Wasm
// (compiled from sdk/testdata/guest and sdk/testdata/palyra) through
// Extism's reference host and the Palyra runtime, and expect the same
// results from all.
package probe

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/bulk"
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

// LogEnabled outputs, for each level from LogTrace to LogError, T if the
// host keeps it and F if not, then logs its input at each level.
func LogEnabled() int32 {
	var b []byte
	for l := sdk.LogTrace; l <= sdk.LogError; l++ {
		if sdk.LogEnabled(l) {
			b = append(b, 'T')
		} else {
			b = append(b, 'F')
		}
		sdk.Log(l, sdk.InputString())
	}
	sdk.Output(b)
	return 0
}

// Person is JSON's input.
type Person struct {
	Name string   `json:"name"`
	Tags []string `json:"tags,omitempty"`
}

// JSON decodes its input as a Person, strictly, and outputs a greeting as
// JSON; a decoding error is the call's error.
func JSON() int32 {
	p, err := sdk.InputJSON[Person]()
	if err != nil {
		sdk.SetError(err)
		return 1
	}
	err = sdk.OutputJSON(struct {
		Greeting string   `json:"greeting"`
		Tags     []string `json:"tags"`
	}{"<hello> & " + p.Name, p.Tags})
	if err != nil {
		sdk.SetError(err)
		return 1
	}
	return 0
}

// JSONUnencodable tries to output a value JSON cannot encode, after a
// first output that must then stay.
func JSONUnencodable() int32 {
	sdk.OutputString("kept")
	if err := sdk.OutputJSON(func() {}); err != nil {
		sdk.Log(sdk.LogError, err.Error())
		return 0
	}
	return 1
}

// Vars runs a script on the var named by its input and outputs a
// transcript: each step's GetVar. It ends with the var set to "final".
func Vars() int32 {
	name := sdk.InputString()
	var out []byte
	get := func() {
		v, ok := sdk.GetVar(name)
		out = fmt.Appendf(out, "%q %v;", v, ok)
	}
	get()
	sdk.SetVar(name, []byte("one"))
	get()
	sdk.SetVar(name, []byte("\x00two\xff"))
	get()
	sdk.SetVar(name, nil) // empty deletes
	get()
	sdk.SetVar(name, []byte("three"))
	sdk.DeleteVar(name)
	get()
	sdk.DeleteVar(name) // deleting again does nothing
	get()
	sdk.SetVar(name, []byte("final"))
	get()
	sdk.Output(out)
	return 0
}

// VarGet outputs "set:VALUE" for the var named by its input, or "unset".
func VarGet() int32 {
	v, ok := sdk.GetVar(sdk.InputString())
	if !ok {
		sdk.OutputString("unset")
		return 0
	}
	sdk.Output(append([]byte("set:"), v...))
	return 0
}

// HTTPCall is HTTP's input.
type HTTPCall struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Header names the one response header to report, as the others
	// (Date…) differ from call to call.
	Header string `json:"header,omitempty"`
}

// HTTPResult is HTTP's output.
type HTTPResult struct {
	Status int    `json:"status"`
	Header string `json:"header"`
	Body   string `json:"body"`
}

// HTTP sends the request its input describes and outputs the response; a
// request Send refuses is the call's error.
func HTTP() int32 {
	in, err := sdk.InputJSON[HTTPCall]()
	if err != nil {
		sdk.SetError(err)
		return 1
	}
	req := sdk.HTTPRequest{Method: in.Method, URL: in.URL, Headers: in.Headers}
	if in.Body != "" {
		req.Body = []byte(in.Body)
	}
	resp, err := sdk.Send(req)
	if err != nil {
		sdk.SetError(err)
		return 1
	}
	if err := sdk.OutputJSON(HTTPResult{resp.Status, resp.Headers[in.Header], string(resp.Body)}); err != nil {
		sdk.SetError(err)
		return 1
	}
	return 0
}

// The probes below use Palyra's own host functions, so only
// sdk/testdata/palyra exports them; sdk/testdata/guest, which does not
// reference them, must import nothing but Extism's.

// Secret outputs the secret its input names as "scope key", or fails with
// the sdk's error.
func Secret() int32 {
	scope, key, _ := strings.Cut(sdk.InputString(), " ")
	v, err := sdk.Secret(scope, key)
	if err != nil {
		sdk.SetError(err)
		return 1
	}
	sdk.Output(v)
	return 0
}

// SecretFallback handles a failure: it outputs "fallback: " and the error,
// and the call succeeds.
func SecretFallback() int32 {
	scope, key, _ := strings.Cut(sdk.InputString(), " ")
	v, err := sdk.Secret(scope, key)
	if err != nil {
		sdk.OutputString("fallback: " + err.Error())
		return 0
	}
	sdk.Output(v)
	return 0
}

// SecretKeepsError sets an error, then asks for a secret: whatever the
// outcome, the error set first is the call's error. It returns 1 if Secret
// failed, 2 if not.
func SecretKeepsError() int32 {
	sdk.SetErrorString("set before")
	scope, key, _ := strings.Cut(sdk.InputString(), " ")
	if _, err := sdk.Secret(scope, key); err != nil {
		return 1
	}
	return 2
}

// BulkEcho outputs its input through package bulk.
func BulkEcho() int32 {
	bulk.Output(bulk.Input())
	return 0
}

// BulkMixed checks that bulk and sdk agree on the input and that the last
// output wins whichever way it was set.
func BulkMixed() int32 {
	if !bytes.Equal(bulk.Input(), sdk.Input()) {
		sdk.SetErrorString("bulk.Input and sdk.Input differ")
		return 1
	}
	bulk.Output([]byte("bulk first"))
	sdk.OutputString("sdk second")
	sdk.OutputString("sdk third")
	bulk.Output(sdk.Input())
	return 0
}
