package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/vuln"
)

// Status is the outcome of one check. The values are Palyra's
// SkillAuditCheckStatus, serialized in snake_case.
type Status string

// Check statuses.
const (
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// Severity grades one check. The values are Palyra's SkillAuditSeverity.
// A check that fails is always SeverityError, a warning SeverityWarning, and
// anything else SeverityInfo.
type Severity string

// Check severities.
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Check is one named check's result, Palyra's SkillSecurityAuditCheck.
// CheckID is one of the ids listed in the package documentation; Details
// carries the values the check looked at (module path, counts, limits).
type Check struct {
	CheckID  string         `json:"check_id"`
	Status   Status         `json:"status"`
	Severity Severity       `json:"severity"`
	Message  string         `json:"message"`
	Details  map[string]any `json:"details,omitempty"`
}

// ManifestWarning is a non-fatal finding about the manifest, Palyra's
// SkillManifestWarning. Each one is also reported as a
// "manifest_warning:<code>" check.
type ManifestWarning struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Report is the audit of one artifact, Palyra's SkillSecurityAuditReport.
//
// The verdict is fail-closed: Passed is false and ShouldQuarantine true as
// soon as any check fails, and every failed check's message is also one of
// QuarantineReasons. Warnings never quarantine.
type Report struct {
	SkillID           string            `json:"skill_id"`
	Version           string            `json:"version"`
	Publisher         string            `json:"publisher"`
	Accepted          bool              `json:"accepted"`
	Passed            bool              `json:"passed"`
	ShouldQuarantine  bool              `json:"should_quarantine"`
	TrustDecision     string            `json:"trust_decision"`
	PayloadSHA256     string            `json:"payload_sha256"`
	GeneratedAtUnixMS int64             `json:"generated_at_unix_ms"`
	Policy            Policy            `json:"policy"`
	ManifestWarnings  []ManifestWarning `json:"manifest_warnings"`
	Checks            []Check           `json:"checks"`
	QuarantineReasons []string          `json:"quarantine_reasons"`
	// VulnerabilityScan sums up the vulnerability_feed_hook checks, where
	// Palyra's report keeps its one: the worst status, and in Details the
	// feed, threshold and every finding.
	VulnerabilityScan Check `json:"vulnerability_scan"`
}

// Failures returns the checks that failed, in report order.
func (r *Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			out = append(out, c)
		}
	}
	return out
}

// Input is what Audit looks at: a manifest and the artifact's entries, plus
// the outcome of verification, which the caller did before auditing.
type Input struct {
	// Manifest is the artifact's parsed skill.toml. Required.
	Manifest *manifest.Manifest
	// Files are the artifact's entries. Modules are the entries under
	// modules/ ending in .wasm; sbom.cdx.json and provenance.json are read
	// for their minimal shape; everything else is ignored.
	Files []artifact.File

	// SignatureVerified reports that the caller checked signature.json
	// against the payload digest and the trust store. The audit does not
	// repeat that check; it records it as signature_validity and fails
	// closed when it is false.
	SignatureVerified bool
	// TrustDecision and PayloadSHA256 are copied into the report
	// (allowlisted, tofu_pinned or tofu_newly_pinned; lowercase hex).
	TrustDecision string
	PayloadSHA256 string

	// Now stamps generated_at_unix_ms; the zero value means time.Now().
	Now time.Time

	// VulnerabilityFeed is the feed Policy.VulnerabilityFeedHook names,
	// loaded by the caller (once per operation, not per audit), and
	// VulnerabilityFeedError why it could not be: with a hook set and no
	// feed, the vulnerability_feed_hook check fails.
	VulnerabilityFeed      *vuln.Feed
	VulnerabilityFeedError error
}

// ErrNoManifest is returned by Audit when Input.Manifest is nil: without a
// manifest no check has anything to compare against.
var ErrNoManifest = errors.New("audit: no manifest")

// Audit runs every check of the package documentation over in and returns
// the report. Policy violations are failed checks in the report, never
// errors: the error is non-nil only when in has no manifest or ctx ends
// before the audit does, and then there is no report, since a partial one
// could look like a pass.
//
// Fields of p that are zero or negative take DefaultPolicy's values.
func Audit(ctx context.Context, in Input, p Policy) (*Report, error) {
	if in.Manifest == nil {
		return nil, ErrNoManifest
	}
	p = p.withDefaults()
	m := in.Manifest
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	a := &auditor{
		p: p,
		r: &Report{
			SkillID:           m.SkillID,
			Version:           m.Version,
			Publisher:         m.Publisher,
			Accepted:          in.SignatureVerified,
			TrustDecision:     in.TrustDecision,
			PayloadSHA256:     in.PayloadSHA256,
			GeneratedAtUnixMS: now.UnixMilli(),
			Policy:            p,
			ManifestWarnings:  []ManifestWarning{},
			Checks:            []Check{},
			QuarantineReasons: []string{},
		},
	}

	a.checkSignature(in.SignatureVerified)
	a.checkSBOM(in.Files)
	a.checkProvenance(in.Files)
	a.checkManifest(m)

	modules := moduleFiles(in.Files)
	a.checkModulePresence(modules)
	rt := newValidator(ctx)
	defer rt.Close(context.WithoutCancel(ctx))
	var decoded []*module
	for _, f := range modules {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if mod := a.checkModule(ctx, rt, m, f); mod != nil {
			decoded = append(decoded, mod)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a.checkToolExports(m, decoded, len(modules)-len(decoded))
	a.checkVulnerabilityFeed(in)

	a.r.Passed = len(a.r.QuarantineReasons) == 0
	a.r.ShouldQuarantine = !a.r.Passed
	return a.r, nil
}

// auditor accumulates one report.
type auditor struct {
	p Policy
	r *Report
}

func (a *auditor) pass(id, msg string, details map[string]any) {
	a.r.Checks = append(a.r.Checks, Check{CheckID: id, Status: StatusPass, Severity: SeverityInfo, Message: msg, Details: details})
}

func (a *auditor) warn(id, msg string, details map[string]any) {
	a.r.Checks = append(a.r.Checks, Check{CheckID: id, Status: StatusWarn, Severity: SeverityWarning, Message: msg, Details: details})
}

// fail records a failed check; its message doubles as the quarantine
// reason, so it must say what is wrong and where without the details.
func (a *auditor) fail(id, msg string, details map[string]any) {
	a.r.Checks = append(a.r.Checks, Check{CheckID: id, Status: StatusFail, Severity: SeverityError, Message: msg, Details: details})
	a.r.QuarantineReasons = append(a.r.QuarantineReasons, msg)
}

func (a *auditor) checkSignature(verified bool) {
	if verified {
		a.pass(checkSignatureValidity, "signature chain and payload hash verified", nil)
		return
	}
	a.fail(checkSignatureValidity, "artifact signature and payload hash were not verified before the audit", nil)
}

// moduleFiles returns the artifact's Wasm modules sorted by path, the order
// Palyra audits them in.
func moduleFiles(files []artifact.File) []artifact.File {
	var out []artifact.File
	for _, f := range files {
		if strings.HasPrefix(f.Path, modulesDir) && strings.HasSuffix(f.Path, ".wasm") {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(x, y artifact.File) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// strs returns s, or an empty slice for nil, so that details serialize as
// [] rather than null, as Palyra's do.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// listed joins the first few names for a message; details carry them all.
func listed(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// unique drops repeated names, keeping the first of each: a Go module
// imports some WASI functions twice, once for the runtime and once for
// package syscall.
func unique(names []string) []string {
	seen := make(map[string]bool, len(names))
	return slices.DeleteFunc(names, func(n string) bool {
		dup := seen[n]
		seen[n] = true
		return dup
	})
}
