package sbom

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
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
// Wasm module. Its two kinds of hash are written under names that say what
// they are: ZipSHA256 as the component's SHA-256, Dirhash as a property.
type GoModule struct {
	// Path is the module path ("stdlib" for the standard library).
	Path string
	// Version is the module version; empty for the main module.
	Version string
	// ZipSHA256 is the lowercase hex SHA-256 of the module's zip file as
	// the module proxy serves it (from the module cache). It is the only
	// hash written with alg "SHA-256"; empty when no such file was used
	// (main module, local replacement, vendored module, standard
	// library), and the component then has no hashes.
	ZipSHA256 string
	// Dirhash is the module's Go dirhash, "h1:" + base64 (the form go.sum
	// uses), written as property PropDirhash. It is not a SHA-256 of any
	// file: see golang.org/x/mod/sumdb/dirhash.
	Dirhash string
	// DirhashSource says what Dirhash covers, written as property
	// PropDirhashSource: "go.sum" (the whole module, as go.sum records
	// it) or "compiled-files" (only the files the build compiled).
	DirhashSource string
	// Replace is the replacement path (and version) when go.mod replaces
	// the module.
	Replace string
	// Main marks the module holding the main package.
	Main bool
}

// Property names this package writes on components.
const (
	// PropOrigin is "go-build" or "prebuilt" on a module file.
	PropOrigin = "palyra:module:origin"
	// PropDirhash is a Go module's dirhash, "h1:…".
	PropDirhash = "palyra:go:dirhash"
	// PropDirhashSource is what PropDirhash covers: "go.sum" or
	// "compiled-files".
	PropDirhashSource = "palyra:go:dirhash-source"
	// PropReplace is a go.mod replacement ("PATH [VERSION]").
	PropReplace = "palyra:go:replace"
	// PropMainModule is "true" on the module holding the main package.
	PropMainModule = "palyra:go:main-module"
)

// Options tune Generate.
type Options struct {
	// Time is metadata.timestamp; omitted when zero.
	Time time.Time
	// ToolName and ToolVersion name the generator in
	// metadata.tools.components (ToolName defaults to "palyra-gen");
	// ToolVersion is required.
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
	if opts.ToolVersion == "" {
		return nil, fmt.Errorf("sbom: %w: the generating tool's version is required", ErrInvalid)
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
			Type:      cdx.ComponentTypeApplication,
			Group:     "github.com/palyra/palyra-go",
			Name:      cmp.Or(opts.ToolName, "palyra-gen"),
			Version:   opts.ToolVersion,
			Publisher: "palyra-go",
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
			Properties: &[]cdx.Property{{Name: PropOrigin, Value: kind}},
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
			if g.ZipSHA256 != "" && !isSHA256(g.ZipSHA256) {
				return nil, fmt.Errorf("sbom: %w: Go module %s: zip sha256 %q is not 64 lowercase hex digits", ErrInvalid, g.Path, g.ZipSHA256)
			}
			if g.Dirhash != "" && !isDirhash(g.Dirhash) {
				return nil, fmt.Errorf("sbom: %w: Go module %s: dirhash %q is not h1: and 32 base64-encoded bytes", ErrInvalid, g.Path, g.Dirhash)
			}
			purl := PURL(g.Path, g.Version)
			// The same Go module may be compiled into several files;
			// bom-refs must be unique, so each is scoped by its file.
			ref := m.Path + "#" + purl
			props := []cdx.Property{}
			if g.Dirhash != "" {
				props = append(props, cdx.Property{Name: PropDirhash, Value: g.Dirhash})
				if g.DirhashSource != "" {
					props = append(props, cdx.Property{Name: PropDirhashSource, Value: g.DirhashSource})
				}
			}
			if g.Replace != "" {
				props = append(props, cdx.Property{Name: PropReplace, Value: g.Replace})
			}
			if g.Main {
				props = append(props, cdx.Property{Name: PropMainModule, Value: "true"})
			}
			c := cdx.Component{
				BOMRef:     ref,
				Type:       cdx.ComponentTypeLibrary,
				Name:       g.Path,
				Version:    g.Version,
				PackageURL: purl,
			}
			if g.ZipSHA256 != "" {
				c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: g.ZipSHA256}}
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

// isDirhash reports whether s is a Go dirhash as go.sum writes it:
// "h1:" and the standard base64 of 32 bytes.
func isDirhash(s string) bool {
	b64, ok := strings.CutPrefix(s, "h1:")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(raw) == sha256.Size
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
