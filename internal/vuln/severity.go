package vuln

import (
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/types/known/structpb"
)

// Severity grades a finding, in GitHub's advisory terms (CVSS "medium" is
// SeverityModerate). Higher is worse; SeverityUnknown is a finding no
// record graded.
type Severity int

// Severities, in increasing order.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityModerate
	SeverityHigh
	SeverityCritical
)

// UnknownRanksAs is the severity an ungraded finding is ranked as against a
// threshold: high.
const UnknownRanksAs = SeverityHigh

var severityNames = [...]string{"unknown", "low", "moderate", "high", "critical"}

// String returns the lowercase name: unknown, low, moderate, high,
// critical.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the name, so findings serialize as "high", not 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads a severity name, case-insensitively: low, moderate
// (or medium), high, critical. "unknown" is not accepted: it is no
// threshold.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low":
		return SeverityLow, nil
	case "moderate", "medium":
		return SeverityModerate, nil
	case "high":
		return SeverityHigh, nil
	case "critical":
		return SeverityCritical, nil
	}
	return SeverityUnknown, fmt.Errorf("vuln: severity %q is not one of low, moderate, high, critical", s)
}

// AtLeast reports whether s reaches threshold, ranking SeverityUnknown as
// UnknownRanksAs.
func (s Severity) AtLeast(threshold Severity) bool {
	if s == SeverityUnknown {
		s = UnknownRanksAs
	}
	return s >= threshold
}

// fromScore rates a CVSS base score by the CVSS bands (0.0, "none", counts
// as low: it was graded, and graded lowest).
func fromScore(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityModerate
	default:
		return SeverityLow
	}
}

// cvssSeverity rates one OSV severity entry; unknown when its type is
// unknown or its vector does not parse (an ungraded record ranks high
// anyway, so a malformed vector cannot lower a finding).
func cvssSeverity(s *osvschema.Severity) Severity {
	score := strings.TrimSpace(s.GetScore())
	switch s.GetType() {
	case osvschema.Severity_CVSS_V2:
		if v, err := gocvss20.ParseVector(score); err == nil {
			return fromScore(v.BaseScore())
		}
	case osvschema.Severity_CVSS_V3:
		switch {
		case strings.HasPrefix(score, "CVSS:3.0/"):
			if v, err := gocvss30.ParseVector(score); err == nil {
				return fromScore(v.BaseScore())
			}
		case strings.HasPrefix(score, "CVSS:3.1/"):
			if v, err := gocvss31.ParseVector(score); err == nil {
				return fromScore(v.BaseScore())
			}
		}
	case osvschema.Severity_CVSS_V4:
		if v, err := gocvss40.ParseVector(score); err == nil {
			return fromScore(v.Score())
		}
	case osvschema.Severity_Ubuntu:
		if strings.EqualFold(score, "negligible") {
			return SeverityLow
		}
		if sev, err := ParseSeverity(score); err == nil {
			return sev
		}
	}
	return SeverityUnknown
}

// databaseSeverity reads database_specific.severity (GitHub's LOW,
// MODERATE, HIGH, CRITICAL).
func databaseSeverity(ds *structpb.Struct) Severity {
	v, ok := ds.GetFields()["severity"]
	if !ok {
		return SeverityUnknown
	}
	sev, err := ParseSeverity(v.GetStringValue())
	if err != nil {
		return SeverityUnknown
	}
	return sev
}

// recordSeverity is the highest severity the record and its affected entry
// state.
func recordSeverity(rec *osvschema.Vulnerability, aff *osvschema.Affected) Severity {
	sev := max(databaseSeverity(rec.GetDatabaseSpecific()), databaseSeverity(aff.GetDatabaseSpecific()))
	for _, s := range rec.GetSeverity() {
		sev = max(sev, cvssSeverity(s))
	}
	for _, s := range aff.GetSeverity() {
		sev = max(sev, cvssSeverity(s))
	}
	return sev
}
