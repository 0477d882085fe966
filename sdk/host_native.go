//go:build !wasip1

package sdk

import "github.com/palyra/palyra-go/sdk/internal/memhost"

// The primitives over the in-memory host, for native builds. Each copies
// data in and out, as crossing the Wasm boundary does, so a test cannot
// pass by sharing memory with the host where a real skill would not.

func input() []byte {
	var b []byte
	memhost.With("Input", func(c *memhost.Call) { b = append([]byte{}, c.Input...) })
	return b
}

func output(b []byte) {
	memhost.With("Output", func(c *memhost.Call) { c.Output = append([]byte{}, b...) })
}

func setError(msg string) {
	memhost.With("SetError", func(c *memhost.Call) { c.Error = msg })
}

func getConfig(key string) (v string, ok bool) {
	memhost.With("GetConfig", func(c *memhost.Call) { v = c.Config[key] })
	return v, v != ""
}

func logMessage(level LogLevel, msg string) {
	memhost.With("Log", func(c *memhost.Call) {
		c.Logs = append(c.Logs, memhost.Log{Level: int(level), Message: msg})
	})
}
