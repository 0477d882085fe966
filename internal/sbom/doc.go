// Package sbom writes sbom.cdx.json, the software bill of materials of a
// .palyra-skill artifact: CycloneDX 1.6 JSON made with cyclonedx-go.
//
// The skill is the BOM's metadata.component (type application, name =
// skill_id, version = the skill's version); the generator (palyra-gen and
// its version, both required) is metadata.tools.components. Every Wasm
// module file is a "file" component with the SHA-256 of the file; every Go
// module compiled into that file is a "library" component (purl
// pkg:golang/PATH@VERSION).
//
// Hashes are labelled by what they are. A Go module's component carries a
// hash with alg "SHA-256" only when that is the SHA-256 of a file: the
// module's zip as the module proxy serves it, read from the module cache.
// Its Go dirhash ("h1:…", what go.sum records, or a dirhash over only the
// files the build compiled for modules go.sum does not cover) is never
// written as a SHA-256: it goes in property palyra:go:dirhash, with
// palyra:go:dirhash-source saying which ("go.sum" or "compiled-files").
// A module with no zip (the main module, a local replacement, a vendored
// module, the standard library) has no hashes, only the property. A
// prebuilt module — one no recorded Go build produced — appears as the
// file alone.
//
// The output is deterministic: the timestamp is the caller's (use
// SOURCE_DATE_EPOCH), and the serialNumber is a urn:uuid derived from the
// BOM's own content rather than drawn at random.
package sbom
