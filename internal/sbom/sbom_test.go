package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

var testSkill = Skill{ID: "acme.echo", Name: "Echo", Version: "1.2.3", Publisher: "acme"}

func testModules() []Module {
	return []Module{
		{Path: "modules/prebuilt.wasm", SHA256: strings.Repeat("ab", 32)},
		{Path: "modules/echo.wasm", SHA256: strings.Repeat("cd", 32), GoModules: []GoModule{
			{Path: "example.com/echo", SHA256: strings.Repeat("01", 32), HashSource: "compiled-files", Main: true},
			{Path: "github.com/gobwas/glob", Version: "v0.2.3", SHA256: strings.Repeat("02", 32), HashSource: "go.sum h1:A4xD…"},
			{Path: "github.com/x/y", Version: "v2.0.0+incompatible", SHA256: strings.Repeat("03", 32), Replace: "./y"},
			{Path: "stdlib", Version: "go1.26.0", SHA256: strings.Repeat("04", 32)},
		}},
	}
}

func decode(t *testing.T, data []byte) *cdx.BOM {
	t.Helper()
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode the SBOM: %v", err)
	}
	return bom
}

func TestGenerate(t *testing.T) {
	at := time.Unix(1700000000, 0)
	data, err := Generate(testSkill, testModules(), Options{Time: at, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(testSkill, testModules(), Options{Time: at, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("Generate is not deterministic")
	}
	bom := decode(t, data)
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != cdx.SpecVersion1_6 {
		t.Errorf("bomFormat/specVersion = %s/%v", bom.BOMFormat, bom.SpecVersion)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("serialNumber = %q", bom.SerialNumber)
	}
	if bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
		t.Errorf("timestamp = %q", bom.Metadata.Timestamp)
	}
	mc := bom.Metadata.Component
	if mc.Type != cdx.ComponentTypeApplication || mc.Name != "acme.echo" || mc.Version != "1.2.3" || mc.Publisher != "acme" {
		t.Errorf("metadata.component = %+v", mc)
	}
	byRef := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		if _, dup := byRef[c.BOMRef]; dup {
			t.Errorf("duplicate bom-ref %s", c.BOMRef)
		}
		byRef[c.BOMRef] = c
		if c.Hashes == nil || len(*c.Hashes) != 1 || (*c.Hashes)[0].Algorithm != cdx.HashAlgoSHA256 {
			t.Errorf("component %s: hashes = %v", c.BOMRef, c.Hashes)
		}
	}
	if len(byRef) != 6 {
		t.Errorf("%d components, want 2 files + 4 Go modules", len(byRef))
	}
	for ref, want := range map[string]struct {
		typ  cdx.ComponentType
		purl string
		hash string
	}{
		"file:modules/prebuilt.wasm":                                        {cdx.ComponentTypeFile, "", strings.Repeat("ab", 32)},
		"file:modules/echo.wasm":                                            {cdx.ComponentTypeFile, "", strings.Repeat("cd", 32)},
		"modules/echo.wasm#pkg:golang/github.com/gobwas/glob@v0.2.3":        {cdx.ComponentTypeLibrary, "pkg:golang/github.com/gobwas/glob@v0.2.3", strings.Repeat("02", 32)},
		"modules/echo.wasm#pkg:golang/example.com/echo":                     {cdx.ComponentTypeLibrary, "pkg:golang/example.com/echo", strings.Repeat("01", 32)},
		"modules/echo.wasm#pkg:golang/github.com/x/y@v2.0.0%2Bincompatible": {cdx.ComponentTypeLibrary, "pkg:golang/github.com/x/y@v2.0.0%2Bincompatible", strings.Repeat("03", 32)},
		"modules/echo.wasm#pkg:golang/stdlib@go1.26.0":                      {cdx.ComponentTypeLibrary, "pkg:golang/stdlib@go1.26.0", strings.Repeat("04", 32)},
	} {
		c, ok := byRef[ref]
		if !ok {
			t.Errorf("no component %s", ref)
			continue
		}
		if c.Type != want.typ || c.PackageURL != want.purl || (*c.Hashes)[0].Value != want.hash {
			t.Errorf("component %s = type %s purl %q hash %s", ref, c.Type, c.PackageURL, (*c.Hashes)[0].Value)
		}
	}
	deps := map[string][]string{}
	for _, d := range *bom.Dependencies {
		if d.Dependencies != nil {
			deps[d.Ref] = *d.Dependencies
		} else {
			deps[d.Ref] = nil
		}
	}
	if got := deps["skill:acme.echo@1.2.3"]; len(got) != 2 {
		t.Errorf("skill dependsOn = %v", got)
	}
	if got := deps["file:modules/echo.wasm"]; len(got) != 4 {
		t.Errorf("echo.wasm dependsOn = %v", got)
	}
	if got, ok := deps["file:modules/prebuilt.wasm"]; !ok || got != nil {
		t.Errorf("prebuilt.wasm dependsOn = %v (present %v)", got, ok)
	}
	// Palyra's minimal check on the raw JSON.
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if top["bomFormat"] != "CycloneDX" || top["specVersion"] != "1.6" {
		t.Errorf("raw bomFormat/specVersion = %v/%v", top["bomFormat"], top["specVersion"])
	}
}

func TestGenerateSerialFollowsContent(t *testing.T) {
	a, err := Generate(testSkill, testModules(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mods := testModules()
	mods[0].SHA256 = strings.Repeat("ef", 32)
	b, err := Generate(testSkill, mods, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if decode(t, a).SerialNumber == decode(t, b).SerialNumber {
		t.Error("different BOMs share a serial number")
	}
	if decode(t, a).Metadata.Timestamp != "" {
		t.Error("timestamp written for a zero Time")
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		skill Skill
		edit  func([]Module) []Module
	}{
		{"no skill id", Skill{Version: "1.0.0"}, func(m []Module) []Module { return m }},
		{"no modules", testSkill, func([]Module) []Module { return nil }},
		{"bad file hash", testSkill, func(m []Module) []Module { m[0].SHA256 = "ABCD"; return m }},
		{"bad Go module hash", testSkill, func(m []Module) []Module { m[1].GoModules[1].SHA256 = ""; return m }},
		{"duplicate file", testSkill, func(m []Module) []Module { return append(m, m[0]) }},
		{"duplicate Go module", testSkill, func(m []Module) []Module {
			m[1].GoModules = append(m[1].GoModules, m[1].GoModules[0])
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Generate(tc.skill, tc.edit(testModules()), Options{}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
