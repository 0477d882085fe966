//go:build wasip1

package sdk

// The Extism kernel ABI, as imported from the host module extism:host/env.
// Signatures follow Extism exactly: addresses and lengths are i64, bytes
// travel as i32. Addresses point into the kernel's memory, which is not
// this module's own linear memory; data crosses only through these calls.
// The Go linker emits an import only for the functions a skill reaches, so
// a skill that never logs does not import log_*.

//go:wasmimport extism:host/env input_length
func extismInputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func extismInputLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func extismInputLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env alloc
func extismAlloc(length uint64) uint64

//go:wasmimport extism:host/env free
func extismFree(addr uint64)

//go:wasmimport extism:host/env length
func extismLength(addr uint64) uint64

//go:wasmimport extism:host/env load_u8
func extismLoadU8(addr uint64) uint32

//go:wasmimport extism:host/env load_u64
func extismLoadU64(addr uint64) uint64

//go:wasmimport extism:host/env store_u8
func extismStoreU8(addr uint64, v uint32)

//go:wasmimport extism:host/env store_u64
func extismStoreU64(addr uint64, v uint64)

//go:wasmimport extism:host/env output_set
func extismOutputSet(addr, length uint64)

//go:wasmimport extism:host/env error_set
func extismErrorSet(addr uint64)

//go:wasmimport extism:host/env config_get
func extismConfigGet(key uint64) uint64

//go:wasmimport extism:host/env log_trace
func extismLogTrace(addr uint64)

//go:wasmimport extism:host/env log_debug
func extismLogDebug(addr uint64)

//go:wasmimport extism:host/env log_info
func extismLogInfo(addr uint64)

//go:wasmimport extism:host/env log_warn
func extismLogWarn(addr uint64)

//go:wasmimport extism:host/env log_error
func extismLogError(addr uint64)

//go:wasmimport extism:host/env error_get
func extismErrorGet() uint64

//go:wasmimport extism:host/env get_log_level
func extismGetLogLevel() int32

//go:wasmimport extism:host/env var_get
func extismVarGet(name uint64) uint64

//go:wasmimport extism:host/env var_set
func extismVarSet(name, value uint64)

//go:wasmimport extism:host/env http_request
func extismHTTPRequest(req, body uint64) uint64

//go:wasmimport extism:host/env http_status_code
func extismHTTPStatusCode() int32

//go:wasmimport extism:host/env http_headers
func extismHTTPHeaders() uint64

// palyra_secret_get is Palyra's, in the namespace Extism leaves to hosts'
// own functions. Only a skill that calls Secret imports it.
//
//go:wasmimport extism:host/user palyra_secret_get
func palyraSecretGet(ref uint64) uint64
