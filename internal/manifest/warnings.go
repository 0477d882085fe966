package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// Severity of a manifest warning, as Palyra spells it.
type Severity string

// Severities of manifest warnings.
const (
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Warning is a non-fatal finding about a valid manifest, with Palyra's
// codes and JSON shape (SkillManifestWarning), for verification and audit
// reports.
type Warning struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Warnings returns Palyra's manifest warnings for m, in Palyra's order:
//
//   - legacy_manifest_version: manifest_version is 1
//   - missing_operator_metadata: no [operator] metadata at all
//   - missing_operator_display_name: [operator] without display_name
//   - empty_operator_config_contract: [operator.config] without properties
//   - operator_config_redaction_recommended: a config property whose name
//     looks secret (secret, token, password, api_key, client_key) is not
//     marked redacted; one warning per property, by name
//
// It never fails; it is meant for manifests that Validate accepts.
func Warnings(m *Manifest) []Warning {
	var ws []Warning
	add := func(code, message string) {
		ws = append(ws, Warning{Code: code, Severity: SeverityWarning, Message: message})
	}
	if m.ManifestVersion == LegacyManifestVersion {
		add("legacy_manifest_version", fmt.Sprintf(
			"manifest_version %d is still supported for compatibility, but %d is now recommended",
			LegacyManifestVersion, CurrentManifestVersion))
	}
	op := m.Operator
	if op.isEmpty() {
		add("missing_operator_metadata",
			"operator-facing metadata is missing; inventory and doctor output will be degraded")
		return ws
	}
	if op.DisplayName == "" {
		add("missing_operator_display_name", "operator.display_name is missing")
	}
	if op.Config == nil {
		return ws
	}
	if len(op.Config.Properties) == 0 {
		add("empty_operator_config_contract",
			"operator.config is present but does not declare any properties")
	}
	names := make([]string, 0, len(op.Config.Properties))
	for n := range op.Config.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !op.Config.Properties[n].Redacted && looksSecret(n) {
			add("operator_config_redaction_recommended", fmt.Sprintf(
				"operator.config property '%s' looks secret-like but is not marked redacted", n))
		}
	}
	return ws
}

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, needle := range []string{"secret", "token", "password", "api_key", "client_key"} {
		if strings.Contains(n, needle) {
			return true
		}
	}
	return false
}
