package gen

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/manifest"
)

// BuildRecordPath is where Build records its inputs, relative to the skill
// directory.
const BuildRecordPath = ".palyra/build.json"

// BuildRecordSchema identifies the build record format.
// v2 replaced GoModule's sha256/hash_source (a dirhash written as if it
// were a SHA-256) with dirhash, dirhash_source and zip_sha256.
const BuildRecordSchema = "https://github.com/palyra/palyra-go/build-record/v2"

// Target and flags of every skill build.
const (
	GOOS   = "wasip1"
	GOARCH = "wasm"
)

// BuildFlags are the go build flags Build passes, in order.
func BuildFlags() []string {
	return []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-ldflags=-buildid="}
}

// buildEnv is what Build sets on top of the cleaned environment.
func buildEnv() map[string]string {
	return map[string]string{
		"GOOS":        GOOS,
		"GOARCH":      GOARCH,
		"CGO_ENABLED": "0",
		// Set rather than unset: an empty GOFLAGS lets `go env -w GOFLAGS`
		// through. -buildvcs=false is passed anyway, so this adds nothing.
		"GOFLAGS": "-buildvcs=false",
	}
}

// scrubbedEnv names variables that change the compiled output and so are
// never inherited from the caller.
var scrubbedEnv = []string{"GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOWASM", "GOEXPERIMENT", "GOFIPS140", "GO_EXTLINK_ENABLED"}

// BuildOptions tune Build. The zero value builds the package in the skill
// directory to modules/NAME.wasm, NAME being the last dot-segment of
// skill_id.
type BuildOptions struct {
	// Name is the module file name without .wasm.
	Name string
	// Package is the main package to build, as a go build argument
	// relative to the skill directory ("." by default, "./cmd/x", …).
	Package string
	// Go is the go command to run (default "go" from PATH).
	Go string
}

// BuildResult describes a built module.
type BuildResult struct {
	// Dir is the skill directory (absolute).
	Dir string `json:"dir"`
	// File is the written module file (absolute).
	File string `json:"file"`
	// Record is the module's entry in the build record.
	Record ModuleRecord `json:"record"`
	// RecordFile is the build record file (absolute).
	RecordFile string `json:"record_file"`
	// StartedOn and FinishedOn are when Build began and when the module
	// file was in place, also kept in BuildTimesPath (the record itself
	// stays reproducible).
	StartedOn  time.Time `json:"started_on"`
	FinishedOn time.Time `json:"finished_on"`
}

// BuildTimesPath is where Build keeps when each module was built, relative
// to the skill directory. Unlike the build record it differs from run to
// run; Package uses it for the provenance's startedOn when the package is
// not reproducible.
const BuildTimesPath = ".palyra/build-times.json"

// buildTime is one module's entry in BuildTimesPath: the run that wrote the
// module file with this SHA-256.
type buildTime struct {
	SHA256     string    `json:"sha256"`
	StartedOn  time.Time `json:"started_on"`
	FinishedOn time.Time `json:"finished_on"`
}

// BuildRecord is the content of .palyra/build.json.
type BuildRecord struct {
	Schema  string         `json:"schema"`
	Modules []ModuleRecord `json:"modules"`
}

// ModuleRecord is what went into one module file.
type ModuleRecord struct {
	// Path is the module file relative to the skill directory,
	// "modules/NAME.wasm" (the artifact path).
	Path        string            `json:"path"`
	SHA256      string            `json:"sha256"`
	Size        int64             `json:"size"`
	GoVersion   string            `json:"go_version"`
	GOOS        string            `json:"goos"`
	GOARCH      string            `json:"goarch"`
	Flags       []string          `json:"flags"`
	Env         map[string]string `json:"env"`
	MainPackage string            `json:"main_package"`
	GoModules   []GoModule        `json:"go_modules"`
}

// GoModule is one Go module compiled into a module file; the standard
// library appears as Path "stdlib" at the Go version.
type GoModule struct {
	Path    string         `json:"path"`
	Version string         `json:"version,omitempty"`
	Replace *ModuleReplace `json:"replace,omitempty"`
	Main    bool           `json:"main,omitempty"`
	// Sum is the go.sum h1: hash, for modules from the module proxy.
	Sum string `json:"sum,omitempty"`
	// Dirhash is the module's Go dirhash, "h1:" + base64: Sum, or a
	// dirhash over only the files the build compiled (see the package
	// doc). It is not the SHA-256 of any file.
	Dirhash string `json:"dirhash"`
	// DirhashSource is what Dirhash covers: "go.sum" or "compiled-files".
	DirhashSource string `json:"dirhash_source"`
	// ZipSHA256 is the lowercase hex SHA-256 of the module's zip in the
	// module cache (GOMODCACHE/cache/download/PATH/@v/VERSION.zip), set
	// only when that file exists and its dirhash is Sum; empty for the
	// main module, local replacements, vendored modules and the standard
	// library.
	ZipSHA256 string `json:"zip_sha256,omitempty"`
}

// ModuleReplace is a go.mod replacement. Path is as go.mod wrote it for a
// relative local path, and "(local)" for an absolute one, which would be a
// machine path.
type ModuleReplace struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

// Dirhash sources of GoModule.
const (
	DirhashGoSum         = "go.sum"
	DirhashCompiledFiles = "compiled-files"
)

// moduleNameRE is compiled on first use, not at init, as are gen's other
// patterns: every palyra process links gen, and most never use them.
var moduleNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })

// Build compiles the Go skill in dir to dir/modules/NAME.wasm and records
// its inputs in dir/.palyra/build.json. See the package doc.
func Build(ctx context.Context, dir string, opts BuildOptions) (*BuildResult, error) {
	started := time.Now().UTC()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = m.SkillID[strings.LastIndex(m.SkillID, ".")+1:]
	}
	name = strings.TrimSuffix(name, ".wasm")
	if !moduleNameRE().MatchString(name) || strings.Contains(name, "..") {
		return nil, fmt.Errorf("build: module name %q: %w: want letters, digits, '_', '-' and '.'", name, ErrBadPath)
	}
	pkg := cmp.Or(opts.Package, ".")
	goCmd := cmp.Or(opts.Go, "go")
	env := cleanEnv()

	goEnv, err := goOutput(ctx, goCmd, dir, env, "env", "GOVERSION", "GOMODCACHE")
	if err != nil {
		return nil, err
	}
	goVersion, modCache, _ := strings.Cut(strings.TrimSpace(goEnv), "\n")
	goVersion, modCache = strings.TrimSpace(goVersion), strings.TrimSpace(modCache)

	mainPkg, mods, err := listModules(ctx, goCmd, dir, env, pkg, goVersion, modCache)
	if err != nil {
		return nil, err
	}

	modDir := filepath.Join(dir, "modules")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	out := filepath.Join(modDir, name+".wasm")
	tmp, err := os.CreateTemp(modDir, "."+name+".*.wasm.tmp")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // a no-op after the rename
	args := append([]string{"build"}, BuildFlags()...)
	args = append(args, "-o", tmpName, pkg)
	if _, err := goOutput(ctx, goCmd, dir, env, args...); err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(tmpName)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := syncFile(tmpName); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := atomicfile.SyncDir(modDir); err != nil {
		return nil, err
	}

	rec := ModuleRecord{
		Path:        artifact.ModulesDir + name + ".wasm",
		SHA256:      artifact.SHA256Hex(wasm),
		Size:        int64(len(wasm)),
		GoVersion:   goVersion,
		GOOS:        GOOS,
		GOARCH:      GOARCH,
		Flags:       BuildFlags(),
		Env:         buildEnv(),
		MainPackage: mainPkg,
		GoModules:   mods,
	}
	finished := time.Now().UTC()
	recFile, err := updateBuildRecord(dir, rec)
	if err != nil {
		return nil, err
	}
	times := readBuildTimes(dir)
	times[rec.Path] = buildTime{SHA256: rec.SHA256, StartedOn: started, FinishedOn: finished}
	data, err := json.MarshalIndent(times, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, filepath.FromSlash(BuildTimesPath)), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("build times: %w", err)
	}
	return &BuildResult{Dir: dir, File: out, Record: rec, RecordFile: recFile, StartedOn: started, FinishedOn: finished}, nil
}

// readBuildTimes reads BuildTimesPath, module path → build time; a missing
// or unreadable file is empty (times are informative only).
func readBuildTimes(dir string) map[string]buildTime {
	times := map[string]buildTime{}
	if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(BuildTimesPath))); err == nil {
		if json.Unmarshal(data, &times) != nil {
			times = map[string]buildTime{}
		}
	}
	return times
}

// ReadBuildRecord reads dir/.palyra/build.json. A missing record is not an
// error: it returns an empty record (every module is then prebuilt).
func ReadBuildRecord(dir string) (*BuildRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(BuildRecordPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return &BuildRecord{Schema: BuildRecordSchema}, nil
	}
	if err != nil {
		return nil, err
	}
	var rec BuildRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", BuildRecordPath, err)
	}
	if rec.Schema != BuildRecordSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q (written by another palyra-gen: run palyra-gen build again)", BuildRecordPath, rec.Schema, BuildRecordSchema)
	}
	return &rec, nil
}

// Module returns the record of the module at path (e.g.
// "modules/echo.wasm") when its SHA-256 is sha256, i.e. when the file is
// still the one the recorded build wrote.
func (r *BuildRecord) Module(path, sha256 string) (ModuleRecord, bool) {
	for _, m := range r.Modules {
		if m.Path == path && m.SHA256 == sha256 {
			return m, true
		}
	}
	return ModuleRecord{}, false
}

func updateBuildRecord(dir string, rec ModuleRecord) (string, error) {
	br, err := ReadBuildRecord(dir)
	if err != nil {
		// A record we cannot read is replaced: it described earlier
		// builds, and the new one is what is on disk now.
		br = &BuildRecord{Schema: BuildRecordSchema}
	}
	kept := br.Modules[:0]
	for _, m := range br.Modules {
		if m.Path != rec.Path {
			kept = append(kept, m)
		}
	}
	br.Modules = append(kept, rec)
	sort.Slice(br.Modules, func(i, j int) bool { return br.Modules[i].Path < br.Modules[j].Path })
	data, err := json.MarshalIndent(br, "", "  ")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, filepath.FromSlash(BuildRecordPath))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", fmt.Errorf("build record: %w", err)
	}
	if err := atomicfile.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("build record: %w", err)
	}
	return file, nil
}

func readManifest(dir string) (*manifest.Manifest, error) {
	file := filepath.Join(dir, artifact.ManifestPath)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", file, ErrNoManifest)
	}
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, manifest.InFile(err, file)
	}
	if m.SkillID == "" || m.Version == "" || m.Publisher == "" {
		return nil, fmt.Errorf("%s: skill_id, version and publisher are required", file)
	}
	return m, nil
}

// cleanEnv is the caller's environment without the variables that change
// the build's output, plus Build's own settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		scrub := false
		for _, s := range scrubbedEnv {
			if k == s {
				scrub = true
			}
		}
		if !scrub {
			env = append(env, kv)
		}
	}
	be := buildEnv()
	keys := make([]string, 0, len(be))
	for k := range be {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+be[k])
	}
	return env
}

// goOutput runs the go command and returns its stdout; on failure the
// error carries stderr, which is where the compiler reports.
func goOutput(ctx context.Context, goCmd, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%w: go %s:\n%s", ErrGoBuild, args[0], msg)
	}
	return stdout.String(), nil
}

// listedPackage is the part of `go list -json` output Build uses.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	DepOnly    bool
	Module     *listedModule
	GoFiles    []string
	SFiles     []string
	HFiles     []string
	EmbedFiles []string
	Error      *struct{ Err string }
}

type listedModule struct {
	Path    string
	Version string
	Main    bool
	Dir     string
	Sum     string
	Replace *listedModule
}

// listModules runs `go list -deps` over the main package with the build's
// flags and returns the main package's import path and every module,
// including the standard library, with its hashes. modCache is GOMODCACHE,
// where module zips are looked up.
func listModules(ctx context.Context, goCmd, dir string, env []string, pkg, goVersion, modCache string) (string, []GoModule, error) {
	args := []string{"list", "-deps", "-json=ImportPath,Name,Dir,Standard,DepOnly,Module,GoFiles,SFiles,HFiles,EmbedFiles,Error"}
	args = append(args, BuildFlags()...)
	args = append(args, pkg)
	out, err := goOutput(ctx, goCmd, dir, env, args...)
	if err != nil {
		return "", nil, err
	}
	type modFiles struct {
		mod GoModule
		// zipPath and zipVersion name the module whose zip was
		// downloaded: the replacement when go.mod replaces it with
		// another module version.
		zipPath, zipVersion string
		files               map[string]string // slash path relative to the module root → file on disk
	}
	mods := map[string]*modFiles{}
	var mainPkg string
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return "", nil, fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil {
			return "", nil, fmt.Errorf("%w: package %s: %s", ErrGoBuild, p.ImportPath, p.Error.Err)
		}
		if !p.DepOnly {
			if p.Name != "main" {
				return "", nil, fmt.Errorf("build %s: %w (package %s is %q)", pkg, ErrNotMain, p.ImportPath, p.Name)
			}
			mainPkg = p.ImportPath
		}
		// rel is the package's directory inside its module: the import
		// path below GOROOT/src for the standard library, the directory
		// below the module root otherwise (the import path suffix when
		// there is no root, as for vendored modules).
		var key, rel string
		switch {
		case p.Standard:
			key, rel = "stdlib", p.ImportPath
			if mods[key] == nil {
				mods[key] = &modFiles{mod: GoModule{Path: "stdlib", Version: goVersion}, files: map[string]string{}}
			}
		case p.Module != nil:
			key = p.Module.Path
			if mods[key] == nil {
				mf := &modFiles{mod: goModule(p.Module), files: map[string]string{}}
				mf.zipPath, mf.zipVersion = p.Module.Path, p.Module.Version
				if r := p.Module.Replace; r != nil {
					mf.zipPath, mf.zipVersion = r.Path, r.Version
				}
				mods[key] = mf
			}
			rel = strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, p.Module.Path), "/")
			if root := p.Module.Dir; root != "" {
				if r, err := filepath.Rel(root, p.Dir); err == nil && !strings.HasPrefix(r, "..") {
					rel = filepath.ToSlash(r)
				}
			}
		default:
			return "", nil, fmt.Errorf("build: package %s belongs to no module (GOPATH mode is not supported)", p.ImportPath)
		}
		mf := mods[key]
		for _, list := range [][]string{p.GoFiles, p.SFiles, p.HFiles, p.EmbedFiles} {
			for _, f := range list {
				mf.files[path.Join(rel, filepath.ToSlash(f))] = filepath.Join(p.Dir, f)
			}
		}
	}
	if mainPkg == "" {
		return "", nil, fmt.Errorf("build %s: %w", pkg, ErrNotMain)
	}
	result := make([]GoModule, 0, len(mods))
	for _, mf := range mods {
		g := mf.mod
		if g.Sum != "" {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(g.Sum, "h1:"))
			if err != nil || !strings.HasPrefix(g.Sum, "h1:") || len(raw) != sha256.Size {
				return "", nil, fmt.Errorf("build: module %s: go.sum hash %q is not an h1 hash", g.Path, g.Sum)
			}
			g.Dirhash, g.DirhashSource = g.Sum, DirhashGoSum
			if g.ZipSHA256, err = moduleZipSHA256(modCache, mf.zipPath, mf.zipVersion, g.Sum); err != nil {
				return "", nil, fmt.Errorf("build: module %s: %w", g.Path, err)
			}
		} else {
			h, err := hashFiles(mf.files)
			if err != nil {
				return "", nil, fmt.Errorf("build: hash module %s: %w", g.Path, err)
			}
			g.Dirhash, g.DirhashSource = h, DirhashCompiledFiles
		}
		result = append(result, g)
	}
	sort.Slice(result, func(i, j int) bool { return result[i].Path < result[j].Path })
	return mainPkg, result, nil
}

func goModule(m *listedModule) GoModule {
	g := GoModule{Path: m.Path, Version: m.Version, Main: m.Main, Sum: m.Sum}
	if r := m.Replace; r != nil {
		g.Sum = r.Sum // the replacement is what was downloaded, if anything
		p := r.Path
		if filepath.IsAbs(p) {
			p = "(local)"
		}
		g.Replace = &ModuleReplace{Path: p, Version: r.Version}
	}
	return g
}

// moduleZipSHA256 returns the lowercase hex SHA-256 of the zip of module
// path@version in the module cache modCache, or "" when there is no such
// file or its dirhash is not sum: only a zip whose content is what go.sum
// names (and so what the build compiled) may be described by its SHA-256.
func moduleZipSHA256(modCache, path, version, sum string) (string, error) {
	if modCache == "" || path == "" || version == "" {
		return "", nil
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return "", nil
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", nil
	}
	zipFile := filepath.Join(modCache, "cache", "download", filepath.FromSlash(ep), "@v", ev+".zip")
	f, err := os.Open(zipFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("module zip: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("module zip %s: %w", zipFile, err)
	}
	if zh, err := dirhash.HashZip(zipFile, dirhash.Hash1); err != nil || zh != sum {
		return "", nil // not the content go.sum names: say nothing rather than something false
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFiles is dirhash.Hash1 over files (slash path relative to the module
// root → file on disk), "h1:" + base64 as go.sum writes it: the dirhash of
// exactly those files.
func hashFiles(files map[string]string) (string, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
		return os.Open(files[name])
	})
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
