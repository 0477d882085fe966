//go:build wasip1

// Command guest exports package probe's tools for the sdk's tests; it
// imports package sdk exactly as a skill does.
package main

import "github.com/palyra/palyra-go/sdk/internal/probe"

func main() {}

//go:wasmexport echo
func echo() int32 { return probe.Echo() }

//go:wasmexport echo_string
func echoString() int32 { return probe.EchoString() }

//go:wasmexport fail
func fail() int32 { return probe.Fail() }

//go:wasmexport config
func config() int32 { return probe.Config() }

//go:wasmexport log
func log() int32 { return probe.Log() }

//go:wasmexport overwrite
func overwrite() int32 { return probe.Overwrite() }

//go:wasmexport status
func status() int32 { return probe.Status() }
