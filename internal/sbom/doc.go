// Package sbom writes sbom.cdx.json, the software bill of materials of a
// .palyra-skill artifact: CycloneDX 1.6 JSON made with cyclonedx-go.
//
// The skill is the BOM's metadata.component (type application, name =
// skill_id). Every Wasm module file is a "file" component with its SHA-256;
// every Go module compiled into that file is a "library" component
// (purl pkg:golang/PATH@VERSION) with a SHA-256: the module's go.sum h1:
// hash (a Go dirhash, decoded to hex) when it came from a module proxy, or a
// hash over the files it contributed to the build for the main module,
// local replaces and the standard library. A prebuilt module — one no
// recorded Go build produced — appears as the file alone.
//
// The output is deterministic: the timestamp is the caller's (use
// SOURCE_DATE_EPOCH), and the serialNumber is a urn:uuid derived from the
// BOM's own content rather than drawn at random.
package sbom
