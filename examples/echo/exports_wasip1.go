//go:build wasip1

package main

// The tool's name in skill.toml is the name it is exported under.
//
//go:wasmexport echo
func wasmEcho() int32 { return echo() }
