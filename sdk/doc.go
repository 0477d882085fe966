// Package sdk is what a Go skill imports to talk to its Palyra host.
//
// A skill is a WebAssembly module built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared. Each tool is a function exported with
// //go:wasmexport that returns an int32 status, 0 for success, as Extism
// expects. Inside it, the tool reads its input with Input, writes its result
// with Output, and reports a failure with SetError:
//
//	//go:wasmexport echo
//	func echo() int32 {
//		sdk.Output(sdk.Input())
//		return 0
//	}
//
// The package speaks the Extism kernel ABI (the extism:host/env imports), so
// a skill built with it also runs in any Extism host, and the Palyra host
// runs plugins built with any Extism PDK. It uses the standard library only.
//
// # What a tool can use
//
//   - Input and output: Input, InputString, Output, OutputString; and as
//     JSON, InputJSON (strict: unknown fields are errors) and OutputJSON.
//     Package tool runs a typed Go function as a tool (decode, run,
//     encode, set the error): palyra-gen's generated wrappers are a table
//     over it, and hand-written skills can call it the same way.
//   - Errors: SetError and SetErrorString set the message the caller sees.
//   - Configuration: GetConfig reads the plugin's configuration.
//   - Vars: GetVar, SetVar and DeleteVar keep small values between calls.
//   - Logging: Log at a LogLevel; LogEnabled says whether the host keeps
//     a level, to skip building messages nobody reads.
//   - HTTP: Send sends an HTTPRequest through the host, which applies the
//     skill's egress allowlist. A request the host refuses, and any
//     network failure, aborts the call (a trap): the Extism ABI gives the
//     guest no way to see it, so the caller gets the host's message
//     ("HTTP request to '<url>' is not allowed") as the call's error.
//   - Secrets: Secret reads a secret granted to the skill. A denial is an
//     ordinary Go error the tool can handle.
//   - Files: see below.
//
// # Files
//
// There is no file API: a skill uses package os as usual, and the host
// makes the skill's filesystem roots visible through WASI preopened
// directories. A root written in skill.toml as
//
//	[capabilities.filesystem]
//	read_roots  = ["data/in"]
//	write_roots = ["data/out"]
//
// is a directory under the skill's data directory on the host, mounted at
// "/data/in" in the skill (read-only for read_roots). Nothing else of the
// host's filesystem exists for the skill. Use absolute paths,
// "/data/in/notes.txt": Go resolves a relative path against $PWD, and the
// Palyra host sets none, in which case Go starts from the first preopened
// directory, which depends on the order of the roots. Writing under a
// read root fails with an error, as does reaching outside the roots.
//
// # Portability
//
// Go's linker emits an import only for the host functions a skill
// actually reaches: a skill that never logs does not import log_*, and
// one that never calls Send does not import http_request. A Wasm host must
// provide every import of a module before it can run it, so what a skill
// calls decides where it runs:
//
//   - Everything above but Secret is the Extism ABI, which every Extism
//     host provides (vars and HTTP if the host enables them).
//   - Secret imports palyra_secret_get from extism:host/user, the
//     namespace Extism leaves to each host's own functions. Another
//     Extism host runs such a skill only if it defines that function.
//   - Package bulk moves the input and the output in one copy each
//     instead of one host call per 8 bytes (about 3× faster at 1 KiB and
//     10× at 1 MiB in the Palyra runtime), through palyra:host/env, which
//     only the Palyra host provides. It is a package of its own so that
//     the choice is visible in a skill's imports.
//
// # Memory
//
// Values cross the Wasm boundary by copy: each function returns the
// caller's own copy and copies what it is given, so a tool may keep or
// modify them. Data moves through the host's memory blocks, which the
// host frees at the end of each call.
//
// # Testing tools natively
//
// Compiled for the machine running go test rather than for Wasm, the same
// functions talk to an in-memory host instead of extism:host/env. Package
// sdktest runs a tool function against it, with the configuration, vars,
// HTTP client and secrets a test gives it:
//
//	var h sdktest.Host
//	rc, out, err := h.Call(echo, []byte("hi"))
//
// so a skill's logic can be unit-tested with plain go test, keeping the
// //go:wasmexport wrappers in files built only for wasip1. Outside such a
// call the functions panic, as there is no host to talk to.
package sdk
