package host_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/host"
)

var ctx = context.Background()

// tree lists every file under dir (relative, sorted), ignoring the state
// files that exist from Open on.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		base := filepath.Base(rel)
		if strings.HasPrefix(base, "journal.sqlite3") || strings.HasSuffix(base, ".lock") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out
}

func TestInstallListInfo(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	in, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true, Principal: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	if in.State != "eligible" || in.TrustDecision != host.TofuNewlyPinned || in.Replaced != "" {
		t.Fatalf("install: %+v", in)
	}
	for _, f := range []string{"skill.toml", "modules/echo.wasm", "signature.json", "sbom.cdx.json", "provenance.json", "artifact.palyra-skill"} {
		if _, err := os.Stat(filepath.Join(in.Dir, f)); err != nil {
			t.Errorf("installed dir lacks %s: %v", f, err)
		}
	}
	list, err := h.List(ctx)
	if err != nil || len(list) != 1 || list[0].State != host.StateEligible || list[0].SkillID != "acme.echo" {
		t.Fatalf("list: %+v %v", list, err)
	}
	info, err := h.Info(ctx, "acme.echo")
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, e := range info.Events {
		if e.From != e.To {
			path = append(path, string(e.To))
		}
	}
	if strings.Join(path, ",") != "installed,verified,eligible" || info.Events[1].Kind != "grants" || info.Manifest == nil || info.Events[0].Principal != "operator:test" {
		t.Fatalf("info: %+v", info)
	}
	if _, err := h.Info(ctx, "acme.nothing"); !errors.Is(err, host.ErrNotInstalled) {
		t.Fatalf("info of unknown skill: %v", err)
	}
}

func TestInstallRefusalsLeaveNoTrace(t *testing.T) {
	golden, err := os.ReadFile("../testdata/palyra-v1/golden.palyra-skill")
	if err != nil {
		t.Fatal(err)
	}
	unknownImport := moduleWith([]string{"echo"}, &wasm.Import{Type: wasm.ExternTypeFunc, Module: "env", Name: "steal", DescFunc: 1})
	tests := []struct {
		name   string
		file   func(t testing.TB) string
		want   error
		naming string // the finding must name this
	}{
		{"golden vector: tool not exported", func(t testing.TB) string {
			p := filepath.Join(t.TempDir(), "golden.palyra-skill")
			os.WriteFile(p, golden, 0o644)
			return p
		}, host.ErrAuditFailed, "echo"},
		{"missing tool export", skillSpec{Module: goodModule("other")}.File, host.ErrAuditFailed, "echo"},
		{"unknown host function", skillSpec{Module: unknownImport}.File, host.ErrAuditFailed, "env"},
		{"memory over quota", skillSpec{Memory: 65536, Module: func() []byte {
			return moduleWithMemory(goodModule("echo"), 4)
		}()}.File, host.ErrAuditFailed, "memory"},
		{"needs a newer host", skillSpec{MinHost: "9.0.0"}.File, host.ErrIncompatible, "9.0.0"},
		{"not an artifact", func(t testing.TB) string {
			p := filepath.Join(t.TempDir(), "x.palyra-skill")
			os.WriteFile(p, []byte("PK junk"), 0o644)
			return p
		}, host.ErrMalformedArchive, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			h := openHost(t, state, host.Options{})
			before := tree(t, state)
			_, err := h.Install(ctx, tt.file(t), host.InstallOptions{AllowTOFU: true})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Errorf("error does not name %q: %v", tt.naming, err)
			}
			if after := tree(t, state); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Fatalf("refused install left files: %v (before %v)", after, before)
			}
			if list, _ := h.List(ctx); len(list) != 0 {
				t.Fatalf("refused install listed: %+v", list)
			}
		})
	}
}

// moduleWithMemory rewrites the memory minimum of an encoded test module by
// rebuilding it: simpler to re-encode than to patch bytes.
func moduleWithMemory(_ []byte, minPages uint32) []byte {
	m := moduleWith([]string{"echo"})
	// The memory section is the only place the byte pattern 0x05 0x04 0x01
	// 0x01 0x10 (section 5, size 4, one memory, flags 1, min 1) occurs.
	i := strings.Index(string(m), "\x05\x04\x01\x01\x01\x10")
	if i < 0 {
		panic("memory section not found")
	}
	m[i+4] = byte(minPages)
	return m
}

func TestUpgradeDowngradeAndConflicts(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	key := newKey(t)
	install := func(version string, opts host.InstallOptions, module ...byte) (*host.Installed, error) {
		s := skillSpec{Version: version, Key: key}
		if module != nil {
			s.Module = module
		}
		opts.AllowTOFU = true
		return h.Install(ctx, s.File(t), opts)
	}
	if _, err := install("1.0.0", host.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	in, err := install("1.2.0", host.InstallOptions{})
	if err != nil || in.Replaced != "1.0.0" {
		t.Fatalf("upgrade: %+v %v", in, err)
	}
	if got := tree(t, filepath.Join(state, "skills", "installed", "acme.echo")); len(got) == 0 || !strings.HasPrefix(got[0], "1.2.0/") {
		t.Fatalf("after upgrade the skill dir holds %v", got)
	}
	for _, f := range tree(t, filepath.Join(state, "skills", "installed", "acme.echo")) {
		if !strings.HasPrefix(f, "1.2.0/") {
			t.Fatalf("old version left behind: %s", f)
		}
	}
	if _, err := install("1.1.0", host.InstallOptions{}); !errors.Is(err, host.ErrDowngrade) {
		t.Fatalf("downgrade: %v", err)
	}
	// Same version, different content.
	if _, err := install("1.2.0", host.InstallOptions{}, goodModule("echo", "extra")...); !errors.Is(err, host.ErrVersionConflict) {
		t.Fatalf("same version, other content: %v", err)
	}
	if in, err := install("1.1.0", host.InstallOptions{AllowDowngrade: true}); err != nil || in.Replaced != "1.2.0" {
		t.Fatalf("forced downgrade: %+v %v", in, err)
	}
	// The refusals are in the journal.
	info, _ := h.Info(ctx, "acme.echo")
	refused := 0
	for _, e := range info.Events {
		if e.Kind == "install_refused" {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("journal holds %d refusals, want 2: %+v", refused, info.Events)
	}
}

func TestCheckQuarantinesAndEnableNeedsReinstall(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	path := skillSpec{}.File(t)
	in, err := h.Install(ctx, path, host.InstallOptions{AllowTOFU: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := h.Check(ctx, "")
	if err != nil || rep.Quarantined != 0 || len(rep.Skills) != 1 || len(rep.Skills[0].Reasons) != 0 {
		t.Fatalf("clean check: %+v %v", rep, err)
	}

	mod := filepath.Join(in.Dir, "modules", "echo.wasm")
	f, _ := os.OpenFile(mod, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	rep, err = h.Check(ctx, "")
	if err != nil || rep.Quarantined != 1 || !rep.Skills[0].Quarantined ||
		!strings.Contains(strings.Join(rep.Skills[0].Reasons, ";"), "modules/echo.wasm modified on disk") {
		t.Fatalf("check after tamper: %+v %v", rep, err)
	}
	list, _ := h.List(ctx)
	if list[0].State != host.StateQuarantined || !strings.Contains(list[0].Reason, "modified on disk") {
		t.Fatalf("list after quarantine: %+v", list)
	}
	// A second check reports it without quarantining again.
	if rep, err := h.Check(ctx, ""); err != nil || rep.Quarantined != 0 || rep.Skills[0].State != host.StateQuarantined {
		t.Fatalf("second check: %+v %v", rep, err)
	}
	if err := h.Enable(ctx, "acme.echo", ""); !errors.Is(err, host.ErrRecheckFailed) {
		t.Fatalf("enable of a tampered skill: %v", err)
	}
	if _, err := h.Install(ctx, path, host.InstallOptions{}); err != nil {
		t.Fatalf("reinstall: %v", err)
	}
	if list, _ := h.List(ctx); list[0].State != host.StateEligible {
		t.Fatalf("after reinstall: %+v", list)
	}

	// An operator quarantine of an intact skill can be lifted by enable.
	if err := h.Quarantine(ctx, "acme.echo", "investigating", "operator:test"); err != nil {
		t.Fatal(err)
	}
	if err := h.Quarantine(ctx, "acme.echo", "again", ""); !errors.Is(err, host.ErrInvalidTransition) {
		t.Fatalf("double quarantine: %v", err)
	}
	if err := h.Enable(ctx, "acme.echo", "operator:test"); err != nil {
		t.Fatalf("enable of an intact skill: %v", err)
	}
	if list, _ := h.List(ctx); list[0].State != host.StateEligible {
		t.Fatalf("after enable: %+v", list)
	}
}

func TestRevokedOrRemovedKeyQuarantines(t *testing.T) {
	for _, how := range []string{"revoke", "remove"} {
		t.Run(how, func(t *testing.T) {
			h := openHost(t, t.TempDir(), host.Options{})
			key := newKey(t)
			if _, err := h.Install(ctx, skillSpec{Key: key}.File(t), host.InstallOptions{AllowTOFU: true}); err != nil {
				t.Fatal(err)
			}
			keyID := host.KeyID(key.Public().(ed25519.PublicKey))
			var err error
			if how == "revoke" {
				err = h.TrustStore().Revoke(ctx, "acme", keyID)
			} else {
				err = h.TrustStore().Remove(ctx, "acme", keyID)
			}
			if err != nil {
				t.Fatal(err)
			}
			rep, err := h.Check(ctx, "")
			if err != nil || rep.Quarantined != 1 || !strings.Contains(strings.Join(rep.Skills[0].Reasons, ";"), "no longer trusted") {
				t.Fatalf("check after %s: %+v %v", how, rep, err)
			}
			if err := h.Enable(ctx, "acme.echo", ""); !errors.Is(err, host.ErrRecheckFailed) {
				t.Fatalf("enable after %s: %v", how, err)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	key := newKey(t)
	in, err := h.Install(ctx, skillSpec{Key: key}.File(t), host.InstallOptions{AllowTOFU: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(ctx, "acme.echo", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(in.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("files left after remove: %v", err)
	}
	if list, _ := h.List(ctx); len(list) != 0 {
		t.Fatalf("listed after remove: %+v", list)
	}
	if err := h.Remove(ctx, "acme.echo", ""); !errors.Is(err, host.ErrNotInstalled) {
		t.Fatalf("second remove: %v", err)
	}
	// Removal keeps the publisher's pin, and lifts rollback protection:
	// an older version may be installed again.
	if _, err := h.Install(ctx, skillSpec{Version: "0.9.0"}.File(t), host.InstallOptions{AllowTOFU: true}); !errors.Is(err, host.ErrKeyMismatch) {
		t.Fatalf("a different key for the pinned publisher: %v", err)
	}
	if _, err := h.Install(ctx, skillSpec{Version: "0.9.0", Key: key}.File(t), host.InstallOptions{}); err != nil {
		t.Fatalf("older version after remove: %v", err)
	}
}

func TestCheckEveryReportsQuarantines(t *testing.T) {
	h := openHost(t, t.TempDir(), host.Options{})
	in, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(in.Dir, "sbom.cdx.json"))
	got := make(chan host.CheckResult, 1)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.CheckEvery(cctx, 10*time.Millisecond, func(r host.CheckResult) { got <- r }) }()
	select {
	case r := <-got:
		if r.SkillID != "acme.echo" || !strings.Contains(strings.Join(r.Reasons, ";"), "sbom.cdx.json missing") {
			t.Fatalf("callback got %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no quarantine reported")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckEvery returned %v", err)
	}
}
