package gen

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/signing"
)

// DevKeyFile is the signing key Watch and Install create in a state
// directory (mode 0600) to sign development builds. Every skill installed
// into that state dir by palyra-gen shares it, since the host pins one key
// per publisher on first use.
const DevKeyFile = "palyra-gen-dev.key"

// DevArtifact is where Install writes the artifact it installs, relative
// to the skill directory (under .palyra/, which scaffolded skills ignore).
const DevArtifact = ".palyra/dev.palyra-skill"

// DefaultWatchInterval is how often Watch polls the sources.
const DefaultWatchInterval = 500 * time.Millisecond

// WatchOptions tune Watch. The zero value polls every
// DefaultWatchInterval and builds without installing.
type WatchOptions struct {
	// Build tunes each build.
	Build BuildOptions
	// StateDir, when set, is a host state directory: after each
	// successful build the skill is packaged and installed there (see
	// Install).
	StateDir string
	// Interval between polls of the sources (default
	// DefaultWatchInterval). A change is built once one poll finds the
	// sources as the previous one did: saving several files is one build.
	Interval time.Duration
	// Log receives one line per build, and the error of a failed one
	// (nil: discard).
	Log io.Writer
	// OnBuild, if not nil, is called after every build with its outcome.
	OnBuild func(WatchEvent)
}

// WatchEvent is the outcome of one build of Watch.
type WatchEvent struct {
	// Seq counts builds from 1.
	Seq int `json:"seq"`
	// Changed are the source files that changed since the last build,
	// relative to the skill directory; none for the first build.
	Changed []string `json:"changed,omitempty"`
	// Duration is the whole step: generate, build, package and install.
	Duration time.Duration `json:"duration"`
	// Generated are the files Generate rewrote.
	Generated []string `json:"generated,omitempty"`
	// Build, Installed: what was built and installed, when it was.
	Build     *BuildResult `json:"build,omitempty"`
	Installed *DevInstall  `json:"installed,omitempty"`
	// Err is why the step failed, if it did.
	Err error `json:"-"`
}

// Watch builds the skill in dir, then rebuilds it whenever its sources
// change, until ctx is done; it then returns nil. The sources are
// polled, by size and modification time, every opts.Interval: the Go
// files (tests excepted), go.mod, go.sum and skill.toml anywhere under
// dir, and assets/. Outputs — modules/, .palyra/, GeneratedFile — and
// hidden directories, testdata/ and vendor/ are not watched.
//
// A skill that uses the generator (dir holds GeneratedFile) is
// regenerated before each build, as go generate would, so that its
// wrappers and skill.toml follow its Go types. With opts.StateDir each
// successful build is also installed there, as Install does.
//
// A failed build is reported (opts.Log, opts.OnBuild) and watching goes
// on; only a problem that no edit of the sources can fix, such as a
// state dir that cannot be opened, ends Watch with an error.
func Watch(ctx context.Context, dir string, opts WatchOptions) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, "skill.toml")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("watch %s: %w", dir, ErrNoManifest)
		}
		return fmt.Errorf("watch: %w", err)
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	var inst *devInstaller
	if opts.StateDir != "" {
		inst, err = openDevInstaller(ctx, opts.StateDir)
		if err != nil {
			return err
		}
		defer inst.close()
		fmt.Fprintf(log, "installing into %s with the dev key %s (%s)\n", inst.host.Dir(), inst.keyID, inst.keyFile)
	}
	fmt.Fprintf(log, "watching %s every %v; interrupt to stop\n", abs, interval)

	seq := 0
	step := func(changed []string) snapshot {
		seq++
		ev, after := buildStep(ctx, abs, opts.Build, inst, changed)
		ev.Seq = seq
		if ctx.Err() != nil {
			return after // interrupted: not the build's fault
		}
		reportBuild(log, ev)
		if opts.OnBuild != nil {
			opts.OnBuild(ev)
		}
		return after
	}
	built := step(nil)
	var pending snapshot
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(log, "stopped")
			return nil
		case <-tick.C:
		}
		cur := scanSources(abs)
		switch {
		case cur.equal(built):
			pending = nil
		case pending == nil || !cur.equal(pending):
			pending = cur // still changing: wait for a quiet poll
		default:
			built = step(built.diff(cur))
			pending = nil
		}
	}
}

// buildStep generates (when the skill uses the generator), builds and
// installs once. The snapshot it returns is of the sources as they were
// after generation and before the build: a later edit is a change.
func buildStep(ctx context.Context, dir string, bopts BuildOptions, inst *devInstaller, changed []string) (WatchEvent, snapshot) {
	start := time.Now()
	ev := WatchEvent{Changed: changed}
	if _, err := os.Stat(filepath.Join(dir, GeneratedFile)); err == nil {
		res, err := Generate(ctx, dir, GenerateOptions{})
		if err != nil {
			ev.Err = fmt.Errorf("generate: %w", err)
			ev.Duration = time.Since(start)
			return ev, scanSources(dir)
		}
		ev.Generated = res.Changed
	}
	snap := scanSources(dir)
	res, err := Build(ctx, dir, bopts)
	if err != nil {
		ev.Err = err
		ev.Duration = time.Since(start)
		return ev, snap
	}
	ev.Build = res
	if inst != nil {
		ev.Installed, ev.Err = inst.install(ctx, dir)
	}
	ev.Duration = time.Since(start)
	return ev, snap
}

// reportBuild writes one line for a build, and a failed build's error
// below it, indented.
func reportBuild(w io.Writer, ev WatchEvent) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s build %d ", time.Now().Format("15:04:05"), ev.Seq)
	if ev.Err != nil {
		fmt.Fprintf(&b, "FAILED in %v", ev.Duration.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "ok in %v", ev.Duration.Round(time.Millisecond))
	}
	if len(ev.Changed) > 0 {
		c := ev.Changed
		more := ""
		if len(c) > 3 {
			c, more = c[:3], fmt.Sprintf(" and %d more", len(ev.Changed)-3)
		}
		fmt.Fprintf(&b, " (%s%s changed)", strings.Join(c, ", "), more)
	}
	if r := ev.Build; r != nil {
		fmt.Fprintf(&b, ": %s %s sha256 %.12s", r.Record.Path, humanSize(r.Record.Size), r.Record.SHA256)
	}
	if len(ev.Generated) > 0 {
		fmt.Fprintf(&b, ", regenerated %s", strings.Join(ev.Generated, ", "))
	}
	if in := ev.Installed; in != nil {
		fmt.Fprintf(&b, ", installed %s %s (artifact sha256 %.12s)", in.SkillID, in.Version, in.ArtifactSHA256)
	}
	b.WriteString("\n")
	if ev.Err != nil {
		for line := range strings.Lines(strings.TrimRight(ev.Err.Error(), "\n")) {
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// stamp is what Watch compares of a source file.
type stamp struct {
	size    int64
	modTime time.Time
}

// snapshot maps source files (slash paths relative to the skill
// directory) to their stamps.
type snapshot map[string]stamp

func (s snapshot) equal(o snapshot) bool {
	return maps.Equal(s, o)
}

// diff lists the files added, removed or changed from s to o, sorted.
func (s snapshot) diff(o snapshot) []string {
	var out []string
	for p, st := range o {
		if old, ok := s[p]; !ok || old != st {
			out = append(out, p)
		}
	}
	for p := range s {
		if _, ok := o[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// scanSources stamps the files a build depends on (see Watch). Files
// that vanish while it walks are left out; a change is a change.
func scanSources(dir string) snapshot {
	snap := snapshot{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && !watchedDir(rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !watchedFile(rel, d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		snap[rel] = stamp{size: info.Size(), modTime: info.ModTime()}
		return nil
	})
	return snap
}

func watchedDir(rel, name string) bool {
	switch {
	case rel == "modules", rel == ".palyra":
		return false // outputs
	case strings.HasPrefix(name, "."), strings.HasPrefix(name, "_"), name == "testdata", name == "vendor":
		return false // what the go command ignores, and .git
	}
	return true
}

func watchedFile(rel, name string) bool {
	switch {
	case strings.HasPrefix(rel, "assets/"):
		return true // packaged as they are
	case rel == GeneratedFile:
		return false
	case strings.HasSuffix(name, "_test.go"):
		return false // not in the build
	case strings.HasSuffix(name, ".go"), name == "go.mod", name == "go.sum", name == "skill.toml":
		return true
	}
	return false
}

// DevInstall is what Install installed.
type DevInstall struct {
	*host.Installed
	// Artifact is the packaged file that was installed (absolute).
	Artifact string `json:"artifact"`
	// KeyFile is the dev key it was signed with.
	KeyFile string `json:"key_file"`
}

// Install packages the built skill in dir with the dev key of the host
// state directory stateDir (DevKeyFile, created on first use) and
// installs it there, for a development loop:
//
//   - the dev key's publisher is trusted on first use (AllowTOFU): a
//     state dir that already trusts another key for the skill's
//     publisher refuses it — use a state dir of its own for development;
//   - the skill gets every capability it requests (GrantRequested),
//     except shared secrets (global, principal:ID, channel:ID), which
//     are granted only by name (palyra skills grants ID --grant …);
//   - the same version may be installed again with new content
//     (AllowDowngrade), as every rebuild is, which rollback protection
//     refuses to anyone else.
//
// The artifact is written to dir/DevArtifact. Its timestamps follow
// SOURCE_DATE_EPOCH like any package.
func Install(ctx context.Context, dir, stateDir string) (*DevInstall, error) {
	inst, err := openDevInstaller(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	defer inst.close()
	return inst.install(ctx, dir)
}

// devInstaller is an open state dir and its dev key.
type devInstaller struct {
	host    *host.Host
	key     ed25519.PrivateKey
	keyFile string
	keyID   string
}

func openDevInstaller(ctx context.Context, stateDir string) (*devInstaller, error) {
	h, err := host.Open(ctx, stateDir, host.Options{Principal: "palyra-gen"})
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	keyFile := filepath.Join(h.Dir(), DevKeyFile)
	key, err := devKey(keyFile)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("install: %w", err)
	}
	return &devInstaller{host: h, key: key, keyFile: keyFile,
		keyID: signing.KeyID(key.Public().(ed25519.PublicKey))}, nil
}

func (d *devInstaller) close() { d.host.Close() }

func (d *devInstaller) install(ctx context.Context, dir string) (*DevInstall, error) {
	out := filepath.Join(dir, filepath.FromSlash(DevArtifact))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	pkg, err := Package(ctx, dir, PackageOptions{Key: d.key, Out: out})
	if err != nil {
		return nil, err
	}
	in, err := d.host.Install(ctx, pkg.File, host.InstallOptions{
		AllowTOFU: true, GrantRequested: true, AllowDowngrade: true, Principal: "palyra-gen (dev)",
	})
	if errors.Is(err, host.ErrKeyMismatch) || errors.Is(err, host.ErrKeyRevoked) {
		return nil, fmt.Errorf("install: %w (%s trusts another key for publisher %s than the dev key %s; develop in a state dir of its own)",
			err, d.host.Dir(), pkg.Publisher, d.keyID)
	}
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	return &DevInstall{Installed: in, Artifact: pkg.File, KeyFile: d.keyFile}, nil
}

// devKey reads the dev key at file, creating it (mode 0600) when it does
// not exist. A key that others may read is refused: it signs what the
// state dir trusts.
func devKey(file string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createDevKey(file)
	}
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("dev key %s: mode %v lets others read it; chmod 600 it", file, st.Mode().Perm())
	}
	key, err := LoadKey(data)
	if err != nil {
		return nil, fmt.Errorf("dev key %s: %w", file, err)
	}
	return key, nil
}

// createDevKey writes a new key to file and returns its PEM, or the
// key another process created first. The key is written whole to a
// temporary file and linked into place, so that no reader sees it half
// written and no writer replaces another's.
func createDevKey(file string) ([]byte, error) {
	_, priv, err := signing.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	pemData, err := signing.MarshalPrivateKeyPEM(priv)
	if err != nil {
		return nil, err
	}
	tmp, err := writeTemp(file, pemData, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, file); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(file)
	} else if err != nil {
		return nil, err
	}
	return pemData, nil
}
