package host

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/audit"
	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/trust"
)

// Install errors callers tell apart with errors.Is.
var (
	// ErrAuditFailed: the static audit found a failing check.
	ErrAuditFailed = errors.New("audit failed")
	// ErrIncompatible: the skill's [compat] range excludes this host.
	ErrIncompatible = manifest.ErrIncompatible
	// ErrDowngrade: an older version than the installed one, without
	// InstallOptions.AllowDowngrade.
	ErrDowngrade = errors.New("downgrade refused")
	// ErrVersionConflict: the installed version has different content.
	ErrVersionConflict = errors.New("version already installed with different content")
)

// AuditError is an install or enable refused by the static audit. Report
// holds every check; Failures the failed ones, each naming what it is about.
type AuditError struct {
	SkillID, Version string
	Report           *AuditReport
}

func (e *AuditError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %v:", e.SkillID, e.Version, ErrAuditFailed)
	for _, c := range e.Report.Failures() {
		fmt.Fprintf(&b, " [%s] %s;", c.CheckID, c.Message)
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (e *AuditError) Unwrap() error { return ErrAuditFailed }

// AuditReport is the static audit of one artifact (Palyra's
// SkillSecurityAuditReport).
type AuditReport = audit.Report

// InstallOptions control Install.
type InstallOptions struct {
	// AllowTOFU lets an unknown publisher's key be pinned on first use.
	AllowTOFU bool
	// AllowDowngrade installs a version older than the installed one, or
	// replaces the installed version with different content.
	AllowDowngrade bool
	// Principal is recorded in the journal as who installed.
	Principal string
	// GrantRequested grants every capability the manifest requests except
	// shared secrets (scopes global, principal:ID, channel:ID): only the
	// skill's own skill:ID secrets. Installed.Withheld lists the shared
	// secrets left out; name them in Grants to grant them too.
	GrantRequested bool
	// Grants, if not nil, are the capabilities granted (a subset of those
	// requested; with GrantRequested, in addition). With neither, an
	// upgrade keeps the previous version's grants that the new version
	// still requests; a first install gets none.
	Grants *Grants
}

// Installed describes a skill version Install put in service.
type Installed struct {
	SkillID        string        `json:"skill_id"`
	Version        string        `json:"version"`
	Publisher      string        `json:"publisher"`
	State          string        `json:"state"`
	TrustDecision  TrustDecision `json:"trust_decision"`
	KeyID          string        `json:"key_id"`
	PayloadSHA256  string        `json:"payload_sha256"`
	ArtifactSHA256 string        `json:"artifact_sha256"`
	Dir            string        `json:"dir"`
	// Replaced is the version this install took over from, if any; it
	// equals Version for a reinstall.
	Replaced string `json:"replaced,omitempty"`
	// Warnings are the audit's non-failing findings, and what of the
	// operator's config keeps the skill from running (a value this version
	// no longer accepts, a required property with no value).
	Warnings []string `json:"warnings,omitempty"`
	// Granted are the capabilities granted; Denied those requested but not
	// granted (calls that need them fail).
	Granted Grants   `json:"granted"`
	Denied  []string `json:"denied,omitempty"`
	// Withheld are the requested shared secrets (global, principal:ID,
	// channel:ID) not granted, which GrantRequested never grants: they
	// are granted by name only (Grants, Host.SetGrants).
	Withheld []SecretAccess `json:"withheld,omitempty"`
}

// Install verifies the artifact at path, audits it, checks its [compat]
// range and the installed version, then extracts it to
// <state>/skills/installed/<skill_id>/<version>/ and records it eligible.
//
// Everything is checked before anything is written: a refused artifact
// leaves no files and no trust-store change (a refusal after verification
// is recorded in the journal as a note). The extraction is staged in a
// temporary directory on the same filesystem, fsynced and renamed into
// place, and the journal records the install in one transaction; a crash
// at any point leaves the old version in service or the new one (see Open).
func (h *Host) Install(ctx context.Context, artifactPath string, opts InstallOptions) (*Installed, error) {
	data, err := readArtifactFile(artifactPath)
	if err != nil {
		return nil, err
	}
	a, err := artifact.OpenBytes(ctx, data, nil)
	if err != nil {
		return nil, err
	}
	var out *Installed
	err = h.withInstallLock(ctx, func(ctx context.Context) error {
		out, err = h.install(ctx, data, a, opts)
		return err
	})
	return out, err
}

func (h *Host) install(ctx context.Context, data []byte, a *artifact.Artifact, opts InstallOptions) (*Installed, error) {
	m := a.Manifest
	id, version := m.SkillID, m.Version
	principal := h.principal(opts.Principal)
	pub := ed25519.PublicKey(a.PublicKey)
	dopts := trust.DecideOptions{AllowTOFU: opts.AllowTOFU}
	decision, err := h.trust.Evaluate(ctx, m.Publisher, pub, dopts)
	if err != nil {
		return nil, err
	}
	artifactSHA := artifact.SHA256Hex(data)

	// From here on the artifact is authentic; refusals are decisions worth
	// a journal note.
	refuse := func(err error) (*Installed, error) {
		h.note(ctx, id, version, "install_refused", err.Error(), principal)
		return nil, err
	}
	prev, err := h.journal.Current(ctx, id)
	switch {
	case errors.Is(err, journal.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if err := checkUpgrade(prev, version, a.PayloadSHA256, opts.AllowDowngrade); err != nil {
			return refuse(err)
		}
	}
	if err := manifest.CheckCompat(m.Compat, ProtocolMajor, Version); err != nil {
		return refuse(fmt.Errorf("%s %s: %w", id, version, err))
	}
	grants, err := h.grantsForInstall(ctx, m, prev, opts)
	if err != nil {
		return refuse(err)
	}
	grantsJSON, _ := json.Marshal(grants)
	report, err := h.audit(ctx, a, decision, true, h.loadVulnFeed(ctx))
	if err != nil {
		return nil, err
	}
	if !report.Passed {
		return refuse(&AuditError{SkillID: id, Version: version, Report: report})
	}

	stage, err := h.stage(a, data)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage) // a no-op once renamed into place
	h.crash("staged")

	// Only now, with everything checked, may a new key be pinned.
	if decision, err = h.trust.Decide(ctx, m.Publisher, pub, dopts); err != nil {
		return nil, err
	}
	h.crash("pinned")

	if err := h.moveIntoPlace(stage, id, version); err != nil {
		return nil, err
	}
	h.crash("renamed")

	warnings := auditWarnings(report)
	details, _ := json.Marshal(map[string]any{"audit_warnings": warnings})
	reason := "installed by " + principal
	st, err := h.journal.Record(ctx, journal.Install{
		SkillID: id, Version: version, Publisher: m.Publisher, KeyID: a.KeyID,
		ArtifactSHA256: artifactSHA, PayloadSHA256: a.PayloadSHA256, TrustDecision: string(decision),
		Reason: reason, Principal: principal, Details: details, Grants: grantsJSON,
		Then: []journal.Change{
			{To: journal.StateVerified, Reason: "signature, integrity and trust (" + string(decision) + ") checked", Principal: principal},
			{To: journal.StateEligible, Reason: "static audit and compat check passed", Principal: principal},
		},
	})
	if err != nil {
		// The journal still names the old version; recovery removes the
		// new directory.
		return nil, err
	}
	h.crash("recorded")
	if err := h.removeOtherVersions(id, version); err != nil {
		h.log.Warn("old versions not removed; the next open will", "skill", id, "err", err)
	}
	h.log.Info("installed", "skill", id, "version", version, "decision", decision, "principal", principal)

	out := &Installed{
		SkillID: id, Version: version, Publisher: m.Publisher, State: string(st.State),
		TrustDecision: decision, KeyID: a.KeyID, PayloadSHA256: a.PayloadSHA256,
		ArtifactSHA256: artifactSHA, Dir: h.versionDir(id, version),
	}
	if prev.Version != "" && prev.State != journal.StateRemoved {
		out.Replaced = prev.Version
	}
	out.Warnings = append(warnings, h.configProblems(ctx, st, m)...) // config.go
	out.Granted, out.Denied = grants, grants.denied(Requested(m))
	if w := withheld(m, grants); len(w) > 0 {
		out.Withheld = w
	}
	h.invalidate(id)
	return out, nil
}

func auditWarnings(r *AuditReport) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == audit.StatusWarn {
			out = append(out, fmt.Sprintf("[%s] %s", c.CheckID, c.Message))
		}
	}
	return out
}

// checkUpgrade enforces rollback protection: versions only go up per skill
// id, and a version's content never changes, unless forced.
func checkUpgrade(prev journal.Status, version, payload string, force bool) error {
	if prev.State == journal.StateRemoved || force {
		return nil
	}
	c, err := manifest.CompareVersions(version, prev.Version)
	if err != nil {
		return err
	}
	switch {
	case c < 0:
		return fmt.Errorf("%s %s is older than the installed %s (use --allow-downgrade): %w",
			prev.SkillID, version, prev.Version, ErrDowngrade)
	case c == 0 && payload != prev.PayloadSHA256:
		return fmt.Errorf("%s %s: payload %s, installed payload %s: %w",
			prev.SkillID, version, payload, prev.PayloadSHA256, ErrVersionConflict)
	}
	return nil
}

// audit runs the static audit; trusted says whether the signature was
// checked against the trust store and accepted, feed is the operation's
// vulnerability feed.
func (h *Host) audit(ctx context.Context, a *artifact.Artifact, d TrustDecision, trusted bool, feed vulnFeed) (*AuditReport, error) {
	return audit.Audit(ctx, audit.Input{
		Manifest: a.Manifest, Files: a.Files, SignatureVerified: trusted,
		TrustDecision: string(d), PayloadSHA256: a.PayloadSHA256,
		VulnerabilityFeed: feed.feed, VulnerabilityFeedError: feed.err,
	}, h.auditPolicy())
}

// stage writes the artifact's checked entries and a copy of the artifact
// into a fresh directory under .staging, through an os.Root so that no
// entry can land outside it, and fsyncs every file and directory.
func (h *Host) stage(a *artifact.Artifact, data []byte) (dir string, err error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	dir = filepath.Join(h.stagingDir(), "new-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			dir = ""
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	files := append([]artifact.File{{Path: artifactCopyName, Data: data}}, a.Files...)
	dirs := map[string]bool{".": true}
	for _, f := range files {
		d := path.Dir(f.Path)
		if !dirs[d] {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return "", fmt.Errorf("stage %s: %w", f.Path, err)
			}
			dirs[d] = true
		}
		if err := writeSynced(root, f.Path, f.Data); err != nil {
			return "", fmt.Errorf("stage %s: %w", f.Path, err)
		}
	}
	for d := range dirs {
		if err := atomicfile.SyncDir(filepath.Join(dir, filepath.FromSlash(d))); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func writeSynced(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// moveIntoPlace renames a staged directory to
// <state>/skills/installed/<id>/<version>. A directory already there (a
// reinstall of the same version) is first moved aside into .staging as
// "old-<id>@<version>", which recovery puts back if a crash comes between
// the two renames.
func (h *Host) moveIntoPlace(stage, id, version string) error {
	if err := os.MkdirAll(h.skillDir(id), 0o700); err != nil {
		return err
	}
	target := h.versionDir(id, version)
	aside := filepath.Join(h.stagingDir(), asideName(id, version))
	if _, err := os.Lstat(target); err == nil {
		os.RemoveAll(aside)
		if err := os.Rename(target, aside); err != nil {
			return err
		}
		h.crash("moved-aside")
	}
	if err := os.Rename(stage, target); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(h.skillDir(id)); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(h.stagingDir()); err != nil {
		return err
	}
	return os.RemoveAll(aside)
}

func asideName(id, version string) string { return "old-" + id + "@" + version }

// removeOtherVersions deletes every version directory of id but keep.
func (h *Host) removeOtherVersions(id, keep string) error {
	entries, err := os.ReadDir(h.skillDir(id))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(h.skillDir(id), e.Name())); err != nil {
				return err
			}
		}
	}
	return atomicfile.SyncDir(h.skillDir(id))
}

// note records a decision that changes no state; failing to record it must
// not hide the decision itself, so errors are only logged.
func (h *Host) note(ctx context.Context, id, version, kind, reason, principal string) {
	if err := h.journal.Note(ctx, journal.Note{SkillID: id, Version: version, Kind: kind, Reason: reason, Principal: principal}); err != nil {
		h.log.Warn("journal note failed", "skill", id, "kind", kind, "err", err)
	}
}
