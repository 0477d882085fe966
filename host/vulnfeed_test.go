package host_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
)

// advisory is a Go vulndb record for example.com/vulnerable below v1.5.0.
const advisory = `{
  "schema_version": "1.3.1",
  "id": "GO-2099-0001",
  "modified": "2099-01-01T00:00:00Z",
  "aliases": ["CVE-2099-0001"],
  "summary": "Request smuggling in example.com/vulnerable",
  "affected": [{
    "package": {"name": "example.com/vulnerable", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]}]
  }]
}`

// The bug: the feed hook matched nothing. Now an advisory published after
// the install quarantines the skill at the next check, with the advisory in
// the journal's reason, and refuses installs and enables while it stands.
func TestCheckQuarantinesOnNewAdvisory(t *testing.T) {
	state := t.TempDir()
	feedDir := filepath.Join(state, "feeds", "osv")
	if err := os.MkdirAll(feedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A relative feed path is the state dir's.
	policy := &host.Policy{Audit: &host.AuditPolicy{VulnerabilityFeedHook: "feeds/osv"}}
	h := openHost(t, state, host.Options{Policy: policy})
	key := newKey(t)
	spec := skillSpec{Key: key, GoModules: []string{"example.com/vulnerable@v1.4.9", "stdlib@go1.26.0"}}
	in, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true})
	if err != nil {
		t.Fatalf("install with an empty feed: %v", err)
	}
	if rep, err := h.Check(ctx, ""); err != nil || rep.Quarantined != 0 {
		t.Fatalf("check before the advisory: %+v, %v", rep, err)
	}

	writeFile(t, filepath.Join(feedDir, "GO-2099-0001.json"), []byte(advisory))
	rep, err := h.Check(ctx, "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Quarantined != 1 || len(rep.Skills) != 1 || rep.Skills[0].State != host.StateQuarantined {
		t.Fatalf("check after the advisory: %+v", rep)
	}
	info, err := h.Info(ctx, in.SkillID)
	if err != nil {
		t.Fatal(err)
	}
	reason := info.Status.Reason
	t.Logf("journal reason: %s", reason)
	for _, w := range []string{"vulnerability_feed_hook", "example.com/vulnerable v1.4.9", "GO-2099-0001", "CVE-2099-0001", "fixed in v1.5.0"} {
		if !strings.Contains(reason, w) {
			t.Errorf("journal reason %q lacks %q", reason, w)
		}
	}
	if err := h.Enable(ctx, in.SkillID, ""); !errors.Is(err, host.ErrRecheckFailed) || !strings.Contains(err.Error(), "GO-2099-0001") {
		t.Errorf("enable with the advisory standing: %v", err)
	}

	// A new version still on the vulnerable module is refused; one on
	// the fixed version installs.
	spec.Version = "1.1.0"
	var aerr *host.AuditError
	if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{}); !errors.As(err, &aerr) || !strings.Contains(err.Error(), "GO-2099-0001") {
		t.Fatalf("install of a vulnerable version: %v", err)
	}
	spec.Version, spec.GoModules = "1.2.0", []string{"example.com/vulnerable@v1.5.0"}
	if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{}); err != nil {
		t.Fatalf("install of the fixed version: %v", err)
	}
}

// A configured feed that cannot be read fails the audit naming it: an
// install is refused rather than passed unchecked.
func TestBrokenFeedFailsInstall(t *testing.T) {
	state := t.TempDir()
	feed := filepath.Join(t.TempDir(), "osv")
	policy := &host.Policy{Audit: &host.AuditPolicy{VulnerabilityFeedHook: feed}}
	h := openHost(t, state, host.Options{Policy: policy})
	_, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true})
	if !errors.Is(err, host.ErrAuditFailed) || !strings.Contains(err.Error(), feed) {
		t.Fatalf("install with a missing feed: %v", err)
	}
	if err := os.MkdirAll(feed, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(feed, "GO-2099-0001.json"), []byte(advisory[:40]))
	_, err = h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true})
	if !errors.Is(err, host.ErrAuditFailed) || !strings.Contains(err.Error(), "GO-2099-0001.json") {
		t.Fatalf("install with a corrupt feed: %v", err)
	}
	writeFile(t, filepath.Join(feed, "GO-2099-0001.json"), []byte(advisory))
	inst, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true})
	if err != nil {
		t.Fatalf("install once the feed loads: %v", err)
	}

	// A feed that breaks after the install fails the check as a whole:
	// the installed skill is not quarantined for it.
	writeFile(t, filepath.Join(feed, "GO-2099-0001.json"), []byte(advisory[:40]))
	if _, err := h.Check(ctx, ""); err == nil || !strings.Contains(err.Error(), "GO-2099-0001.json") {
		t.Fatalf("check with a corrupt feed: %v", err)
	}
	info, err := h.Info(ctx, inst.SkillID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.State != host.StateEligible {
		t.Fatalf("after a check with a corrupt feed the skill is %s, want eligible", info.Status.State)
	}
}
