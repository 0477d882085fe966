package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/audit"
	"github.com/palyra/palyra-go/internal/guestabi"
	"github.com/palyra/palyra-go/internal/signing"
)

// Inspection describes an artifact without consulting any trust store: its
// signature is checked against the key it carries, which proves integrity,
// not who the publisher is.
type Inspection struct {
	Manifest      *Manifest          `json:"manifest"`
	Signature     Signature          `json:"signature"`
	KeyID         string             `json:"key_id"`
	PayloadSHA256 string             `json:"payload_sha256"`
	Entries       []InspectedEntry   `json:"entries"`
	Modules       []InspectedModule  `json:"modules"`
	Components    []InspectedPackage `json:"sbom_components"`
	Builder       string             `json:"provenance_builder"`
	Subjects      []InspectedEntry   `json:"provenance_subjects"`
}

// InspectedEntry is one file of an artifact, or one provenance subject.
type InspectedEntry struct {
	Path   string `json:"path"`
	Size   int    `json:"size,omitempty"`
	SHA256 string `json:"sha256"`
}

// InspectedModule is one modules/*.wasm entry and the guest ABI it is
// written for: "extism" (called by tool name, with input and output) or
// "palyra-native" (Palyra's run: () -> i32 with capability handles; see
// docs/abi.md). ABI is "unknown", with Error saying why, for a module
// whose structure cannot be read.
type InspectedModule struct {
	Path string `json:"path"`
	ABI  string `json:"abi"`
	// Entrypoint is what a Palyra-native module's tools run.
	Entrypoint string `json:"entrypoint,omitempty"`
	Error      string `json:"error,omitempty"`
}

// InspectedPackage is one SBOM component.
type InspectedPackage struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PURL    string `json:"purl,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// InspectArtifact runs every artifact check but the trust decision and
// describes what the artifact holds.
func InspectArtifact(ctx context.Context, r io.ReaderAt, size int64) (*Inspection, error) {
	a, err := artifact.Open(ctx, r, size, nil)
	if err != nil {
		return nil, err
	}
	in := &Inspection{
		Manifest:      a.Manifest,
		Signature:     a.Signature,
		KeyID:         signing.KeyID(a.PublicKey),
		PayloadSHA256: a.PayloadSHA256,
	}
	var sbomJSON, provJSON []byte
	for _, f := range a.Files {
		in.Entries = append(in.Entries, InspectedEntry{Path: f.Path, Size: len(f.Data), SHA256: artifact.SHA256Hex(f.Data)})
		if strings.HasPrefix(f.Path, "modules/") && strings.HasSuffix(f.Path, ".wasm") {
			in.Modules = append(in.Modules, inspectModule(f, a.Manifest))
		}
		switch f.Path {
		case artifact.SBOMPath:
			sbomJSON = f.Data
		case artifact.ProvenancePath:
			provJSON = f.Data
		}
	}
	if in.Components, err = sbomComponents(sbomJSON); err != nil {
		return nil, err
	}
	if in.Builder, in.Subjects, err = provenanceSummary(provJSON); err != nil {
		return nil, err
	}
	return in, nil
}

func inspectModule(f artifact.File, m *Manifest) InspectedModule {
	abi, err := audit.ModuleABI(f.Data, m)
	if err != nil {
		return InspectedModule{Path: f.Path, ABI: "unknown", Error: err.Error()}
	}
	im := InspectedModule{Path: f.Path, ABI: abi.String()}
	if abi == guestabi.Palyra {
		im.Entrypoint = guestabi.Entrypoint(m)
	}
	return im
}

func sbomComponents(data []byte) ([]InspectedPackage, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("%s: %w", artifact.SBOMPath, err)
	}
	var out []InspectedPackage
	if bom.Components == nil {
		return out, nil
	}
	for _, c := range *bom.Components {
		p := InspectedPackage{Type: string(c.Type), Name: c.Name, Version: c.Version, PURL: c.PackageURL}
		if c.Hashes != nil {
			for _, h := range *c.Hashes {
				if h.Algorithm == cdx.HashAlgoSHA256 {
					p.SHA256 = h.Value
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// provenanceSummary reads the builder id (Palyra's top-level builder, else
// the SLSA runDetails builder) and the subjects of provenance.json.
func provenanceSummary(data []byte) (string, []InspectedEntry, error) {
	var st struct {
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
			} `json:"runDetails"`
		} `json:"predicate"`
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return "", nil, fmt.Errorf("%s: %w", artifact.ProvenancePath, err)
	}
	id := st.Builder.ID
	if id == "" {
		id = st.Predicate.RunDetails.Builder.ID
	}
	var subjects []InspectedEntry
	for _, s := range st.Subject {
		subjects = append(subjects, InspectedEntry{Path: s.Name, SHA256: s.Digest["sha256"]})
	}
	return id, subjects, nil
}
