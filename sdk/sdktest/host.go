package sdktest

import (
	"errors"
	"maps"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/internal/memhost"
)

// Host is an in-memory stand-in for the host a skill runs in. The zero
// Host has no configuration and is ready to use.
//
// Calls run one at a time across every Host in the process, because the sdk
// has one current call, as a Wasm instance does. A tool must not call
// Host.Call itself.
type Host struct {
	// Config is the plugin configuration sdk.GetConfig reads.
	Config map[string]string

	// Logs collects, in order, every message logged with sdk.Log during
	// this Host's calls.
	Logs []Log
}

// Log is one message a tool logged.
type Log struct {
	Level   sdk.LogLevel
	Message string
}

// Call runs tool with input as the call's input. It returns the status the
// tool returned, the output it set (nil if none), and, if the tool called
// sdk.SetError with a non-empty message, an error with that message — as
// Extism's Plugin.Call does. A panic in tool is not recovered: it fails the
// test with its stack, where a Wasm host would report a trap.
func (h *Host) Call(tool func() int32, input []byte) (rc int32, output []byte, err error) {
	c := &memhost.Call{
		// Copies, so the tool sees neither later changes by the test nor
		// can change the test's values.
		Input:  append([]byte{}, input...),
		Config: maps.Clone(h.Config),
	}
	defer func() {
		// Keep what was logged before a panic, too.
		for _, l := range c.Logs {
			h.Logs = append(h.Logs, Log{Level: sdk.LogLevel(l.Level), Message: l.Message})
		}
	}()
	rc = memhost.Run(c, tool)
	if c.Error != "" {
		err = errors.New(c.Error)
	}
	return rc, c.Output, err
}
