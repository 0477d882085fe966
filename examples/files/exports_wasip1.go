//go:build wasip1

package main

// The tools' names in skill.toml are the names they are exported under.

//go:wasmexport list
func wasmList() int32 { return list() }

//go:wasmexport read
func wasmRead() int32 { return read() }

//go:wasmexport append_note
func wasmAppendNote() int32 { return appendNote() }
