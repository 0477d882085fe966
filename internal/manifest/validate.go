package manifest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Manifest versions Palyra accepts.
const (
	LegacyManifestVersion  = 1
	CurrentManifestVersion = 2
)

// Validate checks every rule of the package doc on m, in Palyra's order,
// and returns the first violation as an *Error (Line 0). It does not modify
// m. Parse calls it; the packager and generator call it on manifests built
// in code.
func Validate(m *Manifest) error {
	if m == nil {
		return invalidf("", "manifest is nil")
	}
	for _, check := range []func(*Manifest) *Error{
		checkHeader,
		checkCompat,
		checkTools,
		checkCapabilities,
		checkBuilder,
		checkOperator,
		checkIntegrity,
	} {
		if err := check(m); err != nil {
			return err
		}
	}
	return nil
}

func checkHeader(m *Manifest) *Error {
	if m.ManifestVersion != LegacyManifestVersion && m.ManifestVersion != CurrentManifestVersion {
		return invalidf("manifest_version", fmt.Sprintf("must be %d or %d, not %d",
			LegacyManifestVersion, CurrentManifestVersion, m.ManifestVersion))
	}
	if msg := identifierProblem(m.Publisher); msg != "" {
		return invalidf("publisher", msg)
	}
	if msg := skillIDProblem(m.SkillID); msg != "" {
		return invalidf("skill_id", msg)
	}
	if msg := versionProblem(m.Version); msg != "" {
		return invalidf("version", msg)
	}
	return nil
}

func checkCompat(m *Manifest) *Error {
	c := m.Compat
	if c.RequiredProtocolMajor < 0 || c.RequiredProtocolMajor > math.MaxUint32 {
		return invalidf("compat.required_protocol_major", fmt.Sprintf("%d is out of range [0, %d]",
			c.RequiredProtocolMajor, uint32(math.MaxUint32)))
	}
	if msg := versionProblem(c.MinPalyraVersion); msg != "" {
		return invalidf("compat.min_palyra_version", msg)
	}
	if c.MaxPalyraVersion != "" {
		if msg := versionProblem(c.MaxPalyraVersion); msg != "" {
			return invalidf("compat.max_palyra_version", msg)
		}
		if cmp, _ := CompareVersions(c.MaxPalyraVersion, c.MinPalyraVersion); cmp < 0 {
			return invalidf("compat.max_palyra_version", fmt.Sprintf(
				"%q is lower than compat.min_palyra_version %q", c.MaxPalyraVersion, c.MinPalyraVersion))
		}
	}
	return nil
}

func checkTools(m *Manifest) *Error {
	if strings.TrimSpace(m.Name) == "" {
		return invalidf("name", "must not be empty")
	}
	tools := m.Entrypoints.Tools
	if len(tools) == 0 {
		return invalidf("entrypoints.tools", "at least one tool is required")
	}
	ids := make(map[string]int, len(tools))
	names := make(map[string]int, len(tools))
	for i, t := range tools {
		at := indexPath("entrypoints.tools", i)
		if msg := identifierProblem(t.ID); msg != "" {
			return invalidf(at+".id", msg)
		}
		if prefix := m.Publisher + "."; !strings.HasPrefix(t.ID, prefix) || len(t.ID) == len(prefix) {
			return invalidf(at+".id", fmt.Sprintf("tool id %q must be namespaced as %q followed by a name", t.ID, prefix))
		}
		if j, dup := ids[t.ID]; dup {
			return invalidf(at+".id", fmt.Sprintf("duplicate tool id %q (also entrypoints.tools[%d])", t.ID, j))
		}
		ids[t.ID] = i
		if msg := exportNameProblem(t.Name); msg != "" {
			return invalidf(at+".name", msg)
		}
		if j, dup := names[t.Name]; dup {
			return invalidf(at+".name", fmt.Sprintf("duplicate tool name %q (also entrypoints.tools[%d]); each tool calls its own export", t.Name, j))
		}
		names[t.Name] = i
		if strings.TrimSpace(t.Description) == "" {
			return invalidf(at+".description", "must not be empty")
		}
		if t.InputSchema == nil {
			return invalidf(at+".input_schema", "must be a JSON object")
		}
		if t.OutputSchema == nil {
			return invalidf(at+".output_schema", "must be a JSON object")
		}
		if e := jsonProblem(at+".input_schema", t.InputSchema); e != nil {
			return e
		}
		if e := jsonProblem(at+".output_schema", t.OutputSchema); e != nil {
			return e
		}
	}
	return nil
}

func checkCapabilities(m *Manifest) *Error {
	c := m.Capabilities
	w := c.WildcardOptIn
	for _, roots := range []struct {
		key   string
		paths []string
	}{
		{"capabilities.filesystem.read_roots", c.Filesystem.ReadRoots},
		{"capabilities.filesystem.write_roots", c.Filesystem.WriteRoots},
	} {
		for i, p := range roots.paths {
			if msg := rootProblem(p, w.Filesystem); msg != "" {
				return invalidf(indexPath(roots.key, i), msg)
			}
		}
	}
	for i, h := range c.HTTPEgressAllowlist {
		if msg := HostProblem(h, w.HTTPEgress); msg != "" {
			return invalidf(indexPath("capabilities.http_egress_allowlist", i), msg)
		}
	}
	for i, s := range c.Secrets {
		at := indexPath("capabilities.secrets", i)
		if msg := secretScopeProblem(s.Scope); msg != "" {
			return invalidf(at+".scope", msg)
		}
		if len(s.KeyNames) == 0 {
			return invalidf(at+".key_names", fmt.Sprintf("secret scope %q must list at least one key name", s.Scope))
		}
		for j, k := range s.KeyNames {
			if msg := grantProblem(k, w.Secrets, "secrets"); msg != "" {
				return invalidf(indexPath(at+".key_names", j), msg)
			}
		}
	}
	for i, d := range c.DeviceCapabilities {
		if msg := grantProblem(d, w.Device, "device"); msg != "" {
			return invalidf(indexPath("capabilities.device_capabilities", i), msg)
		}
	}
	for i, n := range c.NodeCapabilities {
		if msg := grantProblem(n, w.Node, "node"); msg != "" {
			return invalidf(indexPath("capabilities.node_capabilities", i), msg)
		}
	}
	q := c.Quotas
	switch {
	case q.WallClockTimeoutMS == 0:
		return invalidf("capabilities.quotas.wall_clock_timeout_ms", "must be greater than 0")
	case q.MaxMemoryBytes < MinMaxMemoryBytes:
		return invalidf("capabilities.quotas.max_memory_bytes", fmt.Sprintf("%d is below the minimum of %d (one Wasm page)", q.MaxMemoryBytes, MinMaxMemoryBytes))
	case q.FuelBudget == 0:
		return invalidf("capabilities.quotas.fuel_budget", "must be greater than 0")
	}
	return nil
}

func checkBuilder(m *Manifest) *Error {
	b := m.Builder
	if b == nil {
		return nil
	}
	if !b.Experimental {
		return invalidf("builder.experimental", "must be true: builder output stays experimental until reviewed")
	}
	for _, f := range []struct{ key, value string }{
		{"builder.source_kind", b.SourceKind},
		{"builder.source_ref", b.SourceRef},
		{"builder.rollout_flag", b.RolloutFlag},
	} {
		if strings.TrimSpace(f.value) == "" {
			return invalidf(f.key, "must not be empty")
		}
	}
	for _, f := range []struct{ key, value string }{
		{"builder.checklist.capability_declaration_path", b.Checklist.CapabilityDeclarationPath},
		{"builder.checklist.provenance_path", b.Checklist.ProvenancePath},
		{"builder.checklist.test_harness_path", b.Checklist.TestHarnessPath},
	} {
		if msg := relativePathProblem(f.value); msg != "" {
			return invalidf(f.key, msg)
		}
	}
	return nil
}

func checkOperator(m *Manifest) *Error {
	op := m.Operator
	if op.isEmpty() {
		return nil
	}
	if m.ManifestVersion == LegacyManifestVersion {
		return invalidf("operator", fmt.Sprintf("operator metadata requires manifest_version = %d", CurrentManifestVersion))
	}
	for _, f := range []struct{ key, value string }{
		{"operator.display_name", op.DisplayName},
		{"operator.summary", op.Summary},
		{"operator.description", op.Description},
	} {
		if f.value != "" && strings.TrimSpace(f.value) == "" {
			return invalidf(f.key, "must not be blank")
		}
	}
	for _, labels := range []struct {
		key    string
		values []string
	}{{"operator.categories", op.Categories}, {"operator.tags", op.Tags}} {
		for i, l := range labels.values {
			if !isLabel(l) {
				return invalidf(indexPath(labels.key, i), fmt.Sprintf("%q must use only [a-z0-9._-]", l))
			}
		}
	}
	if u := op.DocsURL; u != "" {
		if !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, " #") || hasSpaceOrControl(u) {
			return invalidf("operator.docs_url", fmt.Sprintf("%q must be an https:// URL without spaces or a fragment", u))
		}
	}
	if e := checkPlugin(m, op.Plugin); e != nil {
		return e
	}
	if op.Config != nil {
		return checkConfig(op.Config)
	}
	return nil
}

func checkPlugin(m *Manifest, p *Plugin) *Error {
	if p == nil {
		return nil
	}
	if id := p.DefaultToolID; id != "" {
		if msg := identifierProblem(id); msg != "" {
			return invalidf("operator.plugin.default_tool_id", msg)
		}
		if !slices.ContainsFunc(m.Entrypoints.Tools, func(t Tool) bool { return t.ID == id }) {
			return invalidf("operator.plugin.default_tool_id", fmt.Sprintf("%q is not the id of any entrypoints.tools entry", id))
		}
		if !strings.HasPrefix(id, m.Publisher+".") {
			return invalidf("operator.plugin.default_tool_id", fmt.Sprintf("%q must be namespaced as %q", id, m.Publisher+"."))
		}
	}
	if mp := p.DefaultModulePath; mp != "" {
		if !strings.HasPrefix(mp, "modules/") || !strings.HasSuffix(mp, ".wasm") || strings.Contains(mp, "..") {
			return invalidf("operator.plugin.default_module_path", fmt.Sprintf("%q must name a modules/*.wasm entry", mp))
		}
		if msg := relativePathProblem(mp); msg != "" {
			return invalidf("operator.plugin.default_module_path", msg)
		}
	}
	if ep := p.DefaultEntrypoint; ep != "" && !isEntrypointName(ep) {
		return invalidf("operator.plugin.default_entrypoint", fmt.Sprintf("%q must use only [a-z0-9_-]", ep))
	}
	kinds := make(map[string]int, len(p.Contracts))
	for i, c := range p.Contracts {
		at := indexPath("operator.plugin.contracts", i)
		if !slices.Contains(ContractKinds(), c.Kind) {
			return invalidf(at+".kind", fmt.Sprintf("unknown contract kind %q (known: %s)", c.Kind, strings.Join(ContractKinds(), ", ")))
		}
		if c.Version == 0 {
			return invalidf(at+".version", fmt.Sprintf("contract %q must use a non-zero version", c.Kind))
		}
		if c.Version != 1 {
			return invalidf(at+".version", fmt.Sprintf("contract %q version %d is not supported by the plugin SDK ABI (supported: 1)", c.Kind, c.Version))
		}
		if j, dup := kinds[c.Kind]; dup {
			return invalidf(at+".kind", fmt.Sprintf("duplicate contract kind %q (also operator.plugin.contracts[%d])", c.Kind, j))
		}
		kinds[c.Kind] = i
	}
	return nil
}

func checkConfig(c *ConfigContract) *Error {
	if c.SchemaVersion <= 0 || c.SchemaVersion > math.MaxUint32 {
		return invalidf("operator.config.schema_version", fmt.Sprintf("must be a non-zero u32, not %d", c.SchemaVersion))
	}
	for i, r := range c.Required {
		at := indexPath("operator.config.required", i)
		if !isLabel(r) {
			return invalidf(at, fmt.Sprintf("%q must use only [a-z0-9._-]", r))
		}
		if _, ok := c.Properties[r]; !ok {
			return invalidf(at, fmt.Sprintf("%q is not declared in operator.config.properties", r))
		}
	}
	names := make([]string, 0, len(c.Properties))
	for n := range c.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		at := keyPath("operator.config.properties", name)
		if !isLabel(name) {
			return invalidf(at, fmt.Sprintf("property name %q must use only [a-z0-9._-]", name))
		}
		if e := checkConfigProperty(at, c.Properties[name]); e != nil {
			return e
		}
	}
	return nil
}

func checkConfigProperty(at string, p ConfigProperty) *Error {
	switch p.Type {
	case ConfigString, ConfigInteger, ConfigNumber, ConfigBoolean, ConfigStringList:
	default:
		return invalidf(at+".type", fmt.Sprintf("unknown type %q (want string, integer, number, boolean or string_list)", p.Type))
	}
	if p.Title != "" && strings.TrimSpace(p.Title) == "" {
		return invalidf(at+".title", "must not be blank")
	}
	if p.Description != "" && strings.TrimSpace(p.Description) == "" {
		return invalidf(at+".description", "must not be blank")
	}
	if len(p.EnumValues) > 0 {
		if p.Type != ConfigString {
			return invalidf(at+".enum_values", fmt.Sprintf("enum_values require type = %q", ConfigString))
		}
		seen := make(map[string]bool, len(p.EnumValues))
		for i, v := range p.EnumValues {
			t := strings.TrimSpace(v)
			if t == "" {
				return invalidf(indexPath(at+".enum_values", i), "must not be empty")
			}
			if seen[t] {
				return invalidf(indexPath(at+".enum_values", i), fmt.Sprintf("duplicate value %q", v))
			}
			seen[t] = true
		}
	}
	if p.Default == nil {
		return nil
	}
	if e := jsonProblem(at+".default", p.Default); e != nil {
		return e
	}
	if !defaultMatches(p.Type, p.Default) {
		return invalidf(at+".default", fmt.Sprintf("default %v does not match type %q", p.Default, p.Type))
	}
	if len(p.EnumValues) > 0 && !slices.Contains(p.EnumValues, p.Default.(string)) {
		return invalidf(at+".default", fmt.Sprintf("default %q is not one of enum_values", p.Default))
	}
	return nil
}

func defaultMatches(t ConfigValueType, v any) bool {
	switch t {
	case ConfigString:
		_, ok := v.(string)
		return ok
	case ConfigInteger:
		return isInteger(v)
	case ConfigNumber:
		_, isFloat := v.(float64)
		return isFloat || isInteger(v)
	case ConfigBoolean:
		_, ok := v.(bool)
		return ok
	case ConfigStringList:
		switch l := v.(type) {
		case []string:
			return true
		case []any:
			for _, el := range l {
				if _, ok := el.(string); !ok {
					return false
				}
			}
			return true
		}
	}
	return false
}

func isInteger(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

func checkIntegrity(m *Manifest) *Error {
	seen := make(map[string]int, len(m.Integrity.Files))
	for i, f := range m.Integrity.Files {
		at := indexPath("integrity.files", i)
		if msg := relativePathProblem(f.Path); msg != "" {
			return invalidf(at+".path", msg)
		}
		if f.Path == "skill.toml" || f.Path == "signature.json" {
			return invalidf(at+".path", fmt.Sprintf("%q is not covered by the integrity list", f.Path))
		}
		if j, dup := seen[f.Path]; dup {
			return invalidf(at+".path", fmt.Sprintf("duplicate path %q (also integrity.files[%d])", f.Path, j))
		}
		seen[f.Path] = i
		if !isSHA256Hex(f.SHA256) {
			return invalidf(at+".sha256", fmt.Sprintf("%q must be 64 lowercase hex digits", f.SHA256))
		}
	}
	return nil
}

// ValidateSkillID reports whether s is a valid skill_id: non-empty
// dot-separated segments of [a-z0-9_-].
func ValidateSkillID(s string) error {
	return valueError("skill id", s, skillIDProblem(s))
}

// ValidatePublisher reports whether s is a valid publisher identifier:
// non-empty, only [a-z0-9._:-].
func ValidatePublisher(s string) error {
	return valueError("publisher", s, identifierProblem(s))
}

func valueError(what, value, msg string) error {
	if msg == "" {
		return nil
	}
	return fmt.Errorf("%s %q: %s: %w", what, value, msg, ErrInvalid)
}

func identifierProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == ':') {
			return fmt.Sprintf("%q must use only [a-z0-9._:-] (found %q)", s, r)
		}
	}
	return ""
}

func skillIDProblem(s string) string {
	if msg := identifierProblem(s); msg != "" {
		return msg
	}
	if strings.Contains(s, ":") {
		return fmt.Sprintf("%q must not contain ':'", s)
	}
	if slices.Contains(strings.Split(s, "."), "") {
		return fmt.Sprintf("%q must be non-empty dot-separated [a-z0-9_-] segments", s)
	}
	return ""
}

// exportNameProblem: a tool name is the name of a Wasm export the host
// calls. Wasm allows any UTF-8; this keeps out what no toolchain exports
// on purpose and what would be ambiguous in logs: blanks and controls.
func exportNameProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if hasSpaceOrControl(s) {
		return fmt.Sprintf("%q is not a valid export name: no spaces or control characters", s)
	}
	return ""
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	})
}

func isLabel(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func isEntrypointName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// relativePathProblem applies Palyra's artifact path rules, stricter in
// that it does not rewrite '\' to '/' or trim blanks but rejects them.
func relativePathProblem(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must be relative (no leading '/')", p)
	case strings.ContainsAny(p, `\:`):
		return fmt.Sprintf("%q must not contain '\\' or ':'", p)
	case strings.ContainsFunc(p, unicode.IsControl) || !utf8.ValidString(p):
		return fmt.Sprintf("%q must not contain control characters", p)
	case strings.TrimSpace(p) != p:
		return fmt.Sprintf("%q must not start or end with blanks", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return fmt.Sprintf("%q must not contain empty segments", p)
		case ".", "..":
			return fmt.Sprintf("%q must not contain %q segments", p, seg)
		}
	}
	return ""
}

func rootProblem(p string, wildcardOK bool) string {
	if strings.Contains(p, "*") && !wildcardOK {
		return fmt.Sprintf("%q uses a wildcard without capabilities.wildcard_opt_in.filesystem", p)
	}
	return relativePathProblem(p)
}

// HostProblem checks one http_egress_allowlist entry and says what is
// wrong with it, or "" when it is valid. wildcardOK is the manifest's
// capabilities.wildcard_opt_in.http_egress. The rule is Palyra's host rule
// (letters, digits, '.', '-'; no empty label, no label starting or ending
// with '-'; one trailing '.' and upper case allowed) plus DNS length limits
// (labels <= 63, names <= 253 bytes). With the opt-in a label may be
// exactly "*" — a whole label, anywhere: "*", "*.example.com",
// "api.*.example.com" — which the egress policy enforces. Palyra accepts
// any string containing '*' once opted in ("api*.example.com", "a b*");
// no matcher honours those, so they are refused here even with the
// opt-in. The audit's manifest_http_egress_scopes applies the same rule.
func HostProblem(h string, wildcardOK bool) string {
	if strings.Contains(h, "*") && !wildcardOK {
		return fmt.Sprintf("%q uses a wildcard without capabilities.wildcard_opt_in.http_egress", h)
	}
	n := strings.TrimSuffix(h, ".")
	if n == "" || len(n) > 253 {
		return fmt.Sprintf("%q is not a valid host name", h)
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "*" {
			continue
		}
		if strings.Contains(label, "*") {
			return fmt.Sprintf("%q: a wildcard must be a whole label (\"*\", \"*.example.com\", \"api.*.example.com\")", h)
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("%q is not a valid host name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("%q is not a valid host name (letters, digits, '.' and '-' only)", h)
			}
		}
	}
	return ""
}

func secretScopeProblem(s string) string {
	if s == "global" {
		return ""
	}
	for _, prefix := range []string{"principal:", "channel:", "skill:"} {
		if id, ok := strings.CutPrefix(s, prefix); ok {
			if msg := identifierProblem(id); msg != "" {
				return fmt.Sprintf("scope %q: id %s", s, msg)
			}
			return ""
		}
	}
	return fmt.Sprintf("%q must be global, principal:<id>, channel:<id> or skill:<id>", s)
}

// grantProblem checks a secret key name or a device/node capability: an
// identifier, or with the class's wildcard opt-in an identifier pattern
// containing '*'.
func grantProblem(s string, wildcardOK bool, class string) string {
	if !strings.Contains(s, "*") {
		return identifierProblem(s)
	}
	if !wildcardOK {
		return fmt.Sprintf("%q uses a wildcard without capabilities.wildcard_opt_in.%s", s, class)
	}
	if msg := identifierProblem(strings.ReplaceAll(s, "*", "")); msg != "" && s != "*" {
		return fmt.Sprintf("%q must use only [a-z0-9._:-] and '*'", s)
	}
	return ""
}

// jsonProblem checks that a value built in code holds only what a JSON
// document can: Parse produces nothing else, but Validate also sees
// manifests built in code.
func jsonProblem(path string, v any) *Error {
	switch x := v.(type) {
	case nil:
		return invalidf(path, "null has no TOML equivalent")
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32:
		return nil
	case uint64:
		if x > math.MaxInt64 {
			return invalidf(path, fmt.Sprintf("%d does not fit a TOML integer", x))
		}
		return nil
	case float32:
		return jsonProblem(path, float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return invalidf(path, fmt.Sprintf("%v is not representable in JSON", x))
		}
		return nil
	case []string:
		return nil
	case []any:
		for i, el := range x {
			if e := jsonProblem(indexPath(path, i), el); e != nil {
				return e
			}
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if e := jsonProblem(keyPath(path, k), x[k]); e != nil {
				return e
			}
		}
		return nil
	default:
		return invalidf(path, fmt.Sprintf("a %T is not a JSON value", v))
	}
}
