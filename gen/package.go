package gen

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/provenance"
	"github.com/palyra/palyra-go/internal/sbom"
	"github.com/palyra/palyra-go/internal/signing"
	"github.com/palyra/palyra-go/internal/toolschema"
)

// Limits verifiers enforce (docs/artifact-format.md); Package refuses to write an
// artifact that no reader would accept.
const (
	maxArtifactBytes = 64 << 20
	maxEntryBytes    = 16 << 20
	maxEntries       = 256
)

// PackageOptions tune Package.
type PackageOptions struct {
	// Key signs the artifact (required). LoadKey reads one.
	Key ed25519.PrivateKey
	// Out is the artifact file; default DIR/SKILL_ID-VERSION.palyra-skill.
	Out string
	// StoreModules stores modules and assets uncompressed.
	StoreModules bool
	// Time stamps the signature, SBOM and provenance. When zero,
	// SOURCE_DATE_EPOCH is used if set, else the current time. A Time or
	// SOURCE_DATE_EPOCH makes the package reproducible: the provenance's
	// startedOn and finishedOn are both that time and its invocationId is
	// derived from the inputs; otherwise they are the build's real start
	// and finish and a random id.
	Time time.Time
}

// PackageResult describes a written artifact.
type PackageResult struct {
	// File is the artifact written (absolute).
	File          string             `json:"file"`
	SkillID       string             `json:"skill_id"`
	Version       string             `json:"version"`
	Publisher     string             `json:"publisher"`
	KeyID         string             `json:"key_id"`
	PayloadSHA256 string             `json:"payload_sha256"`
	Size          int                `json:"size"`
	SignedAt      time.Time          `json:"signed_at"`
	Modules       []PackagedModule   `json:"modules"`
	Assets        []string           `json:"assets"`
	Signature     artifact.Signature `json:"-"`
}

// PackagedModule is one module of the artifact and where it came from.
type PackagedModule struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Origin is "go-build" when the build record describes this exact
	// file, else "prebuilt".
	Origin string `json:"origin"`
	// GoModules counts the Go modules recorded for it.
	GoModules int `json:"go_modules"`
}

// Module origins.
const (
	OriginGoBuild  = "go-build"
	OriginPrebuilt = "prebuilt"
)

// LoadKey reads a signing key in any form signing.ParsePrivateKey takes
// (PKCS#8 PEM, 32 raw bytes, hex, base64).
func LoadKey(data []byte) (ed25519.PrivateKey, error) {
	k, err := signing.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}

// ArtifactName is the file name of a skill's artifact:
// SKILL_ID-VERSION.palyra-skill.
func ArtifactName(skillID, version string) string {
	return skillID + "-" + version + artifact.Extension
}

// Package packages the skill in dir into a signed .palyra-skill artifact.
// See the package doc.
func Package(ctx context.Context, dir string, opts PackageOptions) (*PackageResult, error) {
	started := time.Now().UTC()
	if len(opts.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("package: no signing key")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	at, reproducible := opts.Time, !opts.Time.IsZero()
	if at.IsZero() {
		sde, ok, err := SourceDateEpoch()
		if err != nil {
			return nil, fmt.Errorf("package: %w", err)
		}
		at, reproducible = sde, ok
		if !ok {
			at = time.Now()
		}
	}
	at = at.UTC().Truncate(time.Millisecond)

	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	// Hosts validate calls against the tools' schemas and refuse to
	// install a skill whose schemas do not compile: so does packaging.
	if _, err := toolschema.CompileManifest(m); err != nil {
		return nil, fmt.Errorf("package: %s: %w", filepath.Join(dir, artifact.ManifestPath), err)
	}
	modules, err := readTree(dir, "modules", false)
	if err != nil {
		return nil, err
	}
	var wasm []artifact.File
	for _, f := range modules {
		if !strings.HasSuffix(f.Path, ".wasm") {
			return nil, fmt.Errorf("package: %s: %w: only .wasm files belong in modules/", f.Path, ErrBadPath)
		}
		wasm = append(wasm, f)
	}
	if len(wasm) == 0 {
		return nil, fmt.Errorf("%s: %w (run palyra-gen build first, or add a prebuilt module)", filepath.Join(dir, "modules"), ErrNoModules)
	}
	assets, err := readTree(dir, "assets", true)
	if err != nil {
		return nil, err
	}
	if err := checkLimits(append(append([]artifact.File(nil), wasm...), assets...)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := ReadBuildRecord(dir)
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}

	res := &PackageResult{SkillID: m.SkillID, Version: m.Version, Publisher: m.Publisher,
		SignedAt: at, Assets: []string{}}
	for _, a := range assets {
		res.Assets = append(res.Assets, a.Path)
	}
	var sbomMods []sbom.Module
	var records []ModuleRecord
	for _, f := range wasm {
		sum := artifact.SHA256Hex(f.Data)
		pm := PackagedModule{Path: f.Path, SHA256: sum, Origin: OriginPrebuilt}
		sm := sbom.Module{Path: f.Path, SHA256: sum}
		if r, ok := rec.Module(f.Path, sum); ok {
			pm.Origin, pm.GoModules = OriginGoBuild, len(r.GoModules)
			sm.GoModules = []sbom.GoModule{}
			for _, g := range r.GoModules {
				sm.GoModules = append(sm.GoModules, sbomGoModule(g))
			}
			records = append(records, r)
		}
		res.Modules = append(res.Modules, pm)
		sbomMods = append(sbomMods, sm)
	}

	sbomJSON, err := sbom.Generate(sbom.Skill{ID: m.SkillID, Name: m.Name, Version: m.Version, Publisher: m.Publisher},
		sbomMods, sbom.Options{Time: at, ToolName: GenName, ToolVersion: GenVersion()})
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	pin, err := provenanceInput(m, res.Modules, records)
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	setRunTimes(&pin, readBuildTimes(dir), records, reproducible, at, started)
	provJSON, err := provenance.Generate(pin)
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	method := artifact.Deflate
	if opts.StoreModules {
		method = artifact.Store
	}
	built, err := artifact.Build(artifact.BuildRequest{
		Manifest: m, Modules: wasm, Assets: assets,
		SBOM: sbomJSON, Provenance: provJSON,
		Key: opts.Key, SignedAt: at, ModuleMethod: method,
	})
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	if len(built.Bytes) > maxArtifactBytes {
		return nil, fmt.Errorf("package: %w: %d bytes, limit %d", ErrTooLarge, len(built.Bytes), maxArtifactBytes)
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(dir, ArtifactName(m.SkillID, m.Version))
	}
	if out, err = filepath.Abs(out); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(out, built.Bytes, 0o644); err != nil {
		return nil, fmt.Errorf("package: write %s: %w", out, err)
	}
	res.File = out
	res.Size = len(built.Bytes)
	res.PayloadSHA256 = built.PayloadSHA256
	res.KeyID = built.Signature.KeyID
	res.Signature = built.Signature
	return res, nil
}

func sbomGoModule(g GoModule) sbom.GoModule {
	s := sbom.GoModule{Path: g.Path, Version: g.Version, ZipSHA256: g.ZipSHA256, Main: g.Main,
		Dirhash: g.Dirhash, DirhashSource: g.DirhashSource}
	if g.Replace != nil {
		s.Replace = strings.TrimSpace(g.Replace.Path + " " + g.Replace.Version)
	}
	return s
}

// externalParams and internalParams are provenance.json's build parameters:
// what the author controls (the skill and its sources, named by
// dir-relative paths) and what palyra-gen fixed (toolchain, target, flags).
type externalParams struct {
	Skill   skillParams    `json:"skill"`
	Modules []moduleParams `json:"modules"`
}

type skillParams struct {
	SkillID   string `json:"skill_id"`
	Version   string `json:"version"`
	Publisher string `json:"publisher"`
	Manifest  string `json:"manifest"`
}

type moduleParams struct {
	Path        string `json:"path"`
	Origin      string `json:"origin"`
	MainPackage string `json:"main_package,omitempty"`
}

type internalParams struct {
	Builds []buildParams `json:"builds"`
}

type buildParams struct {
	Path      string            `json:"path"`
	GoVersion string            `json:"go_version"`
	GOOS      string            `json:"goos"`
	GOARCH    string            `json:"goarch"`
	Flags     []string          `json:"flags"`
	Env       map[string]string `json:"env"`
}

// setRunTimes sets the provenance's run times and invocation id. A
// reproducible package has one timestamp, at, for both times and an id
// derived from the inputs (provenance.Generate's default). Otherwise the
// run started at the earliest of this Package call and the recorded Go
// builds of its modules (times, from BuildTimesPath, for the files they
// wrote), and finished now, as the provenance is written; the id is random.
func setRunTimes(in *provenance.Input, times map[string]buildTime, records []ModuleRecord, reproducible bool, at, started time.Time) {
	if reproducible {
		in.StartedOn, in.FinishedOn = at, at
		return
	}
	for _, r := range records {
		bt, ok := times[r.Path]
		if ok && bt.SHA256 == r.SHA256 && !bt.StartedOn.IsZero() && bt.StartedOn.Before(started) {
			started = bt.StartedOn
		}
	}
	in.StartedOn, in.FinishedOn = started, time.Now().UTC()
	in.InvocationID = provenance.NewInvocationID()
}

func provenanceInput(m *manifest.Manifest, mods []PackagedModule, records []ModuleRecord) (provenance.Input, error) {
	ext := externalParams{Skill: skillParams{SkillID: m.SkillID, Version: m.Version, Publisher: m.Publisher, Manifest: artifact.ManifestPath}}
	in := provenance.Input{ExternalParameters: &ext}
	byPath := map[string]ModuleRecord{}
	for _, r := range records {
		byPath[r.Path] = r
	}
	var internal internalParams
	seen := map[string]bool{}
	goVersions := map[string]bool{}
	for _, pm := range mods {
		in.Subjects = append(in.Subjects, provenance.Subject{Name: pm.Path, SHA256: pm.SHA256})
		mp := moduleParams{Path: pm.Path, Origin: pm.Origin}
		if r, ok := byPath[pm.Path]; ok {
			mp.MainPackage = r.MainPackage
			goVersions[r.GoVersion] = true
			internal.Builds = append(internal.Builds, buildParams{Path: r.Path, GoVersion: r.GoVersion,
				GOOS: r.GOOS, GOARCH: r.GOARCH, Flags: r.Flags, Env: r.Env})
			for _, g := range r.GoModules {
				key := g.Path + "@" + g.Version + "#" + g.Dirhash
				if seen[key] {
					continue
				}
				seen[key] = true
				d, err := resolvedDependency(g)
				if err != nil {
					return in, err
				}
				in.Dependencies = append(in.Dependencies, d)
			}
		}
		ext.Modules = append(ext.Modules, mp)
	}
	in.BuilderVersion = map[string]string{GenName: GenVersion()}
	if len(internal.Builds) > 0 {
		in.InternalParameters = &internal
		var vs []string
		for v := range goVersions {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		in.BuilderVersion["go"] = strings.Join(vs, ",")
	}
	sort.Slice(in.Dependencies, func(i, j int) bool { return in.Dependencies[i].URI < in.Dependencies[j].URI })
	return in, nil
}

// resolvedDependency describes a Go module with honest digest names: its
// dirhash as in-toto "dirHash", and "sha256" only for its module zip.
func resolvedDependency(g GoModule) (provenance.Dependency, error) {
	d := provenance.Dependency{Name: g.Path, URI: sbom.PURL(g.Path, g.Version)}
	digest, err := provenance.GoModuleDigest(g.Dirhash, g.ZipSHA256)
	if err != nil {
		return d, fmt.Errorf("module %s: %w", g.Path, err)
	}
	d.Digest = digest
	ann := map[string]any{"dirhash_source": g.DirhashSource}
	if g.ZipSHA256 != "" {
		ann["sha256_of"] = "module zip"
	}
	if g.Replace != nil {
		ann["replace"] = strings.TrimSpace(g.Replace.Path + " " + g.Replace.Version)
	}
	if g.Main {
		ann["main_module"] = true
	}
	d.Annotations = ann
	return d, nil
}

// readTree reads the regular files under dir/sub as artifact entries
// "sub/…". With recursive false only sub's own files are read. A missing
// sub is empty; symlinks and other non-regular files are refused, since the
// artifact cannot represent them and following them could package files
// from outside the skill.
func readTree(dir, sub string, recursive bool) ([]artifact.File, error) {
	root := filepath.Join(dir, sub)
	var files []artifact.File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if p != root && !recursive {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: %w: not a regular file", rel, ErrBadPath)
		}
		if strings.HasSuffix(d.Name(), ".tmp") && strings.HasPrefix(d.Name(), ".") && sub == "modules" {
			return nil // a concurrent or interrupted Build's temporary file
		}
		if err := checkEntryPath(rel); err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, artifact.File{Path: path.Clean(rel), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	return files, nil
}

func checkLimits(files []artifact.File) error {
	total := 0
	for _, f := range files {
		if len(f.Data) > maxEntryBytes {
			return fmt.Errorf("package: %w: %s is %d bytes, limit %d per entry", ErrTooLarge, f.Path, len(f.Data), maxEntryBytes)
		}
		total += len(f.Data)
	}
	if total > maxArtifactBytes {
		return fmt.Errorf("package: %w: %d bytes of modules and assets, limit %d", ErrTooLarge, total, maxArtifactBytes)
	}
	// +4: skill.toml, signature.json, sbom.cdx.json, provenance.json.
	if len(files)+4 > maxEntries {
		return fmt.Errorf("package: %w: %d entries, limit %d", ErrTooLarge, len(files)+4, maxEntries)
	}
	return nil
}
