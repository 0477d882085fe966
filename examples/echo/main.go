// Command echo is the smallest Palyra skill: one tool, echo, that outputs
// its input unchanged.
//
// Build it as a skill module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
//
// The tool's logic is in this file, built for every target so that it can
// be tested natively with sdktest; exports_wasip1.go exports it to the host.
package main

import "github.com/palyra/palyra-go/sdk"

// main is never called: a c-shared module is a library whose host calls
// its exported tools. Go still requires it in a main package.
func main() {}

// echo is the echo tool. It cannot fail, so it always returns 0.
func echo() int32 {
	sdk.Output(sdk.Input())
	return 0
}
