package host_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/palyra/palyra-go/host"
)

// The crash and concurrency tests run installs in child processes: the
// test binary re-executed with PALYRA_TEST_CHILD set (as os/exec's tests do).
func TestMain(m *testing.M) {
	if os.Getenv("PALYRA_TEST_CHILD") == "install" {
		os.Exit(childInstall())
	}
	dir, err := os.MkdirTemp("", "palyra-host-test-cache-")
	if err != nil {
		panic(err)
	}
	sharedCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// childInstall installs $PALYRA_TEST_ARTIFACT into $PALYRA_TEST_STATE,
// SIGKILLing itself at step $PALYRA_TEST_CRASH_AT if set. Exit status: 0
// installed, 1 refused (the error on stderr), 3 the crash step never came.
func childInstall() int {
	var opts host.Options
	crashAt := os.Getenv("PALYRA_TEST_CRASH_AT")
	host.SetCrashPoint(&opts, func(step string) {
		if step == crashAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	})
	h, err := host.Open(ctx, os.Getenv("PALYRA_TEST_STATE"), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer h.Close()
	_, err = h.Install(ctx, os.Getenv("PALYRA_TEST_ARTIFACT"), host.InstallOptions{AllowTOFU: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if crashAt != "" {
		return 3
	}
	return 0
}

func child(state, artifact, crashAt string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PALYRA_TEST_CHILD=install", "PALYRA_TEST_STATE="+state,
		"PALYRA_TEST_ARTIFACT="+artifact, "PALYRA_TEST_CRASH_AT="+crashAt)
	return cmd
}

// assertConsistent opens the state dir (which recovers) and checks that
// the journal and the skills dir agree on exactly one version, or none,
// and that the installed files pass a full re-check.
func assertConsistent(t *testing.T, state, wantVersion string) {
	t.Helper()
	h := openHost(t, state, host.Options{})
	list, err := h.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	if entries, err := os.ReadDir(filepath.Join(state, "skills", "installed", "acme.echo")); err == nil {
		for _, e := range entries {
			versions = append(versions, e.Name())
		}
	}
	staging, _ := os.ReadDir(filepath.Join(state, "skills", ".staging"))
	if len(staging) != 0 {
		t.Errorf("staging not cleaned: %v", staging)
	}
	if wantVersion == "" {
		if len(list) != 0 || len(versions) != 0 {
			t.Fatalf("want nothing installed; journal %+v, dirs %v", list, versions)
		}
		return
	}
	if len(list) != 1 || list[0].Version != wantVersion || list[0].State != host.StateEligible {
		t.Fatalf("journal: %+v, want %s eligible", list, wantVersion)
	}
	if strings.Join(versions, ",") != wantVersion {
		t.Fatalf("skills dir holds %v, journal says %s", versions, wantVersion)
	}
	rep, err := h.Check(ctx, "")
	if err != nil || rep.Quarantined != 0 {
		t.Fatalf("installed files fail re-check after recovery: %+v %v", rep, err)
	}
	h.Close()
}

func TestCrashDuringInstallLeavesOldOrNew(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	key := newKey(t)
	v1 := skillSpec{Version: "1.0.0", Key: key}.File(t)
	v2 := skillSpec{Version: "2.0.0", Key: key, Module: goodModule("echo", "more")}.File(t)

	scenarios := []struct {
		name     string
		before   string // installed first, in-process
		artifact string
		old, new string
	}{
		{"fresh install", "", v1, "", "1.0.0"},
		{"upgrade", v1, v2, "1.0.0", "2.0.0"},
		{"reinstall", v1, v1, "1.0.0", "1.0.0"},
	}
	steps := []struct {
		step   string
		landed bool // the new version is in service after a crash here
	}{{"staged", false}, {"pinned", false}, {"moved-aside", false}, {"renamed", false}, {"recorded", true}}
	for _, sc := range scenarios {
		for _, st := range steps {
			if st.step == "moved-aside" && sc.name != "reinstall" {
				continue // only a reinstall moves the old directory aside
			}
			t.Run(sc.name+"/"+st.step, func(t *testing.T) {
				state := t.TempDir()
				if sc.before != "" {
					h := openHost(t, state, host.Options{})
					if _, err := h.Install(ctx, sc.before, host.InstallOptions{AllowTOFU: true}); err != nil {
						t.Fatal(err)
					}
					h.Close()
				}
				out, err := child(state, sc.artifact, st.step).CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child did not die at %s: %v\n%s", st.step, err, out)
				}
				want := sc.old
				if st.landed {
					want = sc.new
				}
				assertConsistent(t, state, want)
			})
		}
	}
}

func TestConcurrentInstallsAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	state := t.TempDir()
	// Two publishers' keys race for the same TOFU pin, and versions race
	// for the same skill: the state dir must end consistent, with one pin
	// and one version in service.
	k1, k2 := newKey(t), newKey(t)
	var arts []string
	for i, k := range []ed25519.PrivateKey{k1, k2, k1, k2, k1, k2} {
		arts = append(arts, skillSpec{Version: fmt.Sprintf("1.%d.0", i), Key: k}.File(t))
	}
	var wg sync.WaitGroup
	results := make([]error, len(arts))
	outs := make([][]byte, len(arts))
	for i, a := range arts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], results[i] = child(state, a, "").CombinedOutput()
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range results {
		switch {
		case err == nil:
			ok++
		case strings.Contains(string(outs[i]), "key mismatch") || strings.Contains(string(outs[i]), "older than the installed"):
		default:
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	if ok == 0 {
		t.Fatal("no install succeeded")
	}
	h := openHost(t, state, host.Options{})
	snap, err := h.TrustStore().Snapshot(ctx)
	if err != nil || len(snap.Keys) != 1 {
		t.Fatalf("trust store after the race: %+v %v", snap, err)
	}
	list, _ := h.List(ctx)
	if len(list) != 1 {
		t.Fatalf("journal after the race: %+v", list)
	}
	h.Close()
	assertConsistent(t, state, list[0].Version)
}
