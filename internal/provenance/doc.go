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
// protojson deliberately randomises its whitespace, so Generate re-encodes
// its output with encoding/json (sorted keys, two-space indent): the same
// Input always gives the same bytes.
package provenance
