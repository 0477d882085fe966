package audit

import (
	"fmt"
	"strings"

	"github.com/palyra/palyra-go/internal/vuln"
)

// checkVulnerabilityFeed matches the SBOM's Go modules against the feed:
// one failed check per finding at or above the threshold, one warning per
// finding below it or per module whose version cannot be compared, a pass
// when nothing matched. A configured feed that is missing, a threshold
// that is not one, or an SBOM that cannot be read fail: a configured but
// broken feed must not read as "no vulnerabilities".
func (a *auditor) checkVulnerabilityFeed(in Input) {
	hook := strings.TrimSpace(a.p.VulnerabilityFeedHook)
	feed := in.VulnerabilityFeed
	if hook == "" && feed == nil {
		c := Check{
			CheckID: checkVulnerabilityFeedHook, Status: StatusWarn, Severity: SeverityWarning,
			Message: "vulnerability feed hook is not configured (set Policy.VulnerabilityFeedHook); SBOM components were not matched against known vulnerabilities",
		}
		a.r.Checks = append(a.r.Checks, c)
		a.r.VulnerabilityScan = c
		return
	}
	source := hook
	if feed != nil {
		source = feed.Source()
	}
	first := len(a.r.Checks)
	details := map[string]any{"feed": source, "threshold": a.p.VulnerabilitySeverityThreshold}
	defer func() { a.r.VulnerabilityScan = a.scanSummary(a.r.Checks[first:], details) }()

	threshold, err := vuln.ParseSeverity(a.p.VulnerabilitySeverityThreshold)
	if err != nil {
		a.fail(checkVulnerabilityFeedHook, fmt.Sprintf("vulnerability_severity_threshold %q is not one of low, moderate, high, critical", a.p.VulnerabilitySeverityThreshold), details)
		return
	}
	if feed == nil {
		why := "it was not loaded"
		if in.VulnerabilityFeedError != nil {
			why = in.VulnerabilityFeedError.Error()
		}
		a.fail(checkVulnerabilityFeedHook, fmt.Sprintf("vulnerability feed %s is unusable, SBOM components were not matched: %s", source, why), details)
		return
	}
	details["records"] = feed.Records()
	data, ok := findFile(in.Files, sbomPath)
	if !ok {
		a.fail(checkVulnerabilityFeedHook, fmt.Sprintf("%s is missing: no components to match against vulnerability feed %s", sbomPath, source), details)
		return
	}
	comps, err := vuln.SBOMComponents(data)
	if err != nil {
		a.fail(checkVulnerabilityFeedHook, fmt.Sprintf("%s components could not be read for vulnerability matching: %v", sbomPath, err), details)
		return
	}
	details["components"] = len(comps)
	findings, unmatched := feed.Scan(comps)
	list := make([]map[string]any, 0, len(findings))
	for _, f := range findings {
		d := map[string]any{
			"module": f.Module, "version": f.Version, "id": f.ID, "aliases": strs(f.Aliases),
			"severity": f.Severity.String(), "fixed": f.Fixed, "summary": f.Summary,
		}
		list = append(list, d)
		if f.Severity.AtLeast(threshold) {
			a.fail(checkVulnerabilityFeedHook, findingMessage(f), d)
		} else {
			a.warn(checkVulnerabilityFeedHook, findingMessage(f)+" (below the "+threshold.String()+" threshold)", d)
		}
	}
	details["findings"] = list
	for _, c := range unmatched {
		a.warn(checkVulnerabilityFeedHook, fmt.Sprintf("module %s version %q cannot be compared with vulnerability feed %s, which has advisories for it; they were not matched", c.Module, c.Version, source),
			map[string]any{"module": c.Module, "version": c.Version})
	}
	if len(findings) == 0 && len(unmatched) == 0 {
		a.pass(checkVulnerabilityFeedHook, fmt.Sprintf("%d Go modules of %s matched against vulnerability feed %s (%d records): no known vulnerabilities", len(comps), sbomPath, source, feed.Records()), details)
	}
}

// findingMessage names the module, version, advisory, its other ids, the
// severity and the fix.
func findingMessage(f vuln.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s %s is affected by %s", f.Module, f.Version, f.ID)
	if len(f.Aliases) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(f.Aliases, ", "))
	}
	if f.Severity == vuln.SeverityUnknown {
		fmt.Fprintf(&b, ", severity not graded (ranked %s)", vuln.UnknownRanksAs)
	} else {
		fmt.Fprintf(&b, ", severity %s", f.Severity)
	}
	if f.Fixed != "" {
		fmt.Fprintf(&b, ", fixed in %s", f.Fixed)
	} else {
		b.WriteString(", no fixed version known")
	}
	return b.String()
}

// scanSummary is Report.VulnerabilityScan: the worst of the checks, with
// a message counting them.
func (a *auditor) scanSummary(checks []Check, details map[string]any) Check {
	if len(checks) == 1 {
		c := checks[0]
		c.Details = details
		return c
	}
	var fails, warns int
	for _, c := range checks {
		switch c.Status {
		case StatusFail:
			fails++
		case StatusWarn:
			warns++
		}
	}
	c := Check{CheckID: checkVulnerabilityFeedHook, Details: details}
	switch {
	case fails > 0:
		c.Status, c.Severity = StatusFail, SeverityError
	case warns > 0:
		c.Status, c.Severity = StatusWarn, SeverityWarning
	default:
		c.Status, c.Severity = StatusPass, SeverityInfo
	}
	c.Message = fmt.Sprintf("vulnerability feed %s: %d findings at or above the %s threshold, %d warnings", details["feed"], fails, a.p.VulnerabilitySeverityThreshold, warns)
	return c
}
