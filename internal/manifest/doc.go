// Package manifest parses, validates and encodes skill.toml, the manifest of
// a Palyra skill (versions 1 and 2).
package manifest
