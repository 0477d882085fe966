//go:build wasip1

package main

// The tool's name in skill.toml is the name it is exported under.
//
//go:wasmexport fetch
func wasmFetch() int32 { return fetch() }
