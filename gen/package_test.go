package gen

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/provenance"
	"github.com/palyra/palyra-go/internal/sbom"
	"github.com/palyra/palyra-go/internal/signing"
)

// openArtifact verifies file with the artifact reader and returns it.
func openArtifact(t *testing.T, file string) *artifact.Artifact {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := artifact.Open(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("artifact.Open(%s): %v", file, err)
	}
	return a
}

func decodeSBOM(t *testing.T, a *artifact.Artifact) *cdx.BOM {
	t.Helper()
	data, ok := a.File(artifact.SBOMPath)
	if !ok {
		t.Fatal("no sbom.cdx.json")
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode sbom.cdx.json: %v", err)
	}
	return bom
}

func parseProvenance(t *testing.T, a *artifact.Artifact) *provenance.Document {
	t.Helper()
	data, ok := a.File(artifact.ProvenancePath)
	if !ok {
		t.Fatal("no provenance.json")
	}
	doc, err := provenance.Parse(data)
	if err != nil {
		t.Fatalf("provenance.json: %v", err)
	}
	return doc
}

func TestPackage(t *testing.T) {
	dir, built := builtSkill(t)
	pub, key := newKey(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	outDir := t.TempDir()

	res, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: filepath.Join(outDir, "a.palyra-skill")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: filepath.Join(outDir, "b.palyra-skill")})
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := os.ReadFile(res.File)
	a2, _ := os.ReadFile(again.File)
	if !bytes.Equal(a1, a2) {
		t.Fatal("same inputs and SOURCE_DATE_EPOCH gave different artifacts")
	}

	a := openArtifact(t, res.File)
	if !bytes.Equal(a.PublicKey, pub) || a.KeyID != signing.KeyID(pub) || res.KeyID != a.KeyID {
		t.Errorf("artifact key %s, result %s, want %s", a.KeyID, res.KeyID, signing.KeyID(pub))
	}
	if a.Signature.SignedAtUnixMS != 1700000000000 || !res.SignedAt.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("signed_at = %d / %v", a.Signature.SignedAtUnixMS, res.SignedAt)
	}
	if a.PayloadSHA256 != res.PayloadSHA256 || a.Manifest.SkillID != "acme.echoskill" || a.Manifest.Version != "1.2.3" {
		t.Errorf("artifact %s %s %s, result %+v", a.Manifest.SkillID, a.Manifest.Version, a.PayloadSHA256, res)
	}
	var paths []string
	for _, f := range a.Files {
		paths = append(paths, f.Path)
	}
	want := []string{"assets/prompt.txt", "modules/echoskill.wasm", "provenance.json", "sbom.cdx.json", "signature.json", "skill.toml"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("entries = %v, want %v", paths, want)
	}
	if len(res.Modules) != 1 || res.Modules[0].Origin != OriginGoBuild || res.Modules[0].SHA256 != built.Record.SHA256 {
		t.Errorf("modules = %+v", res.Modules)
	}

	// SBOM: the skill, the module file, and every recorded Go module with
	// the recorded hash.
	bom := decodeSBOM(t, a)
	if mc := bom.Metadata.Component; mc.Name != "acme.echoskill" || mc.Version != "1.2.3" || mc.Publisher != "acme" || mc.Type != cdx.ComponentTypeApplication {
		t.Errorf("metadata.component = %+v", mc)
	}
	if bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
		t.Errorf("sbom timestamp = %q", bom.Metadata.Timestamp)
	}
	// Hashes named for what they are: SHA-256 of the module file, of
	// glob's module zip (none for modules without a zip), and each Go
	// module's dirhash as a property.
	if tools := bom.Metadata.Tools; tools == nil || tools.Components == nil || len(*tools.Components) != 1 ||
		(*tools.Components)[0].Name != "palyra-gen" || (*tools.Components)[0].Version != GenVersion() {
		t.Errorf("metadata.tools = %+v, want palyra-gen %s", tools, GenVersion())
	}
	hashes, dirhashes := map[string]string{}, map[string]string{}
	for _, c := range *bom.Components {
		key := c.PackageURL
		if c.Type == cdx.ComponentTypeFile {
			key = c.Name
		}
		if c.Hashes != nil {
			for _, h := range *c.Hashes {
				hashes[key+" "+string(h.Algorithm)] = h.Value
			}
		}
		if c.Properties != nil {
			for _, p := range *c.Properties {
				if p.Name == sbom.PropDirhash {
					dirhashes[key] = p.Value
				}
			}
		}
	}
	wantHashes := map[string]string{
		"modules/echoskill.wasm SHA-256":                   built.Record.SHA256,
		"pkg:golang/github.com/gobwas/glob@v0.2.3 SHA-256": fileSHA256(t, globZip(t)),
	}
	wantDirhashes := map[string]string{}
	for _, g := range built.Record.GoModules {
		wantDirhashes[purlForTest(g)] = g.Dirhash
	}
	if !maps.Equal(hashes, wantHashes) {
		t.Errorf("SBOM hashes %v, want %v", hashes, wantHashes)
	}
	if !maps.Equal(dirhashes, wantDirhashes) || dirhashes["pkg:golang/github.com/gobwas/glob@v0.2.3"] != "h1:A4xDbljILXROh+kObIiy5kIaPYD8e96x1tgBhUI5J+Y=" {
		t.Errorf("SBOM dirhashes %v, want %v", dirhashes, wantDirhashes)
	}

	// Provenance: validates, subjects are the modules only, dependencies
	// carry the go.sum dirhash.
	doc := parseProvenance(t, a)
	subj := doc.Statement.GetSubject()
	if len(subj) != 1 || subj[0].GetName() != "modules/echoskill.wasm" || subj[0].GetDigest()["sha256"] != built.Record.SHA256 {
		t.Errorf("subjects = %v", subj)
	}
	deps := map[string]map[string]string{}
	for _, d := range doc.Provenance.GetBuildDefinition().GetResolvedDependencies() {
		deps[d.GetUri()] = d.GetDigest()
	}
	if got, want := deps["pkg:golang/github.com/gobwas/glob@v0.2.3"], map[string]string{
		"dirHash": "038c436e58c82d744e87e90e6c88b2e6421a3d80fc7bdeb1d6d80185423927e6", // go.sum's h1:, in hex
		"sha256":  fileSHA256(t, globZip(t)),                                          // the module zip
	}; !maps.Equal(got, want) {
		t.Errorf("glob dependency digest = %v, want %v (all: %v)", got, want, deps)
	}
	for uri, d := range deps {
		if _, ok := d["dirHash"]; !ok || uri != "pkg:golang/github.com/gobwas/glob@v0.2.3" && len(d) != 1 {
			t.Errorf("dependency %s digest = %v, want its dirHash alone (no zip)", uri, d)
		}
	}
	if v := doc.Provenance.GetRunDetails().GetBuilder().GetVersion(); v["palyra-gen"] != GenVersion() || !strings.HasPrefix(v["go"], "go1.") {
		t.Errorf("runDetails.builder.version = %v", v)
	}
	if len(deps) != 4 {
		t.Errorf("resolvedDependencies = %v", deps)
	}
	// Reproducible: one timestamp for both times, an id derived from the
	// inputs (the artifacts are byte-identical, checked above).
	if md := doc.Provenance.GetRunDetails().GetMetadata(); md.GetStartedOn().AsTime().Unix() != 1700000000 ||
		md.GetFinishedOn().AsTime().Unix() != 1700000000 || !strings.HasPrefix(md.GetInvocationId(), "urn:uuid:") {
		t.Errorf("runDetails.metadata = %v", md)
	}
	ip := doc.Provenance.GetBuildDefinition().GetInternalParameters().AsMap()
	if b, _ := ip["builds"].([]any); len(b) != 1 || b[0].(map[string]any)["goos"] != "wasip1" {
		t.Errorf("internalParameters = %v", ip)
	}
	provJSON, _ := a.File(artifact.ProvenancePath)
	if bytes.Contains(provJSON, []byte(dir)) {
		t.Error("provenance.json holds the machine path of the skill dir")
	}

	// A different time changes only what it should: the signature and the
	// timestamps, so a different artifact.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000001")
	later, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: filepath.Join(outDir, "c.palyra-skill")})
	if err != nil {
		t.Fatal(err)
	}
	if later.PayloadSHA256 == res.PayloadSHA256 {
		t.Error("a later SOURCE_DATE_EPOCH left the payload unchanged")
	}
}

func purlForTest(g GoModule) string {
	if g.Version == "" {
		return "pkg:golang/" + g.Path
	}
	return "pkg:golang/" + g.Path + "@" + g.Version
}

func TestPackageDefaultOutAndStore(t *testing.T) {
	src, _ := builtSkill(t)
	dir := copySkill(t, src)
	_, key := newKey(t)
	res, err := Package(context.Background(), dir, PackageOptions{Key: key, StoreModules: true, Time: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "acme.echoskill-1.2.3.palyra-skill"); res.File != want {
		t.Errorf("file = %s, want %s", res.File, want)
	}
	zr, err := zip.OpenReader(res.File)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		stored := strings.HasPrefix(f.Name, "modules/") || strings.HasPrefix(f.Name, "assets/")
		if stored != (f.Method == zip.Store) {
			t.Errorf("%s: method %d", f.Name, f.Method)
		}
	}
	openArtifact(t, res.File)
	if res.Modules[0].Origin != OriginGoBuild {
		t.Errorf("origin = %s", res.Modules[0].Origin)
	}

	// Replacing the module after the build makes it prebuilt: the record no
	// longer describes that file.
	wasm := filepath.Join(dir, "modules", "echoskill.wasm")
	if err := os.WriteFile(wasm, []byte(emptyWasm), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Package(context.Background(), dir, PackageOptions{Key: key, Time: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Modules[0].Origin != OriginPrebuilt {
		t.Errorf("origin after replacing the file = %s", res.Modules[0].Origin)
	}
	if n := len(*decodeSBOM(t, openArtifact(t, res.File)).Components); n != 1 {
		t.Errorf("%d SBOM components for a replaced module, want the file alone", n)
	}
}

func TestPackagePrebuilt(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm})
	_, key := newKey(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	res, err := Package(context.Background(), dir, PackageOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	a := openArtifact(t, res.File)
	if filepath.Base(res.File) != "acme.prebuilt-0.1.0.palyra-skill" {
		t.Errorf("file = %s", res.File)
	}
	bom := decodeSBOM(t, a)
	comps := *bom.Components
	if len(comps) != 1 || comps[0].Type != cdx.ComponentTypeFile || comps[0].Name != "modules/x.wasm" ||
		(*comps[0].Hashes)[0].Value != artifact.SHA256Hex([]byte(emptyWasm)) {
		t.Errorf("SBOM components = %+v, want the file alone", comps)
	}
	doc := parseProvenance(t, a)
	if s := doc.Statement.GetSubject(); len(s) != 1 || s[0].GetName() != "modules/x.wasm" {
		t.Errorf("subjects = %v", s)
	}
	if n := len(doc.Provenance.GetBuildDefinition().GetResolvedDependencies()); n != 0 {
		t.Errorf("%d resolved dependencies for a prebuilt module", n)
	}
	if res.Modules[0].Origin != OriginPrebuilt || len(res.Assets) != 0 {
		t.Errorf("result = %+v", res)
	}
}

func TestPackageErrors(t *testing.T) {
	_, key := newKey(t)
	for _, tc := range []struct {
		name    string
		files   map[string]string
		setup   func(t *testing.T, dir string)
		opts    PackageOptions
		wantErr error
		wantMsg string
	}{
		{name: "no skill.toml", files: map[string]string{"modules/x.wasm": emptyWasm},
			wantErr: ErrNoManifest, wantMsg: "skill.toml"},
		{name: "no modules", files: map[string]string{"skill.toml": minimalSkillTOML},
			wantErr: ErrNoModules, wantMsg: "modules"},
		{name: "empty modules dir", files: map[string]string{"skill.toml": minimalSkillTOML},
			setup:   func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "modules"), 0o755) },
			wantErr: ErrNoModules, wantMsg: "modules"},
		{name: "non-wasm in modules", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm, "modules/notes.txt": "x"},
			wantErr: ErrBadPath, wantMsg: "modules/notes.txt"},
		{name: "bad asset name", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm, "assets/a:b.txt": "x"},
			wantErr: ErrBadPath, wantMsg: "assets/a:b.txt"},
		{name: "symlinked asset", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm},
			setup: func(t *testing.T, dir string) {
				os.MkdirAll(filepath.Join(dir, "assets"), 0o755)
				if err := os.Symlink("/etc/passwd", filepath.Join(dir, "assets", "pw")); err != nil {
					t.Skip(err)
				}
			},
			wantErr: ErrBadPath, wantMsg: "assets/pw"},
		{name: "module too large", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/big.wasm": emptyWasm + strings.Repeat("\x00", 16<<20)},
			wantErr: ErrTooLarge, wantMsg: "modules/big.wasm"},
		{name: "bad SOURCE_DATE_EPOCH", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm},
			setup:   func(t *testing.T, dir string) { t.Setenv("SOURCE_DATE_EPOCH", "yesterday") },
			wantMsg: "SOURCE_DATE_EPOCH"},
		// Issue 12: this packaged.
		{name: "invalid tool schema", files: map[string]string{"modules/x.wasm": emptyWasm,
			"skill.toml": strings.Replace(minimalSkillTOML, `input_schema = { type = "object" }`, `input_schema = { type = 42, required = "text", properties = 7 }`, 1)},
			wantErr: ErrInvalidSchema, wantMsg: "tool acme.noop: input_schema: invalid tool schema: /properties: got number, want object; /required: got string, want array; /type: value must be one of"},
		{name: "no key", files: map[string]string{"skill.toml": minimalSkillTOML, "modules/x.wasm": emptyWasm},
			opts: PackageOptions{Key: nil}, wantMsg: "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			opts := tc.opts
			if tc.name != "no key" {
				opts.Key = key
			}
			out := filepath.Join(dir, "out.palyra-skill")
			opts.Out = out
			_, err := Package(context.Background(), dir, opts)
			if err == nil {
				t.Fatal("Package succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("artifact written despite the error")
			}
			if left := tmpFiles(t, dir); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestLoadKeyForms(t *testing.T) {
	pub, priv := newKey(t)
	pemKey, err := signing.MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	seed := priv.Seed()
	for name, data := range map[string][]byte{
		"pem":    pemKey,
		"raw":    seed,
		"hex":    []byte(hex.EncodeToString(seed) + "\n"),
		"base64": []byte(base64.StdEncoding.EncodeToString(seed)),
	} {
		k, err := LoadKey(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !pub.Equal(k.Public()) {
			t.Errorf("%s: wrong key", name)
		}
	}
	if _, err := LoadKey([]byte("not a key")); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("garbage key: err = %v, want signing.ErrInvalidKey", err)
	}
}
