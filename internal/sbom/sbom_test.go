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

// globDirhash is github.com/gobwas/glob v0.2.3's go.sum hash and
// globZipSHA256 the SHA-256 of that version's zip from the module proxy:
// two different hashes of the same module that must not be confused.
const (
	globDirhash   = "h1:A4xDbljILXROh+kObIiy5kIaPYD8e96x1tgBhUI5J+Y="
	globZipSHA256 = "0cfe486cd63d45ed4cb5863ff1cbd14b15e4b9380dcbf80ff26991b4049f4fdf"
	mainDirhash   = "h1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
)

var testOpts = Options{ToolVersion: "v1.4.0"}

func testModules() []Module {
	return []Module{
		{Path: "modules/prebuilt.wasm", SHA256: strings.Repeat("ab", 32)},
		{Path: "modules/echo.wasm", SHA256: strings.Repeat("cd", 32), GoModules: []GoModule{
			{Path: "example.com/echo", Dirhash: mainDirhash, DirhashSource: "compiled-files", Main: true},
			{Path: "github.com/gobwas/glob", Version: "v0.2.3", ZipSHA256: globZipSHA256, Dirhash: globDirhash, DirhashSource: "go.sum"},
			{Path: "github.com/x/y", Version: "v2.0.0+incompatible", Dirhash: mainDirhash, DirhashSource: "compiled-files", Replace: "./y"},
			{Path: "stdlib", Version: "go1.26.0", Dirhash: mainDirhash, DirhashSource: "compiled-files"},
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
	data, err := Generate(testSkill, testModules(), Options{Time: at, ToolVersion: "v1.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(testSkill, testModules(), Options{Time: at, ToolVersion: "v1.4.0"})
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
	tools := bom.Metadata.Tools
	if tools == nil || tools.Components == nil || len(*tools.Components) != 1 {
		t.Fatalf("metadata.tools = %+v", tools)
	}
	if tc := (*tools.Components)[0]; tc.Name != "palyra-gen" || tc.Version != "v1.4.0" || tc.Type != cdx.ComponentTypeApplication {
		t.Errorf("metadata.tools.components[0] = %+v", tc)
	}
	byRef := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		if _, dup := byRef[c.BOMRef]; dup {
			t.Errorf("duplicate bom-ref %s", c.BOMRef)
		}
		byRef[c.BOMRef] = c
	}
	if len(byRef) != 6 {
		t.Errorf("%d components, want 2 files + 4 Go modules", len(byRef))
	}
	// Each component's hashes and hash properties: a SHA-256 only where
	// it is the SHA-256 of a file, the dirhash only under its own name.
	for _, want := range []struct {
		ref, purl     string
		typ           cdx.ComponentType
		sha256        string // "" = no hashes at all
		dirhash, from string // palyra:go:dirhash, palyra:go:dirhash-source
	}{
		{ref: "file:modules/prebuilt.wasm", typ: cdx.ComponentTypeFile, sha256: strings.Repeat("ab", 32)},
		{ref: "file:modules/echo.wasm", typ: cdx.ComponentTypeFile, sha256: strings.Repeat("cd", 32)},
		{ref: "modules/echo.wasm#pkg:golang/github.com/gobwas/glob@v0.2.3", purl: "pkg:golang/github.com/gobwas/glob@v0.2.3",
			typ: cdx.ComponentTypeLibrary, sha256: globZipSHA256, dirhash: globDirhash, from: "go.sum"},
		{ref: "modules/echo.wasm#pkg:golang/example.com/echo", purl: "pkg:golang/example.com/echo",
			typ: cdx.ComponentTypeLibrary, dirhash: mainDirhash, from: "compiled-files"},
		{ref: "modules/echo.wasm#pkg:golang/github.com/x/y@v2.0.0%2Bincompatible", purl: "pkg:golang/github.com/x/y@v2.0.0%2Bincompatible",
			typ: cdx.ComponentTypeLibrary, dirhash: mainDirhash, from: "compiled-files"},
		{ref: "modules/echo.wasm#pkg:golang/stdlib@go1.26.0", purl: "pkg:golang/stdlib@go1.26.0",
			typ: cdx.ComponentTypeLibrary, dirhash: mainDirhash, from: "compiled-files"},
	} {
		t.Run(want.ref, func(t *testing.T) {
			c, ok := byRef[want.ref]
			if !ok {
				t.Fatalf("no component %s", want.ref)
			}
			if c.Type != want.typ || c.PackageURL != want.purl {
				t.Errorf("type %s purl %q, want %s %q", c.Type, c.PackageURL, want.typ, want.purl)
			}
			switch {
			case want.sha256 == "" && c.Hashes != nil:
				t.Errorf("hashes = %+v, want none (there is no file whose SHA-256 it could be)", *c.Hashes)
			case want.sha256 != "" && (c.Hashes == nil || len(*c.Hashes) != 1 ||
				(*c.Hashes)[0] != cdx.Hash{Algorithm: cdx.HashAlgoSHA256, Value: want.sha256}):
				t.Errorf("hashes = %v, want SHA-256 %s", c.Hashes, want.sha256)
			}
			props := map[string]string{}
			if c.Properties != nil {
				for _, p := range *c.Properties {
					props[p.Name] = p.Value
				}
			}
			if props[PropDirhash] != want.dirhash || props[PropDirhashSource] != want.from {
				t.Errorf("dirhash properties = %v, want %s from %s", props, want.dirhash, want.from)
			}
		})
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
	a, err := Generate(testSkill, testModules(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	mods := testModules()
	mods[0].SHA256 = strings.Repeat("ef", 32)
	b, err := Generate(testSkill, mods, testOpts)
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
		opts  func(*Options)
	}{
		{"no skill id", Skill{Version: "1.0.0"}, func(m []Module) []Module { return m }, nil},
		{"no skill version", Skill{ID: "acme.echo"}, func(m []Module) []Module { return m }, nil},
		{"no modules", testSkill, func([]Module) []Module { return nil }, nil},
		{"bad file hash", testSkill, func(m []Module) []Module { m[0].SHA256 = "ABCD"; return m }, nil},
		{"bad zip sha256", testSkill, func(m []Module) []Module { m[1].GoModules[1].ZipSHA256 = "A4xD"; return m }, nil},
		{"zip sha256 in h1 form", testSkill, func(m []Module) []Module { m[1].GoModules[1].ZipSHA256 = globDirhash; return m }, nil},
		{"dirhash in hex", testSkill, func(m []Module) []Module { m[1].GoModules[1].Dirhash = globZipSHA256; return m }, nil},
		{"dirhash of the wrong size", testSkill, func(m []Module) []Module { m[1].GoModules[1].Dirhash = "h1:AQID"; return m }, nil},
		{"no tool version", testSkill, func(m []Module) []Module { return m }, func(o *Options) { o.ToolVersion = "" }},
		{"duplicate file", testSkill, func(m []Module) []Module { return append(m, m[0]) }, nil},
		{"duplicate Go module", testSkill, func(m []Module) []Module {
			m[1].GoModules = append(m[1].GoModules, m[1].GoModules[0])
			return m
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if _, err := Generate(tc.skill, tc.edit(testModules()), opts); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
