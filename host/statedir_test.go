package host_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// snapshot describes every path under dir with its mode and content
// digest, to show that a refused Open changed nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v", filepath.ToSlash(rel), info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				line += " unreadable"
			} else {
				line += fmt.Sprintf(" %x", sha256.Sum256(data))
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// exerciseSkill checks that the skill id works with every command: run,
// list, info, check, a trust store write (revoke), reopen, remove.
func exerciseSkill(t *testing.T, state, id string, key ed25519.PrivateKey) {
	t.Helper()
	h := openHost(t, state, host.Options{})
	if out, err := h.Call(ctx, id, "echo", []byte("hi")); err != nil || string(out) != "hi" {
		t.Fatalf("call: %q %v", out, err)
	}
	if info, err := h.Info(ctx, id); err != nil || info.Manifest == nil || info.Status.State != host.StateEligible {
		t.Fatalf("info: %+v %v", info, err)
	}
	if rep, err := h.Check(ctx, ""); err != nil || rep.Quarantined != 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	h.Close()
	h = openHost(t, state, host.Options{})
	if list, err := h.List(ctx); err != nil || len(list) != 2 {
		t.Fatalf("list after reopen: %+v %v", list, err)
	}
	if err := h.TrustStore().Revoke(ctx, "acme", host.KeyID(key.Public().(ed25519.PublicKey))); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if rep, err := h.Check(ctx, ""); err != nil || rep.Quarantined != 2 {
		t.Fatalf("check after revoke: %+v %v", rep, err)
	}
	h.Close()
	h = openHost(t, state, host.Options{})
	if err := h.Remove(ctx, id, ""); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if list, err := h.List(ctx); err != nil || len(list) != 1 || list[0].SkillID != "acme.echo" {
		t.Fatalf("list after remove: %+v %v", list, err)
	}
	h.Close()
}

// Issue 11: a signed skill whose id was the name of a state file
// (trust-revocations.json, journal.sqlite3-journal) installed and then
// broke every command; "data" and the ids of existing state files were
// refused. Skills now live under skills/installed/, where ids name only
// skills.
func TestSkillIDsNamingStateFiles(t *testing.T) {
	ids := []string{
		"trust-revocations.json", "journal.sqlite3-journal", "data",
		"journal.sqlite3-wal", "journal.sqlite3-shm", "journal.sqlite3",
		"trust-store.json", "installed", "policy.json", "secrets", "cache",
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			key := newKey(t)
			h := openHost(t, state, host.Options{})
			for _, spec := range []skillSpec{
				{Key: key, Module: testskill.EchoModule("echo")},
				{Key: key, Module: testskill.EchoModule("echo"), SkillID: id},
			} {
				if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
					t.Fatalf("install: %v", err)
				}
			}
			h.Close()
			exerciseSkill(t, state, id, key)
		})
	}
}

// makeLegacy turns a state dir made by this build into the legacy
// layout: every skills/installed/<id> becomes skills/<id>.
func makeLegacy(t *testing.T, state string) {
	t.Helper()
	installed := filepath.Join(state, "skills", "installed")
	tmp := filepath.Join(state, "legacy-tmp")
	if err := os.Rename(installed, tmp); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(state, "skills", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
}

// legacyState installs skills with the given ids (plus acme.echo), then
// moves them to the legacy layout, with a stale version dir the old
// recovery would have deleted.
func legacyState(t *testing.T, ids ...string) (state string, key ed25519.PrivateKey) {
	t.Helper()
	state = filepath.Join(t.TempDir(), "state")
	key = newKey(t)
	h := openHost(t, state, host.Options{})
	for _, id := range append([]string{"acme.echo"}, ids...) {
		spec := skillSpec{Key: key, Module: testskill.EchoModule("echo"), SkillID: id}
		if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
			t.Fatalf("install %s: %v", id, err)
		}
	}
	h.Close()
	stale := filepath.Join(state, "skills", "installed", "acme.echo", "0.9.0")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(stale, "artifact.palyra-skill"), []byte("stale"))
	makeLegacy(t, state)
	return state, key
}

// assertUpgraded checks that every skill is in the current layout, works,
// passes a full re-check, and that nothing is left in the legacy places.
func assertUpgraded(t *testing.T, state string, ids ...string) {
	t.Helper()
	h := openHost(t, state, host.Options{})
	defer h.Close()
	all := append([]string{"acme.echo"}, ids...)
	for _, id := range all {
		if _, err := os.Stat(filepath.Join(state, "skills", "installed", id, "1.0.0", "artifact.palyra-skill")); err != nil {
			t.Errorf("%s not in the current layout: %v", id, err)
		}
		if id != "installed" {
			if st, err := os.Lstat(filepath.Join(state, "skills", id)); err == nil && st.IsDir() {
				t.Errorf("legacy dir of %s left", id)
			}
		}
		if out, err := h.Call(ctx, id, "echo", []byte(id)); err != nil || string(out) != id {
			t.Errorf("call %s: %q %v", id, out, err)
		}
	}
	if list, err := h.List(ctx); err != nil || len(list) != len(all) {
		t.Errorf("list: %+v %v", list, err)
	}
	if rep, err := h.Check(ctx, ""); err != nil || rep.Quarantined != 0 {
		t.Errorf("check after upgrade: %+v %v", rep, err)
	}
	if got := tree(t, filepath.Join(state, "skills", "installed", "acme.echo")); len(got) == 0 || !strings.HasPrefix(got[0], "1.0.0/") {
		t.Errorf("acme.echo holds %v, want only 1.0.0", got)
	}
	if _, err := os.Stat(filepath.Join(state, "skills", "installed", "installed", "1.0.0")); err == nil {
		return // the skill "installed" has its own subdir, checked above
	}
	entries, _ := os.ReadDir(filepath.Join(state, "skills", "installed"))
	for _, e := range entries {
		if !contains(all, e.Name()) {
			t.Errorf("unexpected entry skills/installed/%s", e.Name())
		}
	}
	// A revocation writes trust-revocations.json, which a legacy skill
	// dir of that name had taken.
	if err := revokeOther(t, h); err != nil {
		t.Errorf("trust store write after upgrade: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Open moves a state dir in the legacy layout to the current one, using
// the journal to know which directories are skills; even skills whose ids
// are state file names (before the upgrade the trust store or the journal
// could not be opened) or the name of the new installed dir.
func TestOpenUpgradesLegacyLayout(t *testing.T) {
	for _, ids := range [][]string{
		nil,
		{"trust-revocations.json"},
		{"journal.sqlite3-journal", "journal.sqlite3-wal"},
		{"installed", "acme.other"},
	} {
		t.Run(strings.Join(append([]string{"acme.echo"}, ids...), ","), func(t *testing.T) {
			state, _ := legacyState(t, ids...)
			if _, err := os.Stat(filepath.Join(state, "skills", "acme.echo", "1.0.0", "artifact.palyra-skill")); err != nil {
				t.Fatalf("legacy layout not made: %v", err)
			}
			assertUpgraded(t, state, ids...)
			// A second Open finds nothing to do.
			before := snapshot(t, filepath.Join(state, "skills", "installed"))
			h := openHost(t, state, host.Options{})
			h.Close()
			if after := snapshot(t, filepath.Join(state, "skills", "installed")); after != before {
				t.Errorf("a second Open changed the installed dir:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// A removed skill's files that a crash of an older build left in the legacy place
// (here, where the trust store's revocation list belongs) are moved too,
// and recovery deletes them.
func TestUpgradeMovesRemovedSkillLeftovers(t *testing.T) {
	const id = "trust-revocations.json"
	state, _ := legacyState(t, id)
	h := openHost(t, state, host.Options{})
	if err := h.Remove(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	h.Close()
	leftover := filepath.Join(state, "skills", id, "1.0.0")
	if err := os.MkdirAll(leftover, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(leftover, "artifact.palyra-skill"), []byte("left by a crash"))
	h = openHost(t, state, host.Options{})
	if err := revokeOther(t, h); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	for _, p := range []string{filepath.Join(state, "skills", "installed", id)} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	if st, err := os.Stat(filepath.Join(state, "skills", id)); err != nil || !st.Mode().IsRegular() {
		t.Errorf("%s should be the revocation list now: %v", id, err)
	}
}

// A crash in the middle of the upgrade leaves a state dir the next Open
// finishes: the child process is killed right after its first move, then
// again after the first move of the next attempt, until nothing is left
// to move.
func TestUpgradeCrashMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	ids := []string{"trust-revocations.json", "installed", "acme.other", "acme.third"}
	state, key := legacyState(t, ids...)
	extra := skillSpec{Key: key, Name: "extra", Module: testskill.EchoModule("echo")}.File(t)
	crashes := 0
	for ; crashes < 10; crashes++ {
		out, err := child(state, extra, "layout-moved").CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			break // the upgrade had nothing left to do
		}
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child after %d crashes: %v\n%s", crashes, err, out)
		}
	}
	if crashes < 2 {
		t.Fatalf("only %d crashes during the upgrade", crashes)
	}
	t.Logf("upgrade finished after %d crashes", crashes)
	assertUpgraded(t, state, append(ids, "acme.extra")...)
}

// States a crash can leave between the steps of one skill's move: the
// target skill dir made but empty, or holding some versions, with a
// version present in both places.
func TestUpgradeFinishesPartialMoves(t *testing.T) {
	state, _ := legacyState(t, "installed", "acme.other")
	skills := filepath.Join(state, "skills")
	// acme.echo: target made, nothing moved yet.
	if err := os.MkdirAll(filepath.Join(skills, "installed", "acme.echo"), 0o700); err != nil {
		t.Fatal(err)
	}
	// acme.other: moved, but a copy of the version stayed behind.
	if err := os.Rename(filepath.Join(skills, "acme.other"), filepath.Join(skills, "installed", "acme.other")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(skills, "acme.other", "1.0.0"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(skills, "acme.other", "1.0.0", "artifact.palyra-skill"), []byte("stale copy"))
	// installed: its subdir made, its version not moved into it yet.
	if err := os.MkdirAll(filepath.Join(skills, "installed", "installed"), 0o700); err != nil {
		t.Fatal(err)
	}
	assertUpgraded(t, state, "installed", "acme.other")
}

// Issue 11: a 0-byte journal was taken as an empty one, and recovery then
// deleted every installed skill. A journal that is empty, garbage or
// missing (with skills installed) is an error naming it, and Open touches
// nothing.
func TestOpenRefusesCorruptJournal(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"zero bytes", []byte{}, host.ErrJournalCorrupt},
		{"garbage", []byte(strings.Repeat("\x00garbage", 1000)), host.ErrJournalCorrupt},
		// Deleted: a fresh journal would name no skill, and recovery
		// would delete them all.
		{"missing", nil, host.ErrJournalMissing},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			h := openHost(t, state, host.Options{})
			in, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true})
			if err != nil {
				t.Fatal(err)
			}
			h.Close()
			journal := filepath.Join(state, "skills", "journal.sqlite3")
			if c.data == nil {
				err = os.Remove(journal)
			} else {
				err = os.WriteFile(journal, c.data, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, state)
			for range 2 {
				h, err := host.Open(ctx, state, host.Options{})
				if err == nil {
					h.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), journal) {
					t.Fatalf("Open: %v; want %v naming %s", err, c.want, journal)
				}
			}
			if after := snapshot(t, state); after != before {
				t.Errorf("a refused Open changed the state dir:\n%s\n---\n%s", before, after)
			}
			if _, err := os.Stat(filepath.Join(in.Dir, "artifact.palyra-skill")); err != nil {
				t.Errorf("installed skill gone: %v", err)
			}
		})
	}
}

// The state dir and what Open reads from it are refused when others can
// write them, the secrets dir also when they can read it: with a
// *PermissionError naming the path and its mode and saying how to fix it,
// and before anything changes. Each case makes a real state dir (its
// modes set explicitly, whatever the umask), loosens one path, and
// tightens it again to show that Open then succeeds.
func TestOpenRefusesInsecurePermissions(t *testing.T) {
	cases := []struct {
		path string // relative to the state dir, or "custom-cache"
		mode os.FileMode
		fix  os.FileMode
	}{
		{".", 0o770, 0o700},
		{".", 0o707, 0o755},
		{"skills", 0o775, 0o755},
		{"skills/installed", 0o777, 0o700},
		{"skills/.staging", 0o730, 0o700},
		{"policy.json", 0o664, 0o644},
		{"policy.json", 0o606, 0o600},
		{"skills/trust-store.json", 0o620, 0o600},
		{"skills/trust-revocations.json", 0o666, 0o644},
		{"skills/journal.sqlite3", 0o660, 0o600},
		{"cache", 0o777, 0o700},
		{"cache/wazero", 0o770, 0o700},
		{"custom-cache", 0o777, 0o755},
		{"secrets", 0o750, 0o700},
		{"secrets", 0o701, 0o700},
		{"secrets", 0o720, 0o700},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%o", c.path, c.mode), func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			opts := host.Options{}
			target := filepath.Join(state, c.path)
			if c.path == "custom-cache" {
				opts.CompilationCacheDir = filepath.Join(t.TempDir(), "cache")
				target = opts.CompilationCacheDir
			}
			h := openHost(t, state, opts)
			key := newKey(t)
			if _, err := h.Install(ctx, skillSpec{Key: key, Module: testskill.EchoModule("echo")}.File(t), host.InstallOptions{AllowTOFU: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Call(ctx, "acme.echo", "echo", nil); err != nil { // makes the cache
				t.Fatal(err)
			}
			if err := h.SetSecret(ctx, "global", "k", []byte("v")); err != nil { // makes the secrets dir
				t.Fatal(err)
			}
			if err := revokeOther(t, h); err != nil {
				t.Fatal(err)
			}
			h.Close()
			writeFile(t, filepath.Join(state, "policy.json"), []byte(`{}`))
			if err := os.Chmod(filepath.Join(state, "policy.json"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(target); err != nil {
				t.Fatalf("setup did not make %s: %v", target, err)
			}
			if err := os.Chmod(target, c.mode); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, state)
			_, err := host.Open(ctx, state, opts)
			var pe *host.PermissionError
			if !errors.Is(err, host.ErrInsecurePermissions) || !errors.As(err, &pe) {
				t.Fatalf("Open with %s mode %o: %v; want ErrInsecurePermissions", c.path, c.mode, err)
			}
			if pe.Path != target || pe.Mode.Perm() != c.mode || !strings.Contains(err.Error(), "chmod go-") || !strings.Contains(err.Error(), target) {
				t.Errorf("error %q (path %s, mode %v) should name %s, its mode %o and the chmod", err, pe.Path, pe.Mode, target, c.mode)
			}
			if after := snapshot(t, state); after != before {
				t.Errorf("a refused Open changed the state dir:\n%s\n---\n%s", before, after)
			}
			if err := os.Chmod(target, c.fix); err != nil {
				t.Fatal(err)
			}
			h = openHost(t, state, opts)
			if out, err := h.Call(ctx, "acme.echo", "echo", []byte("ok")); err != nil || string(out) != "ok" {
				t.Fatalf("call after the fix: %q %v", out, err)
			}
		})
	}
}

// With an explicit Policy, policy.json is not read, so its mode does not
// matter.
func TestPolicyFileModeIgnoredWhenNotRead(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(state, "policy.json"), []byte(`{}`))
	if err := os.Chmod(filepath.Join(state, "policy.json"), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Open(ctx, state, host.Options{}); !errors.Is(err, host.ErrInsecurePermissions) {
		t.Fatalf("Open reading a world-writable policy.json: %v", err)
	}
	openHost(t, state, host.Options{Policy: &host.Policy{}})
}

// revokeOther makes the state dir's trust-revocations.json by trusting a
// key for a publisher "other" and revoking it (a revoke names a key the
// store holds).
func revokeOther(t *testing.T, h *host.Host) error {
	t.Helper()
	pub := newKey(t).Public().(ed25519.PublicKey)
	if err := h.TrustStore().AddTrusted(ctx, "other", pub); err != nil {
		t.Fatal(err)
	}
	return h.TrustStore().Revoke(ctx, "other", host.KeyID(pub))
}
