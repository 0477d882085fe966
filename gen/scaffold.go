package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/template"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/templates"
)

// PalyraModule is the module path of palyra-go, which scaffolded skills
// require (for the sdk and for palyra-gen as a tool).
const PalyraModule = "github.com/palyra/palyra-go"

// DefaultPublisher is the publisher of a scaffolded skill when none is
// given. Change it in skill.toml before signing: the publisher is what
// operators trust.
const DefaultPublisher = "example"

// ErrNoCheckout: Scaffold cannot find a local palyra-go checkout to
// point the new skill's replace directive at.
var ErrNoCheckout = errors.New("no palyra-go checkout found")

// ScaffoldOptions tune Scaffold. The zero value scaffolds the basic
// template into ./NAME for DefaultPublisher.
type ScaffoldOptions struct {
	// Dir is the directory to create (default NAME, relative to the
	// working directory). It may exist if it is empty, or with Force.
	Dir string
	// Publisher of the skill; skill_id is "<Publisher>.<name>".
	Publisher string
	// Template is a templates.List name (default templates.Default).
	Template string
	// Module is the new Go module's path (default name).
	Module string
	// PalyraDir is the palyra-go checkout the new go.mod replaces
	// PalyraModule with. By default it is the checkout this package was
	// built from (its source path, or a replace in the build info).
	PalyraDir string
	// Force writes into a non-empty Dir, replacing files of the same
	// names and keeping the others.
	Force bool
	// Env is the environment of the go commands (default os.Environ()).
	// GOFLAGS is set to -mod=mod and GOWORK to off on top of it.
	Env []string
}

// ScaffoldResult describes a scaffolded skill.
type ScaffoldResult struct {
	Dir       string   `json:"dir"` // absolute
	SkillID   string   `json:"skill_id"`
	Template  string   `json:"template"`
	Module    string   `json:"module"`
	PalyraDir string   `json:"palyra_dir"`
	Files     []string `json:"files"` // relative to Dir, sorted
	Tools     []string `json:"tools"`
}

// skillName is the rule for NAME: one skill_id segment, so that it is also
// the module file name (modules/NAME.wasm) and a directory name.
var skillName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`) })

// scaffoldData is what the templates are executed with. Every value is
// safe to paste into TOML and go.mod as it is: names are validated and
// the replace path is quoted when it needs to be.
type scaffoldData struct {
	Name         string // the skill name, last segment of SkillID
	Publisher    string
	SkillID      string
	DisplayName  string // Name for humans: "hello-world" → "Hello world"
	Template     string
	Module       string // the new module's path
	GoVersion    string // the go line of palyra-go's go.mod
	PalyraModule string
	PalyraDir    string // quoted for go.mod when needed
}

// Scaffold creates a skill repository from a template: skill.toml, a main
// package with typed tools and their unit test, go.mod (with palyra-gen as
// a tool, and a replace to the local palyra-go checkout), gen.go,
// README.md and .gitignore. It then runs Generate and `go mod tidy`, so
// the new repository builds and tests as it is, from the module cache.
//
// Everything is checked before anything is written, and the repository
// is assembled in a temporary directory beside Dir, moved into place only
// when complete: a failure leaves nothing behind.
func Scaffold(ctx context.Context, name string, opts ScaffoldOptions) (*ScaffoldResult, error) {
	if opts.Publisher == "" {
		opts.Publisher = DefaultPublisher
	}
	if opts.Template == "" {
		opts.Template = templates.Default
	}
	if opts.Dir == "" {
		opts.Dir = name
	}
	if opts.Module == "" {
		opts.Module = name
	}
	if !skillName().MatchString(name) {
		return nil, fmt.Errorf("skill name %q: want [a-z0-9_-], starting with a letter or digit, at most 64 characters", name)
	}
	if err := manifest.ValidatePublisher(opts.Publisher); err != nil {
		return nil, fmt.Errorf("publisher %q: %w", opts.Publisher, err)
	}
	skillID := opts.Publisher + "." + name
	if err := manifest.ValidateSkillID(skillID); err != nil {
		return nil, fmt.Errorf("skill id %q: %w", skillID, err)
	}
	if err := module.CheckImportPath(opts.Module); err != nil {
		return nil, fmt.Errorf("module path: %w", err)
	}
	files, err := templates.Files(opts.Template)
	if err != nil {
		return nil, err
	}
	palyraDir := opts.PalyraDir
	if palyraDir == "" {
		if palyraDir, err = findPalyraDir(); err != nil {
			return nil, err
		}
	}
	palyraDir, goVersion, err := checkPalyraDir(palyraDir)
	if err != nil {
		return nil, err
	}
	target, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	exists, err := checkTarget(target, opts.Force)
	if err != nil {
		return nil, err
	}

	data := scaffoldData{
		Name: name, Publisher: opts.Publisher, SkillID: skillID,
		DisplayName: displayName(name), Template: opts.Template, Module: opts.Module,
		GoVersion: goVersion, PalyraModule: PalyraModule, PalyraDir: modfile.AutoQuote(palyraDir),
	}
	rendered := map[string][]byte{}
	for _, f := range files {
		t, err := template.New(f.Path).Option("missingkey=error").Parse(f.Text)
		if err != nil {
			return nil, fmt.Errorf("template %s/%s: %w", opts.Template, f.Path, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("template %s/%s: %w", opts.Template, f.Path, err)
		}
		rendered[f.Path] = buf.Bytes()
	}

	// Checks are done: from here on, work in a temporary directory.
	parent := filepath.Dir(target)
	created, err := mkdirAllTracked(parent)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(target)+".new-*")
	if err != nil {
		removeCreated(created)
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
			removeCreated(created)
		}
	}()
	for rel, content := range rendered {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return nil, err
		}
	}
	// palyra-go's own go.sum holds the hashes of every module the new
	// repository can need (it depends on nothing else), so seeding it lets
	// tidy work offline; tidy drops the lines that are not needed.
	if sum, err := os.ReadFile(filepath.Join(palyraDir, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644); err != nil {
			return nil, err
		}
	}
	env := goEnv(opts.Env)
	gres, err := Generate(ctx, tmp, GenerateOptions{Env: env})
	if err != nil {
		return nil, fmt.Errorf("generate in the new skill: %w", err)
	}
	if err := runGo(ctx, tmp, env, "mod", "tidy"); err != nil {
		return nil, err
	}

	res := &ScaffoldResult{Dir: target, SkillID: skillID, Template: opts.Template, Module: opts.Module, PalyraDir: palyraDir}
	for _, t := range gres.Tools {
		res.Tools = append(res.Tools, t.Name)
	}
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(tmp, p)
			res.Files = append(res.Files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(res.Files)
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return nil, err
	}
	if err := moveInto(tmp, target, exists, res.Files); err != nil {
		return nil, err
	}
	ok = true
	return res, nil
}

// checkTarget reports whether dir exists, refusing a non-empty one
// unless force.
func checkTarget(dir string, force bool) (exists bool, err error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s: %w and is not a directory", dir, ErrExists)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) > 0 && !force {
		return false, fmt.Errorf("%s: %w and is not empty (use --force to write into it)", dir, ErrExists)
	}
	return true, nil
}

// moveInto puts the finished tree at target: one rename when target does
// not exist (or is empty), else file by file over what is there (Force).
func moveInto(tmp, target string, exists bool, files []string) error {
	if exists {
		if err := os.Remove(target); err == nil || errors.Is(err, os.ErrNotExist) {
			exists = false // it was empty
		}
	}
	if !exists {
		if err := os.Rename(tmp, target); err != nil {
			return err
		}
		_ = syncParent(target)
		return nil
	}
	for _, rel := range files {
		dst := filepath.Join(target, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(rel)), dst); err != nil {
			return err
		}
	}
	return os.RemoveAll(tmp)
}

func syncParent(p string) error {
	d, err := os.Open(filepath.Dir(p))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// mkdirAllTracked is os.MkdirAll that returns the directories it created,
// outermost first, so that a failure can remove them again.
func mkdirAllTracked(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		removeCreated(missing)
		return nil, err
	}
	return missing, nil
}

func removeCreated(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // only while empty
	}
}

// findPalyraDir finds the palyra-go checkout this code was built from.
func findPalyraDir() (string, error) {
	// Built from a checkout without -trimpath (go run, go tool, go test,
	// go install in the checkout): this file's path is in the binary.
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(filepath.Dir(file))
		if _, _, err := checkPalyraDir(dir); err == nil {
			return dir, nil
		}
	}
	// Built as a tool of a module that replaces palyra-go with a
	// directory: the build info records the directory.
	if bi, ok := debug.ReadBuildInfo(); ok {
		mods := append([]*debug.Module{&bi.Main}, bi.Deps...)
		for _, m := range mods {
			if m.Path == PalyraModule && m.Replace != nil && filepath.IsAbs(m.Replace.Path) {
				if _, _, err := checkPalyraDir(m.Replace.Path); err == nil {
					return m.Replace.Path, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%w: pass --palyra-dir (palyra-go is not published, so a new skill builds against a local checkout)", ErrNoCheckout)
}

// checkPalyraDir makes dir absolute and checks that it holds palyra-go,
// returning the go version of its go.mod.
func checkPalyraDir(dir string) (string, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", "", fmt.Errorf("palyra-go checkout %s: %w", abs, err)
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return "", "", fmt.Errorf("palyra-go checkout %s: %w", abs, err)
	}
	if f.Module == nil || f.Module.Mod.Path != PalyraModule {
		return "", "", fmt.Errorf("%s is not a palyra-go checkout: its go.mod is not module %s", abs, PalyraModule)
	}
	goVersion := "1.24" // the first with tool directives
	if f.Go != nil {
		goVersion = f.Go.Version
	}
	return abs, goVersion, nil
}

// displayName turns a skill name into a title: "hello-world" → "Hello world".
func displayName(name string) string {
	s := strings.NewReplacer("-", " ", "_", " ").Replace(name)
	return exportedName(s)
}

// goEnv is the environment for go commands in a new skill: module mode
// updates allowed (so tidy can complete go.sum), no enclosing workspace.
func goEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	return append(slices.Clone(env), "GOFLAGS=-mod=mod", "GOWORK=off")
}

func runGo(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
