// Package gen is palyra-go's skill toolchain as a library: it scaffolds a
// Go skill, generates its tool bindings and JSON Schemas from Go types,
// compiles it to WebAssembly, packages it into a signed .palyra-skill
// artifact, installs development builds, and writes typed Go clients for
// apps. The palyra-gen command (gen/cmd/palyra-gen) is a thin layer over
// it, and its cobra commands are exported (Command, BuildCommand,
// PackageCommand, …) so that an operator CLI can offer the same verbs
// with the same flags.
//
// # The author's workflow
//
//	palyra-gen new skill hello --publisher acme   # scaffold ./hello
//	cd hello
//	go generate ./...                             # after changing a tool or its types
//	go test ./...                                 # the tools are plain Go: test them natively
//	go tool palyra-gen build                      # modules/hello.wasm
//	go tool palyra-gen keygen --out ~/.palyra-keys   # once
//	go tool palyra-gen package --key ~/.palyra-keys/publisher.key
//	palyra skills install --allow-tofu acme.hello-0.1.0.palyra-skill
//	palyra skills run acme.hello greet --input '{"name": "Ada"}'
//
// and, while developing, one command instead of build, keygen, package
// and install:
//
//	go tool palyra-gen build --watch --install ~/.palyra-dev
//
// A scaffolded repository has palyra-gen as a tool of its go.mod, so
// `go tool palyra-gen` and its //go:generate line run the version it
// pins.
//
// # Commands
//
//	palyra-gen new skill NAME [--dir D] [--publisher P] [--template T]
//	                          [--module M] [--palyra-dir PATH] [--force]
//	palyra-gen templates list
//	palyra-gen generate [DIR] [--check]
//	palyra-gen build [DIR] [--name N] [--watch [--interval D]] [--install STATE_DIR]
//	palyra-gen package [DIR] --key FILE|- [--out FILE] [--store-modules]
//	palyra-gen keygen [--out DIR]
//	palyra-gen client (--manifest skill.toml | --artifact FILE) --package NAME --out DIR
//	palyra-gen version [--json]            (or --version [--json])
//	palyra-gen completion bash|zsh|fish|powershell
//
// Every command but build --watch takes --json for a machine-readable
// result. Errors go to stderr, with exit status 1, or 2 for a wrong
// command line (unknown command or flag, wrong arguments); with --json a
// failure also prints {"error": …} on stdout. A manifest error names the
// file once, as path:line: key: message.
//
// # new skill and templates list
//
// Scaffold writes a skill repository from a template of package
// templates (basic: one typed tool; http: an egress allowlist; files:
// filesystem roots): skill.toml (manifest v2 with operator metadata),
// main.go with typed tools, their unit test, go.mod with the palyra-gen
// tool directive and a replace to the local palyra-go checkout (the
// module is not published), gen.go with //go:generate, README.md and
// .gitignore (build outputs, artifacts and keys). It then generates the
// bindings and tidies go.mod from the module cache, so the new repository
// builds and tests offline. The name is checked before anything is
// written, a non-empty directory is refused without --force, and a
// failure leaves nothing behind.
//
// # generate
//
// Generate loads the skill package with golang.org/x/tools/go/packages,
// finds the functions marked //palyra:tool — func(context.Context, In)
// (Out, error), or without the context — and writes GeneratedFile, one
// //go:wasmexport wrapper per tool, and the [[entrypoints.tools]] tables
// of skill.toml with JSON Schemas (draft 2020-12) of In and Out, edited in
// place so that comments and other keys survive. The wrappers are a few
// lines per tool and a table of shapes over package sdk/tool, which does
// the work at run time (hand-written skills call it too): it decodes input
// strictly, refuses input that lacks a required property, and writes a nil
// slice or map of the output as its schema says ([] or {}, not null). See
// Generate for the rules. Output is deterministic; --check writes nothing
// and fails when a file is stale, for CI. Errors name the source position.
//
// # build
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
// Build also records what went into each module in DIR/.palyra/build.json
// (BuildRecordPath), one entry per module path, replaced on rebuild:
//
//   - the module file's path, SHA-256 and size;
//   - the Go version, GOOS/GOARCH, flags and the environment Build set;
//   - the main package's import path;
//   - every Go module that contributed a package (from `go list -deps`),
//     plus the standard library as module "stdlib" at the Go version: path,
//     version, replacement, and two hashes named for what they are. Dirhash
//     is the module's Go dirhash ("h1:…"): for a module downloaded through
//     the module proxy, its go.sum hash (Sum); for the main module, local
//     replaces and the standard library, which have no go.sum line, a
//     dirhash (golang.org/x/mod/sumdb/dirhash Hash1) over exactly the files
//     that module contributed to the build — Go, assembly, header and
//     embedded files — by path relative to the module root (GOROOT/src for
//     the standard library). DirhashSource says which ("go.sum" or
//     "compiled-files"). ZipSHA256 is the SHA-256 of the module's zip in
//     the module cache (GOMODCACHE/cache/download/PATH/@v/VERSION.zip),
//     only when that file is there and its dirhash is Sum; it is empty
//     otherwise, never a stand-in.
//
// The record is itself reproducible: when each module was built (start,
// finish, and the SHA-256 of the file that run wrote) is kept apart, in
// DIR/.palyra/build-times.json (BuildTimesPath), for the provenance of a
// package that is not reproducible.
//
// The record holds no machine paths. Package uses it only for a module file
// whose SHA-256 still matches; any other module is treated as prebuilt.
//
// # build --watch and --install: the developer loop
//
// Watch builds, then polls the sources (Go files, go.mod, go.sum,
// skill.toml, assets/) every 500 ms and rebuilds when they change and
// have settled, regenerating first when the skill uses the generator. It
// prints one line per build with its duration and result; a failed build
// is printed and watching goes on, until interrupted. With --install
// STATE_DIR, every successful build is packaged and installed into that
// host state directory (Install): signed with a development key created
// once in STATE_DIR (DevKeyFile, mode 0600), its publisher trusted on
// first use, the skill granted what it requests, and the same version
// reinstalled with new content. Without --watch, --install does this once.
// Give development a state directory of its own: it pins the dev key for
// the skill's publisher.
//
// # package and keygen
//
// Keygen writes an Ed25519 publisher key pair (publisher.key, PKCS#8 PEM,
// mode 0600; publisher.pub). Package reads skill.toml, modules/*.wasm,
// assets/** and the build record, writes a CycloneDX SBOM
// (internal/sbom) and SLSA provenance (internal/provenance), and signs the
// artifact (internal/artifact) into SKILL_ID-VERSION.palyra-skill. The
// SBOM and the provenance name palyra-gen with its version (GenVersion).
// Every timestamp — signature, SBOM, provenance — comes from
// SOURCE_DATE_EPOCH when it is set, the provenance's startedOn and
// finishedOn included (one time for both) and its invocationId is derived
// from the inputs, so the same inputs, key and SOURCE_DATE_EPOCH give
// byte-identical artifacts. Without it the provenance records the real
// start (of the earliest recorded build of its modules, or of packaging)
// and finish, and a random invocationId. docs/sbom-provenance.md describes
// both documents field by field. Outputs are written atomically (temporary
// file, fsync, rename): a failed run leaves no partial file.
//
// # client
//
// GenerateClient writes a Go package for an app: one typed method per
// tool over a Caller interface that a Palyra host satisfies, with Go types
// generated from the tools' schemas. It reads skill.toml, or an artifact
// whose integrity it checks first.
package gen
