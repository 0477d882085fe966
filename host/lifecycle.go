package host

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/trust"
)

// State is where an installed skill stands: installed, verified, eligible
// (the only state that runs), quarantined or removed.
type State = journal.State

// The lifecycle states.
const (
	StateInstalled   = journal.StateInstalled
	StateVerified    = journal.StateVerified
	StateEligible    = journal.StateEligible
	StateQuarantined = journal.StateQuarantined
	StateRemoved     = journal.StateRemoved
)

// ErrNotInstalled: no version of the skill is installed.
var ErrNotInstalled = errors.New("skill not installed")

// ErrInvalidTransition: the lifecycle does not allow the change asked for
// (e.g. quarantining a skill that already is).
var ErrInvalidTransition = journal.ErrInvalidTransition

// SkillStatus is the journal's row for an installed skill version.
type SkillStatus struct {
	SkillID           string `json:"skill_id"`
	Version           string `json:"version"`
	State             State  `json:"state"`
	Reason            string `json:"reason,omitempty"`
	Publisher         string `json:"publisher"`
	KeyID             string `json:"key_id"`
	TrustDecision     string `json:"trust_decision"`
	PayloadSHA256     string `json:"payload_sha256"`
	ArtifactSHA256    string `json:"artifact_sha256"`
	OperatorPrincipal string `json:"operator_principal,omitempty"`
	DetectedAtUnixMS  int64  `json:"detected_at_ms"`
	CreatedAtUnixMS   int64  `json:"created_at_unix_ms"`
	UpdatedAtUnixMS   int64  `json:"updated_at_unix_ms"`
}

func statusOf(st journal.Status) SkillStatus {
	return SkillStatus{
		SkillID: st.SkillID, Version: st.Version, State: st.State, Reason: st.Reason,
		Publisher: st.Publisher, KeyID: st.KeyID, TrustDecision: st.TrustDecision,
		PayloadSHA256: st.PayloadSHA256, ArtifactSHA256: st.ArtifactSHA256,
		OperatorPrincipal: st.OperatorPrincipal, DetectedAtUnixMS: st.DetectedAt.UnixMilli(),
		CreatedAtUnixMS: st.CreatedAt.UnixMilli(), UpdatedAtUnixMS: st.UpdatedAt.UnixMilli(),
	}
}

// List returns the current version of every installed skill, by skill id.
func (h *Host) List(ctx context.Context) ([]SkillStatus, error) {
	sts, err := h.journal.List(ctx)
	if err != nil {
		return nil, err
	}
	cur := map[string]SkillStatus{}
	for _, st := range sts {
		c, err := h.journal.Current(ctx, st.SkillID)
		if err == nil && c.Version == st.Version {
			cur[st.SkillID] = statusOf(st)
		}
	}
	out := make([]SkillStatus, 0, len(cur))
	for _, s := range cur {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SkillID < out[j].SkillID })
	return out, nil
}

// SkillEvent is one journal entry of a skill's history.
type SkillEvent struct {
	AtUnixMS  int64  `json:"at_unix_ms"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	From      State  `json:"from,omitempty"`
	To        State  `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Principal string `json:"principal"`
}

// SkillInfo is everything the host knows about an installed skill.
type SkillInfo struct {
	Status   SkillStatus  `json:"status"`
	Manifest *Manifest    `json:"manifest"`
	Dir      string       `json:"dir"`
	Events   []SkillEvent `json:"events"`
}

// Info describes the current version of an installed skill and its history.
func (h *Host) Info(ctx context.Context, skillID string) (*SkillInfo, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return nil, err
	}
	info := &SkillInfo{Status: statusOf(st), Dir: h.versionDir(st.SkillID, st.Version)}
	if data, err := os.ReadFile(filepath.Join(info.Dir, artifact.ManifestPath)); err == nil {
		info.Manifest, _ = manifest.Parse(data)
	}
	evs, err := h.journal.Events(ctx, skillID)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		info.Events = append(info.Events, SkillEvent{
			AtUnixMS: e.At.UnixMilli(), Version: e.Version, Kind: e.Kind,
			From: e.From, To: e.To, Reason: e.Reason, Principal: e.Principal,
		})
	}
	return info, nil
}

func (h *Host) current(ctx context.Context, skillID string) (journal.Status, error) {
	st, err := h.journal.Current(ctx, skillID)
	if errors.Is(err, journal.ErrNotFound) {
		return st, fmt.Errorf("%s: %w", skillID, ErrNotInstalled)
	}
	return st, err
}

// Quarantine takes the current version of a skill out of service.
func (h *Host) Quarantine(ctx context.Context, skillID, reason, principal string) error {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return err
	}
	if reason == "" {
		return errors.New("quarantine: a reason is required")
	}
	_, err = h.journal.Transition(ctx, st.SkillID, st.Version, journal.Change{
		To: journal.StateQuarantined, Reason: reason, Principal: h.principal(principal),
	})
	if err == nil {
		h.invalidate(skillID)
		h.log.Warn("quarantined", "skill", skillID, "version", st.Version, "reason", reason)
	}
	return err
}

// Enable returns a quarantined skill to service, only after a fresh
// verification (artifact, trust store, files on disk) and audit pass; it
// fails with the reasons otherwise, and the skill must be reinstalled.
func (h *Host) Enable(ctx context.Context, skillID, principal string) error {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return err
	}
	if st.State == journal.StateEligible {
		return nil
	}
	if reasons := h.recheck(ctx, st, h.loadVulnFeed(ctx)); len(reasons) > 0 {
		return fmt.Errorf("%s %s stays %s: %s (reinstall it): %w", skillID, st.Version, st.State,
			strings.Join(reasons, "; "), ErrRecheckFailed)
	}
	_, err = h.journal.Transition(ctx, st.SkillID, st.Version, journal.Change{
		To: journal.StateEligible, Reason: "enabled after a fresh verify and audit", Principal: h.principal(principal), Reverified: true,
	})
	return err
}

// ErrRecheckFailed: a fresh verify + audit of an installed skill failed.
var ErrRecheckFailed = errors.New("re-verification failed")

// Remove takes a skill out of the journal's service and deletes its files.
// Its history stays in the journal.
func (h *Host) Remove(ctx context.Context, skillID, principal string) error {
	return h.withInstallLock(ctx, func(ctx context.Context) error {
		if _, err := h.current(ctx, skillID); err != nil {
			return err
		}
		if err := h.journal.Remove(ctx, skillID, h.principal(principal)); err != nil {
			return err
		}
		h.invalidate(skillID)
		// A crash here leaves files recovery deletes on the next Open.
		return os.RemoveAll(h.skillDir(skillID))
	})
}

// CheckResult is the re-check of one installed skill.
type CheckResult struct {
	SkillID string `json:"skill_id"`
	Version string `json:"version"`
	State   State  `json:"state"`
	// Reasons are what failed; empty when the skill passed.
	Reasons []string `json:"reasons,omitempty"`
	// Quarantined is true when this check took the skill out of service.
	Quarantined bool `json:"quarantined"`
}

// CheckReport is the result of Check.
type CheckReport struct {
	Skills []CheckResult `json:"skills"`
	// Quarantined counts the skills this check quarantined.
	Quarantined int `json:"quarantined"`
}

// Check re-verifies every installed skill against the trust store as it is
// now, compares its files on disk with its artifact, and re-audits it with
// the current policy and vulnerability feed (read afresh, once per check,
// so an advisory published since the install is matched). Anything that
// fails is quarantined with the reason; skills already quarantined stay so
// and are reported with their reason. A vulnerability feed that is
// configured but does not load fails the whole check before it changes
// anything: one bad record upstream must not take every skill out of
// service (installs still refuse to proceed without the feed).
func (h *Host) Check(ctx context.Context, principal string) (*CheckReport, error) {
	feed := h.loadVulnFeed(ctx)
	if feed.err != nil {
		return nil, fmt.Errorf("host: check: %w (nothing was checked or quarantined)", feed.err)
	}
	list, err := h.List(ctx)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Skills: []CheckResult{}}
	for _, s := range list {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := h.journal.Get(ctx, s.SkillID, s.Version)
		if err != nil {
			return nil, err
		}
		res := CheckResult{SkillID: st.SkillID, Version: st.Version, State: st.State}
		if st.State == journal.StateQuarantined {
			res.Reasons = []string{st.Reason}
			rep.Skills = append(rep.Skills, res)
			continue
		}
		res.Reasons = h.recheck(ctx, st, feed)
		if len(res.Reasons) > 0 {
			reason := strings.Join(res.Reasons, "; ")
			_, err := h.journal.Transition(ctx, st.SkillID, st.Version, journal.Change{
				To: journal.StateQuarantined, Reason: reason, Principal: h.principal(principal),
			})
			switch {
			case err == nil:
				h.invalidate(st.SkillID)
				res.State, res.Quarantined = journal.StateQuarantined, true
				rep.Quarantined++
				h.log.Warn("quarantined by check", "skill", st.SkillID, "version", st.Version, "reason", reason)
			case errors.Is(err, journal.ErrInvalidTransition):
				// Another process quarantined it meanwhile.
				res.State = journal.StateQuarantined
			default:
				return nil, err
			}
		}
		rep.Skills = append(rep.Skills, res)
	}
	return rep, nil
}

// CheckEvery runs Check every interval until ctx is done, calling
// onQuarantine (if not nil) for each skill a run quarantines, and returns
// ctx's error. A failing run is logged and retried at the next tick.
func (h *Host) CheckEvery(ctx context.Context, interval time.Duration, onQuarantine func(CheckResult)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		rep, err := h.Check(ctx, "system:periodic-check")
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.log.Error("periodic check failed", "err", err)
			continue
		}
		for _, r := range rep.Skills {
			if r.Quarantined && onQuarantine != nil {
				onQuarantine(r)
			}
		}
	}
}

// recheck runs every check an installed version must keep passing and
// returns what failed (nil when it passed).
func (h *Host) recheck(ctx context.Context, st journal.Status, feed vulnFeed) []string {
	dir := h.versionDir(st.SkillID, st.Version)
	data, err := os.ReadFile(filepath.Join(dir, artifactCopyName))
	if err != nil {
		return []string{"installed artifact unreadable: " + err.Error()}
	}
	if got := artifact.SHA256Hex(data); got != st.ArtifactSHA256 {
		return []string{fmt.Sprintf("installed artifact modified on disk (sha256 %s, installed %s)", got, st.ArtifactSHA256)}
	}
	a, err := artifact.OpenBytes(ctx, data, nil)
	if err != nil {
		return []string{"artifact no longer verifies: " + err.Error()}
	}
	var reasons []string
	if a.PayloadSHA256 != st.PayloadSHA256 {
		reasons = append(reasons, "payload digest differs from the journal's")
	}
	decision, trustErr := h.trust.Evaluate(ctx, a.Manifest.Publisher, ed25519.PublicKey(a.PublicKey), trust.DecideOptions{})
	if trustErr != nil {
		reasons = append(reasons, "publisher key no longer trusted: "+trustErr.Error())
	}
	reasons = append(reasons, compareTree(dir, a.Files)...)
	if err := manifest.CheckCompat(a.Manifest.Compat, ProtocolMajor, Version); err != nil {
		reasons = append(reasons, err.Error())
	}
	report, err := h.audit(ctx, a, decision, trustErr == nil, feed)
	if err != nil {
		return append(reasons, "audit: "+err.Error())
	}
	for _, c := range report.Failures() {
		reasons = append(reasons, fmt.Sprintf("audit [%s] %s", c.CheckID, c.Message))
	}
	return reasons
}

// compareTree reports files of an installed version that differ from the
// artifact's entries, are missing, or were added.
func compareTree(dir string, files []artifact.File) []string {
	var reasons []string
	want := map[string]bool{artifactCopyName: true}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		switch {
		case err != nil:
			reasons = append(reasons, f.Path+" missing on disk")
		case !bytes.Equal(got, f.Data):
			reasons = append(reasons, fmt.Sprintf("%s modified on disk (sha256 %s, artifact says %s)",
				f.Path, artifact.SHA256Hex(got), artifact.SHA256Hex(f.Data)))
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !want[filepath.ToSlash(rel)] {
			reasons = append(reasons, filepath.ToSlash(rel)+" added on disk")
		}
		return nil
	})
	return reasons
}

// AuditInstalled audits the current version of an installed skill with the
// current policy and trust store, changing nothing.
func (h *Host) AuditInstalled(ctx context.Context, skillID string) (*AuditReport, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(h.versionDir(st.SkillID, st.Version), artifactCopyName))
	if err != nil {
		return nil, err
	}
	return h.auditBytes(ctx, data)
}

// AuditArtifact audits an artifact file without installing it.
func (h *Host) AuditArtifact(ctx context.Context, path string) (*AuditReport, error) {
	data, err := readArtifactFile(path)
	if err != nil {
		return nil, err
	}
	return h.auditBytes(ctx, data)
}

// auditBytes verifies an artifact and audits it. Whether the trust store
// accepts its key (read-only) is the report's signature_validity check: an
// untrusted key fails closed, as in Palyra's report.
func (h *Host) auditBytes(ctx context.Context, data []byte) (*AuditReport, error) {
	a, err := artifact.OpenBytes(ctx, data, nil)
	if err != nil {
		return nil, err
	}
	decision, err := h.trust.Evaluate(ctx, a.Manifest.Publisher, ed25519.PublicKey(a.PublicKey), trust.DecideOptions{})
	return h.audit(ctx, a, decision, err == nil, h.loadVulnFeed(ctx))
}
