//go:build wasip1

// Command guest exports package probe's portable tools for the sdk's
// tests; it imports package sdk exactly as a skill does. It uses Extism's
// ABI only, so it runs in any Extism host (the tests check its imports).
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

//go:wasmexport log_enabled
func logEnabled() int32 { return probe.LogEnabled() }

//go:wasmexport json
func jsonExport() int32 { return probe.JSON() }

//go:wasmexport json_unencodable
func jsonUnencodable() int32 { return probe.JSONUnencodable() }

//go:wasmexport vars
func vars() int32 { return probe.Vars() }

//go:wasmexport var_get
func varGet() int32 { return probe.VarGet() }

//go:wasmexport http
func httpExport() int32 { return probe.HTTP() }
