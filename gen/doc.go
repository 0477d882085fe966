// Package gen is palyra-go's builder and packager as a library: it compiles
// a Go skill to WebAssembly and packages a skill directory into a signed
// .palyra-skill artifact. The palyra-gen command (gen/cmd/palyra-gen) is a
// thin layer over it, and the cobra commands it uses are exported
// (BuildCommand, PackageCommand, KeygenCommand) so an operator CLI can offer
// the same verbs with the same flags.
//
// A skill directory holds skill.toml, a Go main package (tools exported with
// //go:wasmexport, wasm-only files tagged //go:build wasip1), optional
// assets/ and, after Build, modules/NAME.wasm.
//
// # Build
//
// Build compiles the main package reproducibly:
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
//	go build -trimpath -buildvcs=false -buildmode=c-shared -ldflags=-buildid=
//
// Environment variables that would change the output (GOFLAGS, GOWASM,
// GOEXPERIMENT, GOFIPS140, …) are not inherited; GOFLAGS is set explicitly
// because an empty value would let a `go env -w` setting through. The same
// sources and toolchain give byte-identical Wasm.
//
// # Build record
//
// Build also records what went into each module in DIR/.palyra/build.json
// (BuildRecordPath), one entry per module path, replaced on rebuild:
//
//   - the module file's path, SHA-256 and size;
//   - the Go version, GOOS/GOARCH, flags and the environment Build set;
//   - the main package's import path;
//   - every Go module that contributed a package (from `go list -deps`),
//     plus the standard library as module "stdlib" at the Go version: path,
//     version, replacement, and a SHA-256. For a module downloaded through
//     the module proxy that is its go.sum h1: hash (a Go dirhash; Sum keeps
//     the h1: form, SHA256 the same bytes in hex). For the main module,
//     local replaces and the standard library, which have no go.sum line,
//     it is a dirhash (golang.org/x/mod/sumdb/dirhash Hash1) over exactly the
//     files that module contributed to the build — Go, assembly, header and
//     embedded files — by path relative to the module root (GOROOT/src for
//     the standard library). HashSource says which ("go.sum" or
//     "compiled-files").
//
// The record holds no machine paths. Package uses it only for a module file
// whose SHA-256 still matches; any other module is treated as prebuilt.
//
// # Package
//
// Package reads skill.toml, modules/*.wasm, assets/** and the build record,
// writes a CycloneDX SBOM (internal/sbom) and SLSA provenance
// (internal/provenance), and signs the artifact (internal/artifact) into
// SKILL_ID-VERSION.palyra-skill. Every timestamp — signature, SBOM,
// provenance — comes from SOURCE_DATE_EPOCH when it is set, so the same
// inputs, key and SOURCE_DATE_EPOCH give byte-identical artifacts. Outputs
// are written atomically (temporary file, fsync, rename): a failed run
// leaves no partial file.
package gen
