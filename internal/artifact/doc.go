// Package artifact writes and reads .palyra-skill artifacts: deterministic
// signed ZIPs holding skill.toml, Wasm modules, assets, a CycloneDX SBOM, SLSA
// provenance and signature.json, byte-compatible with Palyra.
package artifact
