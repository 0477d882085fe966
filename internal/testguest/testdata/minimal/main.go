// Command minimal is the smallest guest testguest's tests build: one
// exported function and no imports beyond what the Go runtime needs.
package main

func main() {}

// answer exists so the tests can find an export by name.
//
//go:wasmexport answer
func answer() int32 { return 42 }
