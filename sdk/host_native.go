//go:build !wasip1

package sdk

import (
	"bytes"
	"errors"
	"maps"
	"strconv"

	"github.com/palyra/palyra-go/sdk/internal/memhost"
)

// The primitives over the in-memory host, for native builds. Each copies
// data in and out, as crossing the Wasm boundary does, so a test cannot
// pass by sharing memory with the host where a real skill would not.

func input() []byte {
	var b []byte
	memhost.With("sdk.Input", func(c *memhost.Call) { b = bytes.Clone(c.Input) })
	if b == nil {
		b = []byte{}
	}
	return b
}

func output(b []byte) {
	memhost.With("sdk.Output", func(c *memhost.Call) { c.Output = append([]byte{}, b...) })
}

func setError(msg string) {
	memhost.With("sdk.SetError", func(c *memhost.Call) { c.Error = msg })
}

func getConfig(key string) (v string, ok bool) {
	memhost.With("sdk.GetConfig", func(c *memhost.Call) { v = c.Config[key] })
	return v, v != ""
}

func logMessage(level LogLevel, msg string) {
	memhost.With("sdk.Log", func(c *memhost.Call) {
		if int(level) >= c.LogLevel {
			c.Logs = append(c.Logs, memhost.Log{Level: int(level), Message: msg})
		}
	})
}

func logLevel() (l LogLevel) {
	memhost.With("sdk.LogEnabled", func(c *memhost.Call) { l = LogLevel(c.LogLevel) })
	return l
}

func varGet(name string) (v []byte, ok bool) {
	memhost.With("sdk.GetVar", func(c *memhost.Call) { v = bytes.Clone(c.Vars[name]) })
	return v, len(v) > 0
}

func varSet(name string, value []byte) {
	memhost.With("sdk.SetVar", func(c *memhost.Call) {
		if len(value) == 0 {
			delete(c.Vars, name)
			return
		}
		if c.Vars == nil {
			c.Vars = make(map[string][]byte)
		}
		c.Vars[name] = bytes.Clone(value)
	})
}

func httpSend(req HTTPRequest) (resp HTTPResponse, err error) {
	memhost.With("sdk.Send", func(c *memhost.Call) {
		if c.HTTP == nil {
			panic(&memhost.Trap{Function: "http_request", Message: "HTTP request to '" + req.URL + "' is not allowed"})
		}
		r, herr := c.HTTP(memhost.HTTPRequest{
			Method:  req.Method,
			URL:     req.URL,
			Headers: maps.Clone(req.Headers),
			Body:    bytes.Clone(req.Body),
		})
		if herr != nil {
			panic(&memhost.Trap{Function: "http_request", Message: herr.Error()})
		}
		resp = HTTPResponse{Status: r.Status, Headers: maps.Clone(r.Headers), Body: bytes.Clone(r.Body)}
	})
	return resp, nil
}

func secretGet(scope, key string) (v []byte, err error) {
	memhost.With("sdk.Secret", func(c *memhost.Call) {
		ref := scope + "/" + key
		if c.Secret == nil {
			err = errors.New("palyra_secret_get " + strconv.Quote(ref) + ": no secrets are available to this plugin")
			return
		}
		v, err = c.Secret(scope, key)
		if err != nil {
			err = errors.New("palyra_secret_get " + strconv.Quote(ref) + ": " + err.Error())
		}
		v = bytes.Clone(v)
	})
	return v, err
}
