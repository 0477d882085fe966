package sbom

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// ErrInvalid reports input Generate cannot describe honestly: a missing
// name, a malformed hash, duplicate modules.
var ErrInvalid = errors.New("invalid SBOM input")

// Skill identifies the skill the BOM describes.
type Skill struct {
	ID, Name, Version, Publisher string
}

// Module is one Wasm module file of the artifact.
type Module struct {
	// Path is the artifact path, "modules/NAME.wasm".
	Path string
	// SHA256 is the lowercase hex SHA-256 of the file.
	SHA256 string
	// GoModules are the Go modules compiled into the file; nil for a
	// prebuilt module, which is listed as the file alone.
	GoModules []GoModule
}

// GoModule is one Go module (or the standard library) compiled into a
// Wasm module.
type GoModule struct {
	// Path is the module path ("stdlib" for the standard library).
	Path string
	// Version is the module version; empty for the main module.
	Version string
	// SHA256 is a lowercase hex SHA-256 identifying the module's content
	// (see the package doc for what it is taken over).
	SHA256 string
	// HashSource says what SHA256 was taken over, e.g. "go.sum h1:…" or
	// "compiled-files"; recorded as a property.
	HashSource string
	// Replace is the replacement path (and version) when go.mod replaces
	// the module.
	Replace string
	// Main marks the module holding the main package.
	Main bool
}

// Options tune Generate.
type Options struct {
	// Time is metadata.timestamp; omitted when zero.
	Time time.Time
	// ToolName and ToolVersion name the generator in metadata.tools
	// (default "palyra-gen").
	ToolName, ToolVersion string
}

// Generate returns the CycloneDX 1.6 JSON for skill and its modules.
func Generate(skill Skill, modules []Module, opts Options) ([]byte, error) {
	if skill.ID == "" || skill.Version == "" {
		return nil, fmt.Errorf("sbom: %w: skill id and version are required", ErrInvalid)
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("sbom: %w: no modules", ErrInvalid)
	}
	mods := append([]Module(nil), modules...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })

	skillRef := "skill:" + skill.ID + "@" + skill.Version
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.Metadata = &cdx.Metadata{
		Component: &cdx.Component{
			BOMRef:      skillRef,
			Type:        cdx.ComponentTypeApplication,
			Name:        skill.ID,
			Version:     skill.Version,
			Publisher:   skill.Publisher,
			Description: skill.Name,
		},
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    cmp.Or(opts.ToolName, "palyra-gen"),
			Version: opts.ToolVersion,
		}}},
	}
	if !opts.Time.IsZero() {
		bom.Metadata.Timestamp = opts.Time.UTC().Format(time.RFC3339)
	}

	var comps []cdx.Component
	skillDeps := []string{}
	var deps []cdx.Dependency
	for i, m := range mods {
		if i > 0 && m.Path == mods[i-1].Path {
			return nil, fmt.Errorf("sbom: %w: module %s listed twice", ErrInvalid, m.Path)
		}
		if !isSHA256(m.SHA256) {
			return nil, fmt.Errorf("sbom: %w: module %s: sha256 %q is not 64 lowercase hex digits", ErrInvalid, m.Path, m.SHA256)
		}
		fileRef := "file:" + m.Path
		skillDeps = append(skillDeps, fileRef)
		kind := "prebuilt"
		if m.GoModules != nil {
			kind = "go-build"
		}
		comps = append(comps, cdx.Component{
			BOMRef:     fileRef,
			Type:       cdx.ComponentTypeFile,
			Name:       m.Path,
			MIMEType:   "application/wasm",
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: m.SHA256}},
			Properties: &[]cdx.Property{{Name: "palyra:module:origin", Value: kind}},
		})
		gms := append([]GoModule(nil), m.GoModules...)
		sort.Slice(gms, func(i, j int) bool { return gms[i].Path < gms[j].Path })
		var fileDeps []string
		for j, g := range gms {
			if g.Path == "" {
				return nil, fmt.Errorf("sbom: %w: module %s: Go module without a path", ErrInvalid, m.Path)
			}
			if j > 0 && g.Path == gms[j-1].Path {
				return nil, fmt.Errorf("sbom: %w: module %s: Go module %s listed twice", ErrInvalid, m.Path, g.Path)
			}
			if !isSHA256(g.SHA256) {
				return nil, fmt.Errorf("sbom: %w: Go module %s: sha256 %q is not 64 lowercase hex digits", ErrInvalid, g.Path, g.SHA256)
			}
			purl := PURL(g.Path, g.Version)
			// The same Go module may be compiled into several files;
			// bom-refs must be unique, so each is scoped by its file.
			ref := m.Path + "#" + purl
			props := []cdx.Property{}
			if g.HashSource != "" {
				props = append(props, cdx.Property{Name: "palyra:go:hash-source", Value: g.HashSource})
			}
			if g.Replace != "" {
				props = append(props, cdx.Property{Name: "palyra:go:replace", Value: g.Replace})
			}
			if g.Main {
				props = append(props, cdx.Property{Name: "palyra:go:main-module", Value: "true"})
			}
			c := cdx.Component{
				BOMRef:     ref,
				Type:       cdx.ComponentTypeLibrary,
				Name:       g.Path,
				Version:    g.Version,
				PackageURL: purl,
				Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: g.SHA256}},
			}
			if len(props) > 0 {
				c.Properties = &props
			}
			comps = append(comps, c)
			fileDeps = append(fileDeps, ref)
		}
		d := cdx.Dependency{Ref: fileRef}
		if len(fileDeps) > 0 {
			d.Dependencies = &fileDeps
		}
		deps = append(deps, d)
		for _, ref := range fileDeps {
			deps = append(deps, cdx.Dependency{Ref: ref})
		}
	}
	bom.Components = &comps
	deps = append([]cdx.Dependency{{Ref: skillRef, Dependencies: &skillDeps}}, deps...)
	bom.Dependencies = &deps

	// The serial number names this exact BOM: derive it from the content
	// written without one, so equal inputs give equal bytes.
	body, err := encode(bom)
	if err != nil {
		return nil, err
	}
	bom.SerialNumber = contentUUID(body)
	return encode(bom)
}

// PURL is the package URL of a Go module: pkg:golang/PATH@VERSION, or
// without @VERSION when the version is unknown (the main module).
func PURL(path, version string) string {
	p := "pkg:golang/" + path
	if version != "" {
		// purl versions are percent-encoded; Go versions can hold '+'.
		p += "@" + strings.ReplaceAll(version, "+", "%2B")
	}
	return p
}

func encode(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("sbom: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// contentUUID makes a urn:uuid from the SHA-256 of data, with the RFC 9562
// version 8 (custom) and variant bits set.
func contentUUID(data []byte) string {
	h := sha256.Sum256(data)
	u := h[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
