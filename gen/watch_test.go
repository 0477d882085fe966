package gen

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/signing"
)

// lockedBuffer is a bytes.Buffer that Watch writes from its goroutine
// while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWatchInstall is the developer loop: Watch builds and installs the
// skill, an edit that breaks it is reported while watching goes on, and
// the edit that fixes it is rebuilt and installed: the host then lists
// the new artifact, signed with the same dev key.
func TestWatchInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs a Wasm skill three times")
	}
	dir := skillModule(t, "testdata/typedskill")
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan WatchEvent, 8)
	var log lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, dir, WatchOptions{
			StateDir: state, Interval: 20 * time.Millisecond, Log: &log,
			OnBuild: func(ev WatchEvent) { events <- ev },
		})
	}()
	next := func(what string) WatchEvent {
		t.Helper()
		select {
		case ev := <-events:
			t.Logf("%s: build %d in %v, err %v", what, ev.Seq, ev.Duration.Round(time.Millisecond), ev.Err)
			return ev
		case err := <-done:
			t.Fatalf("%s: Watch returned %v\n%s", what, err, log.String())
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: no build within 2 minutes\n%s", what, log.String())
		}
		panic("unreachable")
	}

	first := next("first build")
	if first.Err != nil || first.Seq != 1 || first.Changed != nil || first.Build == nil || first.Installed == nil {
		t.Fatalf("first build: %+v\n%s", first, log.String())
	}
	if first.Installed.SkillID != "acme.typed" || first.Installed.TrustDecision != host.TrustDecision("tofu_newly_pinned") {
		t.Errorf("first install: %+v", first.Installed.Installed)
	}

	// The dev key: created once, 0600, in the state dir, pinned for acme.
	keyFile := filepath.Join(state, DevKeyFile)
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev key: %v, %v", st, err)
	}
	data, _ := os.ReadFile(keyFile)
	key, err := LoadKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := signing.KeyID(key.Public().(ed25519.PublicKey)); first.Installed.KeyID != want {
		t.Errorf("signed with %s, want the dev key %s", first.Installed.KeyID, want)
	}

	// An edit that does not compile: reported, and watching goes on.
	src := filepath.Join(dir, "main.go")
	edit(t, src, `return strings.ToUpper(in.Text) + "!", nil`, `return strings.ToUpper(in.Text) + "!", nil, nil`)
	broken := next("broken build")
	if broken.Err == nil || broken.Seq != 2 || !slices.Equal(broken.Changed, []string{"main.go"}) || broken.Installed != nil {
		t.Fatalf("broken build: %+v", broken)
	}
	if !strings.Contains(broken.Err.Error(), "main.go:") {
		t.Errorf("the error does not point at main.go: %v", broken.Err)
	}

	// The fix: rebuilt, and the host gets the new artifact.
	edit(t, src, `return strings.ToUpper(in.Text) + "!", nil, nil`, `return strings.ToUpper(in.Text) + "!!", nil`)
	fixed := next("fixed build")
	if fixed.Err != nil || fixed.Seq != 3 || fixed.Installed == nil {
		t.Fatalf("fixed build: %+v\n%s", fixed, log.String())
	}
	if fixed.Build.Record.SHA256 == first.Build.Record.SHA256 || fixed.Installed.ArtifactSHA256 == first.Installed.ArtifactSHA256 {
		t.Error("the fixed build has the first build's module or artifact")
	}
	if fixed.Installed.KeyID != first.Installed.KeyID || fixed.Installed.Replaced != "1.2.3" {
		t.Errorf("reinstall: %+v", fixed.Installed.Installed)
	}

	// The host lists it, as another process (the operator's CLI) would
	// see it while Watch goes on.
	h, err := host.Open(ctx, state, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := h.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].ArtifactSHA256 == fixed.Installed.ArtifactSHA256 && list[0].State == host.StateEligible {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host lists %+v, want acme.typed with artifact %s", list, fixed.Installed.ArtifactSHA256)
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, err := h.Info(ctx, "acme.typed")
	if err != nil {
		t.Fatal(err)
	}
	if g, err := h.Grants(ctx, "acme.typed"); err != nil || len(g.Denied) != 0 {
		t.Errorf("grants %+v, %v: want every requested capability", g, err)
	}
	if n := len(info.Events); n < 2 {
		t.Errorf("%d journal events for two installs", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Watch did not stop after cancel")
	}
	out := log.String()
	for _, want := range []string{
		"installing into " + state + " with the dev key " + first.Installed.KeyID,
		"build 1 ok in ",
		"build 2 FAILED in ",
		"    main.go:",
		"build 3 ok in ",
		"(main.go changed): modules/typed.wasm ",
		"installed acme.typed 1.2.3 (artifact sha256 " + fixed.Installed.ArtifactSHA256[:12] + ")",
		"stopped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, " build "); n != 3 {
		t.Errorf("%d build lines, want 3:\n%s", n, out)
	}
}

// TestScanSources: what the loop watches, and what it ignores (its own
// outputs, tests, hidden directories).
func TestScanSources(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.go": "", "go.mod": "", "go.sum": "", "skill.toml": "", "util/x.go": "", "assets/a.txt": "",
		"main_test.go": "", GeneratedFile: "", "modules/typed.wasm": "", ".palyra/build.json": "",
		".git/HEAD": "", "testdata/t.go": "", "README.md": "", "x.palyra-skill": "", "_old/y.go": "",
	})
	snap := scanSources(dir)
	got := slices.Sorted(func(yield func(string) bool) {
		for p := range snap {
			if !yield(p) {
				return
			}
		}
	})
	want := []string{"assets/a.txt", "go.mod", "go.sum", "main.go", "skill.toml", "util/x.go"}
	if !slices.Equal(got, want) {
		t.Errorf("watched %v, want %v", got, want)
	}
	if !snap.equal(scanSources(dir)) {
		t.Error("two scans of an unchanged tree differ")
	}
	writeFiles(t, dir, map[string]string{"util/x.go": "package util", "modules/typed.wasm": "new"})
	os.Remove(filepath.Join(dir, "go.sum"))
	if d := snap.diff(scanSources(dir)); !slices.Equal(d, []string{"go.sum", "util/x.go"}) {
		t.Errorf("diff %v", d)
	}
}

// TestDevKey: made once, mode 0600, then reused; one that others can
// read is refused.
func TestDevKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), DevKeyFile)
	k1, err := devKey(file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%v, %v", st, err)
	}
	k2, err := devKey(file)
	if err != nil || !k1.Equal(k2) {
		t.Errorf("second devKey: %v, same key %v", err, k1.Equal(k2))
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := devKey(file); err == nil || !strings.Contains(err.Error(), "lets others read it") {
		t.Errorf("world-readable key: err = %v", err)
	}
	if tmps := tmpFiles(t, filepath.Dir(file)); len(tmps) != 0 {
		t.Errorf("left %v", tmps)
	}
}

// TestCLIBuildInstall: build --install once, without watching; --watch
// refuses --json.
func TestCLIBuildInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs a Wasm skill")
	}
	src, _ := builtSkill(t)
	dir := copySkill(t, src)
	state := filepath.Join(t.TempDir(), "state")
	out, err := runCLI(t, "build", dir, "--install", state)
	if err != nil {
		t.Fatalf("build --install: %v\n%s", err, out)
	}
	if !strings.Contains(out, "installed acme.echoskill 1.2.3 into "+state+" (tofu_newly_pinned, artifact sha256 ") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(DevArtifact))); err != nil {
		t.Errorf("no artifact at %s: %v", DevArtifact, err)
	}
	// Again, unchanged: the same version and content install again.
	if out, err := runCLI(t, "build", dir, "--install", state); err != nil {
		t.Fatalf("second build --install: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "build", dir, "--watch", "--json"); err == nil || !strings.Contains(err.Error(), "--json does not go with --watch") {
		t.Errorf("--watch --json: %v\n%s", err, out)
	}
}
