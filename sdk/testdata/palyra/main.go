//go:build wasip1

// Command palyra exports package probe's tools that use Palyra's own host
// functions (secrets and the bulk path), for the sdk's tests. It runs in
// the Palyra host only.
package main

import "github.com/palyra/palyra-go/sdk/internal/probe"

func main() {}

//go:wasmexport secret
func secret() int32 { return probe.Secret() }

//go:wasmexport secret_fallback
func secretFallback() int32 { return probe.SecretFallback() }

//go:wasmexport secret_keeps_error
func secretKeepsError() int32 { return probe.SecretKeepsError() }

//go:wasmexport bulk_echo
func bulkEcho() int32 { return probe.BulkEcho() }

//go:wasmexport bulk_mixed
func bulkMixed() int32 { return probe.BulkMixed() }

// echo is the portable echo, for the benchmarks' comparison.
//
//go:wasmexport echo
func echo() int32 { return probe.Echo() }
