package vuln

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Component is one Go module an SBOM lists.
type Component struct {
	Module  string `json:"module"`
	Version string `json:"version"`
}

// SBOMComponents returns the Go modules a CycloneDX JSON SBOM lists: every
// component, nested ones included, whose package URL is pkg:golang/PATH@V
// (as internal/sbom writes them), in document order, each once. Only the
// components are read, so any specVersion is accepted.
func SBOMComponents(data []byte) ([]Component, error) {
	if err := checkDepth(data); err != nil {
		return nil, fmt.Errorf("vuln: SBOM: %w", err)
	}
	var doc struct {
		Components *[]cdx.Component `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("vuln: SBOM: %w", err)
	}
	var out []Component
	seen := map[Component]bool{}
	var walk func(cs *[]cdx.Component)
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for _, c := range *cs {
			if m, ok := goPURL(c.PackageURL); ok && !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
			walk(c.Components)
		}
	}
	walk(doc.Components)
	return out, nil
}

// goPURL reads pkg:golang/PATH@VERSION, qualifiers and subpath dropped,
// percent-decoded. The module path keeps its case: Go module paths are
// case-sensitive, though some tools lowercase them (Match ignores case).
func goPURL(purl string) (Component, bool) {
	rest, ok := strings.CutPrefix(purl, "pkg:golang/")
	if !ok {
		return Component{}, false
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	path, version := rest, ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		path, version = rest[:i], rest[i+1:]
	}
	path, err := url.PathUnescape(path)
	if err != nil || path == "" {
		return Component{}, false
	}
	if version, err = url.PathUnescape(version); err != nil {
		return Component{}, false
	}
	return Component{Module: path, Version: version}, true
}

// Scan matches components against the feed: the findings in component
// order, and the components the feed has records for but whose version
// cannot be compared (see Match).
func (f *Feed) Scan(components []Component) (findings []Finding, unmatched []Component) {
	for _, c := range components {
		fs, ok := f.Match(c.Module, c.Version)
		if !ok {
			unmatched = append(unmatched, c)
		}
		findings = append(findings, fs...)
	}
	return findings, unmatched
}
