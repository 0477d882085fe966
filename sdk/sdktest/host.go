package sdktest

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/internal/memhost"
)

// Host is an in-memory stand-in for the host a skill runs in. The zero
// Host has no configuration, vars, HTTP or secrets, keeps every log
// message, and is ready to use.
//
// Calls run one at a time across every Host in the process, because the sdk
// has one current call, as a Wasm instance does. A tool must not call
// Host.Call itself.
type Host struct {
	// Config is the plugin configuration sdk.GetConfig reads.
	Config map[string]string

	// Vars is the var store sdk.GetVar, sdk.SetVar and sdk.DeleteVar use.
	// Calls change it in place, so it carries vars from one call to the
	// next, and a test can read what a tool stored.
	Vars map[string][]byte

	// LogLevel is the lowest level kept in Logs and reported by
	// sdk.LogEnabled; the zero value, sdk.LogTrace, keeps everything.
	LogLevel sdk.LogLevel

	// Logs collects, in order, every message logged with sdk.Log during
	// this Host's calls at LogLevel or above.
	Logs []Log

	// HTTP sends the requests of sdk.Send. Nil denies every request: the
	// call then fails with a *TrapError, as in a Wasm host. Use
	// httptest.Server.Client with a test server.
	HTTP *http.Client

	// Secrets are the secrets sdk.Secret can read, keyed by "scope/key"
	// ("skill:acme.weather/api_key"). sdk.Secret returns an error for any
	// other, as the Palyra host does for a secret not granted.
	Secrets map[string]string
}

// Log is one message a tool logged.
type Log struct {
	Level   sdk.LogLevel
	Message string
}

// A TrapError is the error Call returns when the host aborted the call,
// where a Wasm host traps: a denied or failed HTTP request, for one. A
// Wasm host reports the same message.
type TrapError struct {
	// Function is the host function that trapped, as Extism names it
	// ("http_request").
	Function string
	Message  string
}

func (e *TrapError) Error() string { return e.Function + ": " + e.Message }

// Call runs tool with input as the call's input. It returns the status the
// tool returned, the output it set (nil if none), and, if the tool called
// sdk.SetError with a non-empty message, an error with that message — as
// Extism's Plugin.Call does. If the host aborted the call, err is a
// *TrapError, and rc and output are zero. A panic in tool itself is not recovered: it fails the test
// with its stack, where a Wasm host would report a trap.
func (h *Host) Call(tool func() int32, input []byte) (rc int32, output []byte, err error) {
	c := &memhost.Call{
		// Copies, so the tool sees neither later changes by the test nor
		// can change the test's values.
		Input:    append([]byte{}, input...),
		Config:   maps.Clone(h.Config),
		Vars:     h.Vars,
		LogLevel: int(h.LogLevel),
		HTTP:     h.send,
		Secret:   h.secret,
	}
	if h.HTTP == nil {
		c.HTTP = nil
	}
	if h.Secrets == nil {
		c.Secret = nil
	}
	defer func() {
		// Keep what was logged and stored before a panic, too.
		for _, l := range c.Logs {
			h.Logs = append(h.Logs, Log{Level: sdk.LogLevel(l.Level), Message: l.Message})
		}
		h.Vars = c.Vars
		if r := recover(); r != nil {
			trap, ok := r.(*memhost.Trap)
			if !ok {
				panic(r)
			}
			rc, output, err = 0, nil, &TrapError{Function: trap.Function, Message: trap.Message}
		}
	}()
	rc = memhost.Run(c, tool)
	if c.Error != "" {
		err = errors.New(c.Error)
	}
	return rc, c.Output, err
}

// send sends a request the way the Palyra host does: method upper-cased,
// response headers lower-cased and joined with ",".
func (h *Host) send(req memhost.HTTPRequest) (memhost.HTTPResponse, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequest(strings.ToUpper(req.Method), req.URL, body)
	if err != nil {
		return memhost.HTTPResponse{}, err
	}
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := h.HTTP.Do(hreq)
	if err != nil {
		return memhost.HTTPResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return memhost.HTTPResponse{}, errors.New("reading response: " + err.Error())
	}
	headers := make(map[string]string, len(resp.Header))
	for k, v := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	return memhost.HTTPResponse{Status: resp.StatusCode, Headers: headers, Body: data}, nil
}

func (h *Host) secret(scope, key string) ([]byte, error) {
	v, ok := h.Secrets[scope+"/"+key]
	if !ok {
		return nil, errors.New("secret not granted (not in sdktest.Host.Secrets)")
	}
	return []byte(v), nil
}
