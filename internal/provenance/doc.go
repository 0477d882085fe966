// Package provenance writes and reads provenance.json, the build provenance
// of a .palyra-skill artifact: an in-toto Statement v1 whose predicate is
// SLSA Provenance v1, built and validated with the in-toto attestation Go
// types.
//
// The subjects are the artifact's Wasm modules (never skill.toml, whose
// integrity list already names provenance.json, so naming it back would be
// circular). Besides the standard fields the document carries a top-level
// "builder": {"id": …} object: Palyra's minimal check requires a builder
// object and a non-empty subject array at the top level, and in-toto readers
// that decode with protojson must therefore discard unknown fields (Parse
// does).
//
// Digests are labelled by what they are (GoModuleDigest): a Go module's
// dirhash — go.sum's "h1:" hash, or one over only the files the build
// compiled — is in-toto's "dirHash" (lowercase hex), and "sha256" is only
// ever the SHA-256 of a file: a subject's module file, or a dependency's
// module zip when it was in the module cache.
//
// runDetails.metadata holds startedOn, finishedOn (Generate refuses a
// finish before the start) and an invocationId: the caller's (a random
// urn:uuid from NewInvocationID for a build that is not reproducible), or
// else a urn:uuid derived from the SHA-256 of the whole Input, so a
// reproducible build gets a reproducible id.
//
// protojson deliberately randomises its whitespace, so Generate re-encodes
// its output with encoding/json (sorted keys, two-space indent): the same
// Input always gives the same bytes.
package provenance
