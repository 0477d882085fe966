// Package tool is the runtime of a Go skill's typed tools: what the
// //go:wasmexport function of a tool does around the tool's own Go
// function. palyra-gen's generated palyra_tools.gen.go is a table over it
// — one line per tool and the tools' shapes — and a hand-written skill
// calls it the same way:
//
//	//go:wasmexport greet
//	func wasmGreet() int32 { return tool.Run(greet, nil, 0, 0) }
//
// Run reads the call's input and decodes it strictly (one JSON object,
// unknown fields refused, nothing after it, the properties the input
// schema requires present at any depth), calls the function, encodes its
// result as JSON with the nulls of nil slices, maps and []byte written as
// the output schema wants ([], {} or ""), and sets it as the output; a
// failure becomes the call's error and status 1. Return does the last half
// for a tool that reads its input itself.
//
// # Checks and rules
//
//   - Input: whitespace, then one JSON object; anything else is "invalid
//     input: want a JSON object". Unknown fields are refused
//     (json.Decoder.DisallowUnknownFields); data after the object is
//     refused. Field names otherwise match as encoding/json matches them.
//   - Required properties (Shape.Required) are checked on the JSON itself,
//     so a present null counts as present, as in JSON Schema. The first
//     missing one is reported, visiting properties in sorted order:
//     `invalid input: missing required field "stops[1].place"`.
//   - Output: encoding/json.Marshal of the result; where the output shape
//     says so, a null becomes [], {} or "" (Shape.Null). Nothing else of
//     the JSON changes.
//   - Errors: the tool's error message is the call's error; an empty
//     message becomes "tool failed", because Extism reads an empty error as
//     success. The status is 1 after any failure, 0 otherwise.
//
// The shapes are what palyra-gen derives from the JSON Schemas it writes
// into skill.toml, and no more: the host validates inputs and outputs
// against the full schemas; the shapes make a Go tool's own decoding and
// encoding agree with them.
//
// Like package sdk, tool uses the standard library only, and runs natively
// under package sdktest as it does in Wasm.
package tool
