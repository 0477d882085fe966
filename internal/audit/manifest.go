package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/toolschema"
)

// Entry paths the audit reads. They are the artifact format's, restated
// here so that the audit depends on nothing of package artifact but File.
const (
	sbomPath       = "sbom.cdx.json"
	provenancePath = "provenance.json"
	modulesDir     = "modules/"
)

func findFile(files []artifact.File, path string) ([]byte, bool) {
	for _, f := range files {
		if f.Path == path {
			return f.Data, true
		}
	}
	return nil, false
}

// checkSBOM applies Palyra's minimal SBOM shape: a JSON object with
// bomFormat "CycloneDX" and a non-empty specVersion. Content (components,
// hashes) is the SBOM package's business, not the audit's.
func (a *auditor) checkSBOM(files []artifact.File) {
	data, ok := findFile(files, sbomPath)
	if !ok {
		a.fail(checkSBOMPresence, sbomPath+" is missing", nil)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		a.fail(checkSBOMPresence, fmt.Sprintf("%s is not a JSON object: %v", sbomPath, err), nil)
		return
	}
	if f, _ := doc["bomFormat"].(string); f != "CycloneDX" {
		a.fail(checkSBOMPresence, sbomPath+" must declare bomFormat 'CycloneDX'", nil)
		return
	}
	if v, _ := doc["specVersion"].(string); v == "" {
		a.fail(checkSBOMPresence, sbomPath+" must include specVersion", nil)
		return
	}
	a.pass(checkSBOMPresence, sbomPath+" is present and valid", map[string]any{"spec_version": doc["specVersion"]})
}

// checkProvenance applies Palyra's minimal provenance shape: a JSON object
// with a "builder" object and a non-empty "subject" array. An in-toto
// Statement has the subjects; palyra's builder adds the top-level builder.
func (a *auditor) checkProvenance(files []artifact.File) {
	data, ok := findFile(files, provenancePath)
	if !ok {
		a.fail(checkProvenancePresence, provenancePath+" is missing", nil)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		a.fail(checkProvenancePresence, fmt.Sprintf("%s is not a JSON object: %v", provenancePath, err), nil)
		return
	}
	if _, ok := doc["builder"].(map[string]any); !ok {
		a.fail(checkProvenancePresence, provenancePath+" must include a builder object", nil)
		return
	}
	if s, _ := doc["subject"].([]any); len(s) == 0 {
		a.fail(checkProvenancePresence, provenancePath+" must include a non-empty subject array", nil)
		return
	}
	a.pass(checkProvenancePresence, provenancePath+" is present and valid", nil)
}

// checkManifest re-checks the manifest rules the rest of the audit and the
// runtime rely on. The manifest parser enforces them already; the audit
// repeats them because it is also handed manifests that never went through
// the parser (an installed skill re-audited after an upgrade of the rules,
// a manifest built in code), and it must fail closed on those.
func (a *auditor) checkManifest(m *manifest.Manifest) {
	if problems := manifestProblems(m); len(problems) > 0 {
		a.fail(checkManifestSanity, "manifest failed sanity checks: "+listed(problems), map[string]any{"problems": problems})
	} else {
		a.pass(checkManifestSanity, "manifest passed strict schema and wildcard validation", nil)
	}
	a.checkToolSchemas(m)

	a.r.ManifestWarnings = manifestWarnings(m)
	for _, w := range a.r.ManifestWarnings {
		a.warn(checkManifestWarningPrefix+w.Code, w.Message, map[string]any{"code": w.Code, "severity": w.Severity})
	}

	c := &m.Capabilities
	a.checkFilesystemScopes(c)
	a.checkHTTPScopes(c)
	a.checkSecretScopes(c)
	a.checkSecretOwner(m)

	if len(c.DeviceCapabilities) > 0 && !a.p.AllowDeviceCapabilities {
		a.fail(checkForbiddenDevice,
			"manifest declares device capabilities ("+listed(c.DeviceCapabilities)+"), which are not grantable by the sandboxed plugin runtime",
			map[string]any{"device_capabilities": c.DeviceCapabilities})
	} else {
		a.pass(checkForbiddenDevice, "manifest does not declare forbidden device capabilities",
			map[string]any{"device_capabilities": strs(c.DeviceCapabilities), "allow_device_capabilities": a.p.AllowDeviceCapabilities})
	}
	if len(c.NodeCapabilities) > 0 && !a.p.AllowNodeCapabilities {
		a.fail(checkForbiddenNode,
			"manifest declares node capabilities ("+listed(c.NodeCapabilities)+"), which require an explicit audit policy override",
			map[string]any{"node_capabilities": c.NodeCapabilities})
	} else {
		a.pass(checkForbiddenNode, "manifest does not declare forbidden node capabilities",
			map[string]any{"node_capabilities": strs(c.NodeCapabilities), "allow_node_capabilities": a.p.AllowNodeCapabilities})
	}
	if w := wildcardOptIns(c.WildcardOptIn); len(w) > 0 && !a.p.AllowWildcardCapabilities {
		a.fail(checkForbiddenWildcard,
			"manifest enables wildcard capabilities ("+listed(w)+"), which require an explicit audit policy override",
			map[string]any{"wildcard_opt_ins": w})
	} else {
		a.pass(checkForbiddenWildcard, "manifest wildcard capability posture is allowed by audit policy",
			map[string]any{"wildcard_opt_ins": strs(w), "allow_wildcard_capabilities": a.p.AllowWildcardCapabilities})
	}
}

// checkToolSchemas compiles every tool's input and output schema: a host
// validates calls against them, so one that does not compile is a tool
// whose contract nobody can check.
func (a *auditor) checkToolSchemas(m *manifest.Manifest) {
	if _, err := toolschema.CompileManifest(m); err != nil {
		problems := strings.Split(err.Error(), "\n") // one per invalid schema
		a.fail(checkToolSchemas, "invalid tool schemas: "+strings.Join(problems, "; "), map[string]any{"problems": problems})
		return
	}
	a.pass(checkToolSchemas, fmt.Sprintf("the input and output schemas of %d tools are valid JSON Schemas (draft 2020-12 unless $schema says otherwise)", len(m.Entrypoints.Tools)), nil)
}

func (a *auditor) checkFilesystemScopes(c *manifest.Capabilities) {
	var bad []string
	for _, roots := range [][]string{c.Filesystem.ReadRoots, c.Filesystem.WriteRoots} {
		for _, root := range roots {
			if why := rootProblem(root, c.WildcardOptIn.Filesystem); why != "" {
				bad = append(bad, fmt.Sprintf("%q (%s)", root, why))
			}
		}
	}
	details := map[string]any{"read_roots": strs(c.Filesystem.ReadRoots), "write_roots": strs(c.Filesystem.WriteRoots)}
	if len(bad) > 0 {
		a.fail(checkFilesystemScopes, "manifest declares invalid filesystem roots: "+listed(bad), details)
		return
	}
	a.pass(checkFilesystemScopes, fmt.Sprintf("manifest declares %d filesystem read root(s) and %d write root(s)",
		len(c.Filesystem.ReadRoots), len(c.Filesystem.WriteRoots)), details)
}

func (a *auditor) checkHTTPScopes(c *manifest.Capabilities) {
	var bad []string
	for _, host := range c.HTTPEgressAllowlist {
		// The manifest's own rule (whole-label '*' with the opt-in), so that
		// the audit and the parser never disagree about a host.
		if why := manifest.HostProblem(host, c.WildcardOptIn.HTTPEgress); why != "" {
			bad = append(bad, why)
		}
	}
	details := map[string]any{"hosts": strs(c.HTTPEgressAllowlist)}
	if len(bad) > 0 {
		a.fail(checkHTTPScopes, "manifest declares invalid http egress hosts: "+listed(bad), details)
		return
	}
	a.pass(checkHTTPScopes, fmt.Sprintf("manifest declares %d http egress host(s)", len(c.HTTPEgressAllowlist)), details)
}

func (a *auditor) checkSecretScopes(c *manifest.Capabilities) {
	var bad []string
	scopes := []string{}
	for _, s := range c.Secrets {
		scopes = append(scopes, s.Scope)
		if why := secretScopeProblem(s.Scope); why != "" {
			bad = append(bad, fmt.Sprintf("scope %q (%s)", s.Scope, why))
		}
		if len(s.KeyNames) == 0 {
			bad = append(bad, fmt.Sprintf("scope %q (lists no key_names)", s.Scope))
		}
		for _, k := range s.KeyNames {
			if why := identifierOrWildcardProblem(k, c.WildcardOptIn.Secrets); why != "" {
				bad = append(bad, fmt.Sprintf("key %q in scope %q (%s)", k, s.Scope, why))
			}
		}
	}
	details := map[string]any{"scopes": scopes}
	if len(bad) > 0 {
		a.fail(checkSecretScopes, "manifest declares invalid secret scopes: "+listed(bad), details)
		return
	}
	a.pass(checkSecretScopes, fmt.Sprintf("manifest declares %d secret scope(s)", len(c.Secrets)), details)
}

// checkSecretOwner fails a skill:ID secret scope whose ID is not the
// skill's own: a skill's secrets are for that skill alone, and a manifest
// that names another skill's scope is asking for its secrets.
func (a *auditor) checkSecretOwner(m *manifest.Manifest) {
	var foreign []string
	for _, s := range m.Capabilities.Secrets {
		if owner, ok := strings.CutPrefix(s.Scope, "skill:"); ok && owner != m.SkillID && !slices.Contains(foreign, owner) {
			foreign = append(foreign, owner)
		}
	}
	if len(foreign) > 0 {
		scopes := make([]string, len(foreign))
		for i, f := range foreign {
			scopes[i] = "skill:" + f
		}
		a.fail(checkSecretOwner, fmt.Sprintf("skill '%s' requests the secrets of skill(s) %s (scope %s); a skill may request only its own scope 'skill:%s'",
			m.SkillID, listed(foreign), listed(scopes), m.SkillID), map[string]any{"skill_id": m.SkillID, "foreign_skill_ids": foreign})
		return
	}
	a.pass(checkSecretOwner, fmt.Sprintf("manifest requests no other skill's secrets (own scope 'skill:%s')", m.SkillID),
		map[string]any{"skill_id": m.SkillID})
}

// manifestProblems returns Palyra's validate_manifest rules that m breaks,
// minus the operator and builder metadata rules, which no check here or in
// the runtime depends on.
func manifestProblems(m *manifest.Manifest) []string {
	var p []string
	if m.ManifestVersion != 1 && m.ManifestVersion != 2 {
		p = append(p, fmt.Sprintf("manifest_version %d is not 1 or 2", m.ManifestVersion))
	}
	if why := identifierProblem(m.Publisher); why != "" {
		p = append(p, "publisher "+why)
	}
	if why := identifierProblem(m.SkillID); why != "" {
		p = append(p, "skill_id "+why)
	} else if strings.Contains(m.SkillID, ":") || slices.Contains(strings.Split(m.SkillID, "."), "") {
		p = append(p, "skill_id must use non-empty dot-separated [a-z0-9_-] segments")
	}
	if !isSemver(m.Version) {
		p = append(p, fmt.Sprintf("version %q is not MAJOR.MINOR.PATCH", m.Version))
	}
	if len(m.Entrypoints.Tools) == 0 {
		p = append(p, "entrypoints.tools is empty")
	}
	ids := map[string]bool{}
	for i, t := range m.Entrypoints.Tools {
		if why := identifierProblem(t.ID); why != "" {
			p = append(p, fmt.Sprintf("entrypoints.tools[%d].id %s", i, why))
		} else if !strings.HasPrefix(t.ID, m.Publisher+".") {
			p = append(p, fmt.Sprintf("tool id %q must be namespaced with %q", t.ID, m.Publisher+"."))
		}
		if ids[t.ID] {
			p = append(p, fmt.Sprintf("duplicate tool id %q", t.ID))
		}
		ids[t.ID] = true
		if strings.TrimSpace(t.Name) == "" {
			p = append(p, fmt.Sprintf("tool %q has an empty name", t.ID))
		}
	}
	q := m.Capabilities.Quotas
	if q.WallClockTimeoutMS == 0 || q.FuelBudget == 0 || q.MaxMemoryBytes < wasmPageSize {
		p = append(p, "capabilities.quotas values must be non-zero and max_memory_bytes >= 65536")
	}
	return p
}

// manifestWarnings are Palyra's non-fatal manifest findings, with its codes.
func manifestWarnings(m *manifest.Manifest) []ManifestWarning {
	w := []ManifestWarning{}
	add := func(code, msg string) {
		w = append(w, ManifestWarning{Code: code, Severity: "warning", Message: msg})
	}
	if m.ManifestVersion == 1 {
		add("legacy_manifest_version", "manifest_version 1 is still supported for compatibility, but 2 is now recommended")
	}
	op := m.Operator
	if operatorEmpty(op) {
		add("missing_operator_metadata", "operator-facing metadata is missing; inventory and doctor output will be degraded")
		return w
	}
	if op.DisplayName == "" {
		add("missing_operator_display_name", "operator.display_name is missing")
	}
	if op.Config != nil && len(op.Config.Properties) == 0 {
		add("empty_operator_config_contract", "operator.config is present but does not declare any properties")
	}
	if op.Config != nil {
		names := make([]string, 0, len(op.Config.Properties))
		for name := range op.Config.Properties {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !op.Config.Properties[name].Redacted && looksSecret(name) {
				add("operator_config_redaction_recommended",
					fmt.Sprintf("operator.config property '%s' looks secret-like but is not marked redacted", name))
			}
		}
	}
	return w
}

func operatorEmpty(op *manifest.Operator) bool {
	return op == nil || (op.DisplayName == "" && op.Summary == "" && op.Description == "" &&
		len(op.Categories) == 0 && len(op.Tags) == 0 && op.DocsURL == "" && op.Plugin == nil && op.Config == nil)
}

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "token", "password", "api_key", "client_key"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func wildcardOptIns(w manifest.WildcardOptIn) []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{w.Filesystem, "filesystem"}, {w.HTTPEgress, "http_egress"}, {w.Secrets, "secrets"},
		{w.Device, "device"}, {w.Node, "node"},
	} {
		if f.on {
			out = append(out, f.name)
		}
	}
	return out
}

// identifierProblem applies Palyra's identifier grammar, [a-z0-9._:-]+.
// Unlike Palyra it does not trim first: the parser normalizes, so
// surrounding space here means the manifest never went through it.
func identifierProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)) {
			return "must use [a-z0-9._:-]"
		}
	}
	return ""
}

func identifierOrWildcardProblem(s string, wildcard bool) string {
	if strings.Contains(s, "*") {
		if wildcard {
			return ""
		}
		return "wildcard without explicit opt-in"
	}
	return identifierProblem(s)
}

func isSemver(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" {
			return false
		}
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// rootProblem applies the filesystem root rules: relative, '/'-separated,
// no '.', '..' or empty segments, no ':' or '\', no control characters.
// Roots become WASI preopens under the skill's data dir; any of these would
// let one point elsewhere.
func rootProblem(root string, wildcard bool) string {
	if strings.Contains(root, "*") && !wildcard {
		return "wildcard without explicit opt-in"
	}
	switch {
	case root == "":
		return "empty"
	case strings.HasPrefix(root, "/"):
		return "absolute"
	case strings.ContainsAny(root, `\:`):
		return `contains '\' or ':'`
	}
	for _, r := range root {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	for _, seg := range strings.Split(root, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "has an empty, '.' or '..' segment"
		}
	}
	return ""
}

// secretScopeProblem applies Palyra's scope grammar: global, or
// principal:, channel: or skill: followed by an identifier.
func secretScopeProblem(scope string) string {
	if scope == "global" {
		return ""
	}
	for _, prefix := range []string{"principal:", "channel:", "skill:"} {
		if rest, ok := strings.CutPrefix(scope, prefix); ok {
			if why := identifierProblem(rest); why != "" {
				return "id " + why
			}
			return ""
		}
	}
	return "not global, principal:ID, channel:ID or skill:ID"
}
