package manifest

import (
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// sample parses Palyra's own regression manifest, the valid base every
// rule test below breaks in exactly one place.
func sample(t testing.TB) *Manifest {
	t.Helper()
	data, err := os.ReadFile("testdata/palyra-sample-v2.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(palyra-sample-v2.toml): %v", err)
	}
	return m
}

func withBuilder(m *Manifest) {
	m.Builder = &Builder{
		Experimental: true,
		SourceKind:   "procedure",
		SourceRef:    "candidate-proc-1",
		RolloutFlag:  "PALYRA_EXPERIMENTAL_DYNAMIC_TOOL_BUILDER",
		ReviewStatus: "quarantined",
		Checklist: BuilderChecklist{
			CapabilityDeclarationPath: "builder-capabilities.json",
			ProvenancePath:            "provenance.json",
			TestHarnessPath:           "tests/smoke.test.json",
		},
	}
}

func prop(m *Manifest, name string, p ConfigProperty) {
	m.Operator.Config.Properties[name] = p
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Manifest)
		key    string // "" means the manifest must stay valid
		msg    string
	}{
		// Header.
		{"manifest_version 3", func(m *Manifest) { m.ManifestVersion = 3 }, "manifest_version", "must be 1 or 2"},
		{"manifest_version 0", func(m *Manifest) { m.ManifestVersion = 0 }, "manifest_version", "must be 1 or 2"},
		{"publisher empty", func(m *Manifest) { m.Publisher = "" }, "publisher", "must not be empty"},
		{"publisher uppercase", func(m *Manifest) { m.Publisher = "Acme" }, "publisher", "[a-z0-9._:-]"},
		{"publisher blank-padded", func(m *Manifest) { m.Publisher = " acme" }, "publisher", "[a-z0-9._:-]"},
		{"publisher with colon ok", func(m *Manifest) {
			m.Publisher = "acme:eu"
			for i := range m.Entrypoints.Tools {
				m.Entrypoints.Tools[i].ID = strings.Replace(m.Entrypoints.Tools[i].ID, "acme.", "acme:eu.", 1)
			}
			m.Operator.Plugin.DefaultToolID = "acme:eu.echo"
		}, "", ""},
		{"skill_id dot", func(m *Manifest) { m.SkillID = "." }, "skill_id", "dot-separated"},
		{"skill_id dotdot", func(m *Manifest) { m.SkillID = ".." }, "skill_id", "dot-separated"},
		{"skill_id empty segment", func(m *Manifest) { m.SkillID = "acme..echo_http" }, "skill_id", "dot-separated"},
		{"skill_id leading dot", func(m *Manifest) { m.SkillID = ".acme" }, "skill_id", "dot-separated"},
		{"skill_id trailing dot", func(m *Manifest) { m.SkillID = "acme." }, "skill_id", "dot-separated"},
		{"skill_id drive", func(m *Manifest) { m.SkillID = "c:temp" }, "skill_id", "':'"},
		{"skill_id colon", func(m *Manifest) { m.SkillID = "acme:echo_http" }, "skill_id", "':'"},
		{"skill_id slash", func(m *Manifest) { m.SkillID = "acme/echo" }, "skill_id", "[a-z0-9._:-]"},
		{"skill_id empty", func(m *Manifest) { m.SkillID = "" }, "skill_id", "must not be empty"},
		{"version two parts", func(m *Manifest) { m.Version = "1.0" }, "version", "MAJOR.MINOR.PATCH"},
		{"version prerelease", func(m *Manifest) { m.Version = "1.0.0-rc1" }, "version", "patch must be a decimal"},
		{"version v prefix", func(m *Manifest) { m.Version = "v1.0.0" }, "version", "major must be a decimal"},
		{"version leading zero", func(m *Manifest) { m.Version = "1.01.0" }, "version", "leading zeros"},
		{"version plus sign", func(m *Manifest) { m.Version = "+1.0.0" }, "version", "decimal"},
		{"version blank", func(m *Manifest) { m.Version = "1.0.0 " }, "version", "decimal"},
		{"version over u32", func(m *Manifest) { m.Version = "4294967296.0.0" }, "version", "32 bits"},

		// Compat.
		{"protocol major negative", func(m *Manifest) { m.Compat.RequiredProtocolMajor = -1 }, "compat.required_protocol_major", "out of range"},
		{"protocol major over u32", func(m *Manifest) { m.Compat.RequiredProtocolMajor = math.MaxUint32 + 1 }, "compat.required_protocol_major", "out of range"},
		{"min version bad", func(m *Manifest) { m.Compat.MinPalyraVersion = "latest" }, "compat.min_palyra_version", "MAJOR.MINOR.PATCH"},
		{"max version bad", func(m *Manifest) { m.Compat.MaxPalyraVersion = "1.x.0" }, "compat.max_palyra_version", "minor must be a decimal"},
		{"max below min", func(m *Manifest) { m.Compat.MinPalyraVersion, m.Compat.MaxPalyraVersion = "2.0.0", "1.9.0" }, "compat.max_palyra_version", "lower than"},
		{"max equals min ok", func(m *Manifest) { m.Compat.MaxPalyraVersion = "0.1.0" }, "", ""},
		{"max compares numerically", func(m *Manifest) { m.Compat.MinPalyraVersion, m.Compat.MaxPalyraVersion = "0.9.0", "0.10.0" }, "", ""},

		// Name and tools.
		{"name blank", func(m *Manifest) { m.Name = " \t" }, "name", "must not be empty"},
		{"no tools", func(m *Manifest) { m.Entrypoints.Tools = nil }, "entrypoints.tools", "at least one tool"},
		{"tool id chars", func(m *Manifest) { m.Entrypoints.Tools[1].ID = "acme.HTTP" }, "entrypoints.tools[1].id", "[a-z0-9._:-]"},
		{"tool id empty", func(m *Manifest) { m.Entrypoints.Tools[0].ID = "" }, "entrypoints.tools[0].id", "must not be empty"},
		{"tool id other publisher", func(m *Manifest) { m.Entrypoints.Tools[1].ID = "other.http_get" }, "entrypoints.tools[1].id", `namespaced as "acme."`},
		{"tool id prefix only", func(m *Manifest) { m.Entrypoints.Tools[1].ID = "acme." }, "entrypoints.tools[1].id", "namespaced"},
		{"tool id publisher lookalike", func(m *Manifest) { m.Entrypoints.Tools[1].ID = "acmex.get" }, "entrypoints.tools[1].id", "namespaced"},
		{"tool id duplicate", func(m *Manifest) { m.Entrypoints.Tools[1].ID = "acme.echo" }, "entrypoints.tools[1].id", "duplicate tool id"},
		{"tool name empty", func(m *Manifest) { m.Entrypoints.Tools[0].Name = "" }, "entrypoints.tools[0].name", "must not be empty"},
		{"tool name with space", func(m *Manifest) { m.Entrypoints.Tools[0].Name = "echo it" }, "entrypoints.tools[0].name", "export name"},
		{"tool name control char", func(m *Manifest) { m.Entrypoints.Tools[0].Name = "echo\x00" }, "entrypoints.tools[0].name", "export name"},
		{"tool name duplicate", func(m *Manifest) { m.Entrypoints.Tools[1].Name = "echo" }, "entrypoints.tools[1].name", "duplicate tool name"},
		{"tool description blank", func(m *Manifest) { m.Entrypoints.Tools[1].Description = " " }, "entrypoints.tools[1].description", "must not be empty"},
		{"input schema missing", func(m *Manifest) { m.Entrypoints.Tools[0].InputSchema = nil }, "entrypoints.tools[0].input_schema", "JSON object"},
		{"output schema missing", func(m *Manifest) { m.Entrypoints.Tools[1].OutputSchema = nil }, "entrypoints.tools[1].output_schema", "JSON object"},
		{"schema NaN", func(m *Manifest) { m.Entrypoints.Tools[0].InputSchema["maximum"] = math.NaN() }, "entrypoints.tools[0].input_schema.maximum", "not representable in JSON"},
		{"schema null", func(m *Manifest) { m.Entrypoints.Tools[0].OutputSchema["default"] = nil }, "entrypoints.tools[0].output_schema.default", "null"},
		{"schema non-JSON type", func(m *Manifest) { m.Entrypoints.Tools[0].InputSchema["x"] = []any{struct{}{}} }, "entrypoints.tools[0].input_schema.x[0]", "not a JSON value"},
		{"empty schema object ok", func(m *Manifest) { m.Entrypoints.Tools[0].InputSchema = map[string]any{} }, "", ""},

		// Filesystem roots.
		{"root parent", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{"../etc"} }, "capabilities.filesystem.read_roots[0]", `".." segments`},
		{"root absolute", func(m *Manifest) { m.Capabilities.Filesystem.WriteRoots = []string{"/tmp"} }, "capabilities.filesystem.write_roots[0]", "leading '/'"},
		{"root dot segment", func(m *Manifest) { m.Capabilities.Filesystem.WriteRoots = []string{"ok", "a/./b"} }, "capabilities.filesystem.write_roots[1]", `"." segments`},
		{"root drive", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{"c:/x"} }, "capabilities.filesystem.read_roots[0]", "':'"},
		{"root backslash", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{`a\..\..\b`} }, "capabilities.filesystem.read_roots[0]", `'\'`},
		{"root empty", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{""} }, "capabilities.filesystem.read_roots[0]", "must not be empty"},
		{"root empty segment", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{"a//b"} }, "capabilities.filesystem.read_roots[0]", "empty segments"},
		{"root wildcard without opt-in", func(m *Manifest) { m.Capabilities.Filesystem.ReadRoots = []string{"skills/*"} }, "capabilities.filesystem.read_roots[0]", "wildcard_opt_in.filesystem"},
		{"root wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.Filesystem.ReadRoots = []string{"skills/*"}
			m.Capabilities.WildcardOptIn.Filesystem = true
		}, "", ""},
		{"root malformed wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.Filesystem.ReadRoots = []string{"../*"}
			m.Capabilities.WildcardOptIn.Filesystem = true
		}, "capabilities.filesystem.read_roots[0]", `".." segments`},

		// HTTP egress.
		{"host wildcard without opt-in", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"*"} }, "capabilities.http_egress_allowlist[0]", "wildcard_opt_in.http_egress"},
		{"host wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"*", "*.example.com", "*.Example.COM."}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "", ""},
		// Palyra's form with a wildcard label inside the name: before, refused
		// even with the opt-in, though Palyra accepts it.
		{"host inner wildcard label with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"api.*.example.com", "*.*.example.com", "api.example.*"}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "", ""},
		{"host inner wildcard label without opt-in", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"api.*.example.com"} }, "capabilities.http_egress_allowlist[0]", "wildcard_opt_in.http_egress"},
		{"host partial-label wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"example.com", "api*.example.com"}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "capabilities.http_egress_allowlist[1]", "whole label"},
		{"host wildcard suffix in label with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"api.ex*"}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "capabilities.http_egress_allowlist[0]", "whole label"},
		{"host wildcard with a bad label with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"*.-bad.com"}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host wildcard empty label with opt-in", func(m *Manifest) {
			m.Capabilities.HTTPEgressAllowlist = []string{"*..example.com"}
			m.Capabilities.WildcardOptIn.HTTPEgress = true
		}, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host underscore", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"bad_host.com"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host port", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"a.com:443"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host leading dash", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"-a.com"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host empty label", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"a..com"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host leading dot", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{".a.com"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host empty", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{""} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host label too long", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{strings.Repeat("a", 64) + ".com"} }, "capabilities.http_egress_allowlist[0]", "not a valid host"},
		{"host trailing dot and case ok", func(m *Manifest) { m.Capabilities.HTTPEgressAllowlist = []string{"API.Example.com."} }, "", ""},

		// Secrets.
		{"scope unknown kind", func(m *Manifest) { m.Capabilities.Secrets[0].Scope = "user:x" }, "capabilities.secrets[0].scope", "global, principal:<id>"},
		{"scope empty id", func(m *Manifest) { m.Capabilities.Secrets[0].Scope = "skill:" }, "capabilities.secrets[0].scope", "must not be empty"},
		{"scope bad id", func(m *Manifest) { m.Capabilities.Secrets[0].Scope = "channel:Ops" }, "capabilities.secrets[0].scope", "[a-z0-9._:-]"},
		{"scope global ok", func(m *Manifest) { m.Capabilities.Secrets[0].Scope = "global" }, "", ""},
		{"scope nested ids ok", func(m *Manifest) {
			m.Capabilities.Secrets = append(m.Capabilities.Secrets,
				SecretScope{Scope: "principal:admin:ops", KeyNames: []string{"k"}},
				SecretScope{Scope: "channel:discord:acct_1", KeyNames: []string{"k"}})
		}, "", ""},
		{"key names empty", func(m *Manifest) { m.Capabilities.Secrets[0].KeyNames = nil }, "capabilities.secrets[0].key_names", "at least one key name"},
		{"key name chars", func(m *Manifest) { m.Capabilities.Secrets[0].KeyNames = []string{"API_TOKEN"} }, "capabilities.secrets[0].key_names[0]", "[a-z0-9._:-]"},
		{"key name wildcard without opt-in", func(m *Manifest) { m.Capabilities.Secrets[0].KeyNames = []string{"api_*"} }, "capabilities.secrets[0].key_names[0]", "wildcard_opt_in.secrets"},
		{"key name wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.Secrets[0].KeyNames = []string{"api_*", "*"}
			m.Capabilities.WildcardOptIn.Secrets = true
		}, "", ""},

		// Device and node capabilities.
		{"device wildcard without opt-in", func(m *Manifest) { m.Capabilities.DeviceCapabilities = []string{"camera.*"} }, "capabilities.device_capabilities[0]", "wildcard_opt_in.device"},
		{"device chars", func(m *Manifest) { m.Capabilities.DeviceCapabilities = []string{"camera", "Mic"} }, "capabilities.device_capabilities[1]", "[a-z0-9._:-]"},
		{"node wildcard without opt-in", func(m *Manifest) { m.Capabilities.NodeCapabilities = []string{"*"} }, "capabilities.node_capabilities[0]", "wildcard_opt_in.node"},
		{"node wildcard with opt-in", func(m *Manifest) {
			m.Capabilities.NodeCapabilities = []string{"*"}
			m.Capabilities.WildcardOptIn.Node = true
		}, "", ""},

		// Quotas.
		{"timeout zero", func(m *Manifest) { m.Capabilities.Quotas.WallClockTimeoutMS = 0 }, "capabilities.quotas.wall_clock_timeout_ms", "greater than 0"},
		{"fuel zero", func(m *Manifest) { m.Capabilities.Quotas.FuelBudget = 0 }, "capabilities.quotas.fuel_budget", "greater than 0"},
		{"memory below a page", func(m *Manifest) { m.Capabilities.Quotas.MaxMemoryBytes = 65535 }, "capabilities.quotas.max_memory_bytes", "minimum of 65536"},
		{"memory one page ok", func(m *Manifest) { m.Capabilities.Quotas.MaxMemoryBytes = 65536 }, "", ""},

		// Builder.
		{"builder ok", withBuilder, "", ""},
		{"builder not experimental", func(m *Manifest) { withBuilder(m); m.Builder.Experimental = false }, "builder.experimental", "must be true"},
		{"builder source_kind blank", func(m *Manifest) { withBuilder(m); m.Builder.SourceKind = " " }, "builder.source_kind", "must not be empty"},
		{"builder source_ref blank", func(m *Manifest) { withBuilder(m); m.Builder.SourceRef = "" }, "builder.source_ref", "must not be empty"},
		{"builder rollout_flag blank", func(m *Manifest) { withBuilder(m); m.Builder.RolloutFlag = "" }, "builder.rollout_flag", "must not be empty"},
		{"builder checklist empty", func(m *Manifest) { withBuilder(m); m.Builder.Checklist.ProvenancePath = "" }, "builder.checklist.provenance_path", "must not be empty"},
		{"builder checklist traversal", func(m *Manifest) { withBuilder(m); m.Builder.Checklist.TestHarnessPath = "../t.json" }, "builder.checklist.test_harness_path", `".." segments`},
		{"builder checklist absolute", func(m *Manifest) { withBuilder(m); m.Builder.Checklist.CapabilityDeclarationPath = "/c.json" }, "builder.checklist.capability_declaration_path", "leading '/'"},

		// Operator.
		{"operator on v1", func(m *Manifest) { m.ManifestVersion = 1 }, "operator", "requires manifest_version = 2"},
		{"empty operator on v1 ok", func(m *Manifest) { m.ManifestVersion = 1; m.Operator = &Operator{Plugin: &Plugin{}} }, "", ""},
		{"display_name blank", func(m *Manifest) { m.Operator.DisplayName = "  " }, "operator.display_name", "must not be blank"},
		{"summary blank", func(m *Manifest) { m.Operator.Summary = "\t" }, "operator.summary", "must not be blank"},
		{"description blank", func(m *Manifest) { m.Operator.Description = " " }, "operator.description", "must not be blank"},
		{"category chars", func(m *Manifest) { m.Operator.Categories = []string{"net", "Web"} }, "operator.categories[1]", "[a-z0-9._-]"},
		{"tag colon", func(m *Manifest) { m.Operator.Tags = []string{"a:b"} }, "operator.tags[0]", "[a-z0-9._-]"},
		{"docs_url http", func(m *Manifest) { m.Operator.DocsURL = "http://example.com" }, "operator.docs_url", "https://"},
		{"docs_url fragment", func(m *Manifest) { m.Operator.DocsURL = "https://example.com/#x" }, "operator.docs_url", "fragment"},
		{"docs_url space", func(m *Manifest) { m.Operator.DocsURL = "https://example.com/a b" }, "operator.docs_url", "spaces"},
		{"default_tool_id unknown", func(m *Manifest) { m.Operator.Plugin.DefaultToolID = "acme.missing" }, "operator.plugin.default_tool_id", "not the id of any"},
		{"default_tool_id chars", func(m *Manifest) { m.Operator.Plugin.DefaultToolID = "Acme.echo" }, "operator.plugin.default_tool_id", "[a-z0-9._:-]"},
		{"default_module_path outside modules", func(m *Manifest) { m.Operator.Plugin.DefaultModulePath = "module.wasm" }, "operator.plugin.default_module_path", "modules/*.wasm"},
		{"default_module_path not wasm", func(m *Manifest) { m.Operator.Plugin.DefaultModulePath = "modules/m.wat" }, "operator.plugin.default_module_path", "modules/*.wasm"},
		{"default_module_path traversal", func(m *Manifest) { m.Operator.Plugin.DefaultModulePath = "modules/../m.wasm" }, "operator.plugin.default_module_path", "modules/*.wasm"},
		{"default_module_path empty segment", func(m *Manifest) { m.Operator.Plugin.DefaultModulePath = "modules//m.wasm" }, "operator.plugin.default_module_path", "empty segments"},
		{"default_entrypoint chars", func(m *Manifest) { m.Operator.Plugin.DefaultEntrypoint = "Run" }, "operator.plugin.default_entrypoint", "[a-z0-9_-]"},
		{"default_entrypoint dot", func(m *Manifest) { m.Operator.Plugin.DefaultEntrypoint = "run.x" }, "operator.plugin.default_entrypoint", "[a-z0-9_-]"},
		{"contracts all kinds ok", func(m *Manifest) {
			for _, k := range ContractKinds() {
				m.Operator.Plugin.Contracts = append(m.Operator.Plugin.Contracts, PluginContract{Kind: k, Version: 1})
			}
		}, "", ""},
		{"contract unknown kind", func(m *Manifest) { m.Operator.Plugin.Contracts = []PluginContract{{Kind: "teleporter", Version: 1}} }, "operator.plugin.contracts[0].kind", "unknown contract kind"},
		// Kinds we once accepted that Palyra's TypedPluginContractKind lacks.
		{"contract agent_harness", func(m *Manifest) { m.Operator.Plugin.Contracts = []PluginContract{{Kind: "agent_harness", Version: 1}} }, "operator.plugin.contracts[0].kind", "unknown contract kind"},
		{"contract tool_result_middleware", func(m *Manifest) {
			m.Operator.Plugin.Contracts = []PluginContract{{Kind: "memory_provider", Version: 1}, {Kind: "tool_result_middleware", Version: 1}}
		}, "operator.plugin.contracts[1].kind", "unknown contract kind"},
		{"contract plugin_lifecycle_hook", func(m *Manifest) {
			m.Operator.Plugin.Contracts = []PluginContract{{Kind: "plugin_lifecycle_hook", Version: 1}}
		}, "operator.plugin.contracts[0].kind", "unknown contract kind"},
		{"contract version zero", func(m *Manifest) { m.Operator.Plugin.Contracts = []PluginContract{{Kind: "memory_provider"}} }, "operator.plugin.contracts[0].version", "non-zero version"},
		{"contract version unsupported", func(m *Manifest) {
			m.Operator.Plugin.Contracts = []PluginContract{{Kind: "run_lifecycle_hook", Version: 99}}
		}, "operator.plugin.contracts[0].version", "not supported by the plugin SDK ABI"},
		{"contract duplicate kind", func(m *Manifest) {
			m.Operator.Plugin.Contracts = []PluginContract{{Kind: "memory_provider", Version: 1}, {Kind: "memory_provider", Version: 1}}
		}, "operator.plugin.contracts[1].kind", "duplicate contract kind"},

		// Operator config contract.
		{"config schema_version zero", func(m *Manifest) { m.Operator.Config.SchemaVersion = 0 }, "operator.config.schema_version", "non-zero"},
		{"config required chars", func(m *Manifest) { m.Operator.Config.Required = []string{"API"} }, "operator.config.required[0]", "[a-z0-9._-]"},
		{"config required undeclared", func(m *Manifest) { m.Operator.Config.Required = []string{"api_token", "region"} }, "operator.config.required[1]", "not declared"},
		{"config property name", func(m *Manifest) { prop(m, "Region Name", ConfigProperty{Type: ConfigString}) }, `operator.config.properties."Region Name"`, "[a-z0-9._-]"},
		{"config property type", func(m *Manifest) { prop(m, "region", ConfigProperty{Type: "date"}) }, "operator.config.properties.region.type", "unknown type"},
		{"config property title blank", func(m *Manifest) { prop(m, "region", ConfigProperty{Type: ConfigString, Title: " "}) }, "operator.config.properties.region.title", "must not be blank"},
		{"config property description blank", func(m *Manifest) { prop(m, "region", ConfigProperty{Type: ConfigString, Description: " "}) }, "operator.config.properties.region.description", "must not be blank"},
		{"config enum needs string", func(m *Manifest) { prop(m, "retries", ConfigProperty{Type: ConfigInteger, EnumValues: []string{"1"}}) }, "operator.config.properties.retries.enum_values", `type = "string"`},
		{"config enum empty value", func(m *Manifest) {
			prop(m, "region", ConfigProperty{Type: ConfigString, EnumValues: []string{"eu", " "}})
		}, "operator.config.properties.region.enum_values[1]", "must not be empty"},
		{"config enum duplicate", func(m *Manifest) {
			prop(m, "region", ConfigProperty{Type: ConfigString, EnumValues: []string{"eu", " eu"}})
		}, "operator.config.properties.region.enum_values[1]", "duplicate"},
		{"config default not in enum", func(m *Manifest) {
			prop(m, "region", ConfigProperty{Type: ConfigString, EnumValues: []string{"eu", "us"}, Default: "mars"})
		}, "operator.config.properties.region.default", "not one of enum_values"},
		{"config default in enum ok", func(m *Manifest) {
			prop(m, "region", ConfigProperty{Type: ConfigString, EnumValues: []string{"eu", "us"}, Default: "us"})
		}, "", ""},
		{"config default string for integer", func(m *Manifest) { prop(m, "retries", ConfigProperty{Type: ConfigInteger, Default: "3"}) }, "operator.config.properties.retries.default", `does not match type "integer"`},
		{"config default float for integer", func(m *Manifest) { prop(m, "retries", ConfigProperty{Type: ConfigInteger, Default: 3.0}) }, "operator.config.properties.retries.default", `does not match type "integer"`},
		{"config default bool for number", func(m *Manifest) { prop(m, "ratio", ConfigProperty{Type: ConfigNumber, Default: true}) }, "operator.config.properties.ratio.default", `does not match type "number"`},
		{"config default int for boolean", func(m *Manifest) { prop(m, "on", ConfigProperty{Type: ConfigBoolean, Default: int64(1)}) }, "operator.config.properties.on.default", `does not match type "boolean"`},
		{"config default mixed list", func(m *Manifest) {
			prop(m, "hosts", ConfigProperty{Type: ConfigStringList, Default: []any{"a", int64(1)}})
		}, "operator.config.properties.hosts.default", `does not match type "string_list"`},
		{"config defaults of every type ok", func(m *Manifest) {
			prop(m, "retries", ConfigProperty{Type: ConfigInteger, Default: int64(3)})
			prop(m, "ratio", ConfigProperty{Type: ConfigNumber, Default: 0.5})
			prop(m, "count", ConfigProperty{Type: ConfigNumber, Default: int64(2)})
			prop(m, "on", ConfigProperty{Type: ConfigBoolean, Default: false})
			prop(m, "hosts", ConfigProperty{Type: ConfigStringList, Default: []any{"a", "b"}})
		}, "", ""},

		// Integrity.
		{"integrity ok", func(m *Manifest) {
			m.Integrity.Files = []IntegrityFile{{Path: "modules/m.wasm", SHA256: strings.Repeat("ab", 32)}}
		}, "", ""},
		{"integrity path traversal", func(m *Manifest) {
			m.Integrity.Files = []IntegrityFile{{Path: "../m.wasm", SHA256: strings.Repeat("0", 64)}}
		}, "integrity.files[0].path", `".." segments`},
		{"integrity lists skill.toml", func(m *Manifest) {
			m.Integrity.Files = []IntegrityFile{{Path: "skill.toml", SHA256: strings.Repeat("0", 64)}}
		}, "integrity.files[0].path", "not covered"},
		{"integrity duplicate path", func(m *Manifest) {
			m.Integrity.Files = []IntegrityFile{{Path: "a.json", SHA256: strings.Repeat("0", 64)}, {Path: "a.json", SHA256: strings.Repeat("1", 64)}}
		}, "integrity.files[1].path", "duplicate path"},
		{"integrity uppercase hex", func(m *Manifest) {
			m.Integrity.Files = []IntegrityFile{{Path: "a.json", SHA256: strings.Repeat("AB", 32)}}
		}, "integrity.files[0].sha256", "64 lowercase hex"},
		{"integrity short hex", func(m *Manifest) { m.Integrity.Files = []IntegrityFile{{Path: "a.json", SHA256: "abc"}} }, "integrity.files[0].sha256", "64 lowercase hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample(t)
			tt.mutate(m)
			err := Validate(m)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate: unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v, want *Error for key %s", err, tt.key)
			}
			if !errors.Is(err, ErrInvalid) || e.Key != tt.key || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("Validate = %q (key %q), want ErrInvalid at key %q with message containing %q", err, e.Key, tt.key, tt.msg)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate(nil) = %v, want ErrInvalid", err)
	}
}

// A manifest built in code, as the generator does, validates once quotas and
// the version are set the way Parse would set them.
func TestValidateBuiltInCode(t *testing.T) {
	m := &Manifest{
		ManifestVersion: CurrentManifestVersion,
		SkillID:         "northwind.weather",
		Name:            "Weather lookup",
		Version:         "0.3.1",
		Publisher:       "northwind",
		Entrypoints: Entrypoints{Tools: []Tool{{
			ID: "northwind.forecast", Name: "forecast", Description: "Forecast for a city",
			InputSchema:  map[string]any{"type": "object"},
			OutputSchema: map[string]any{"type": "object"},
		}}},
		Capabilities: Capabilities{Quotas: DefaultQuotas()},
		Compat:       Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0"},
	}
	if err := Validate(m); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	m.Capabilities.Quotas = Quotas{}
	if err := Validate(m); err == nil {
		t.Fatal("Validate accepted zero quotas")
	}
}

func TestValueValidators(t *testing.T) {
	tests := []struct {
		fn    func(string) error
		value string
		ok    bool
	}{
		{ValidateSkillID, "northwind.weather", true},
		{ValidateSkillID, "a", true},
		{ValidateSkillID, "a-b_c.d9", true},
		{ValidateSkillID, "a:b", false},
		{ValidateSkillID, "a..b", false},
		{ValidateSkillID, "A.b", false},
		{ValidateSkillID, "", false},
		{ValidatePublisher, "northwind", true},
		{ValidatePublisher, "north:wind.eu-1_x", true},
		{ValidatePublisher, "North", false},
		{ValidatePublisher, "north wind", false},
		{ValidatePublisher, "", false},
		{ValidateVersion, "0.3.1", true},
		{ValidateVersion, "10.20.30", true},
		{ValidateVersion, "4294967295.0.0", true},
		{ValidateVersion, "0.3", false},
		{ValidateVersion, "0.3.1.4", false},
		{ValidateVersion, "00.3.1", false},
		{ValidateVersion, "-1.0.0", false},
		{ValidateVersion, "1.0.0+build", false},
		{ValidateVersion, "", false},
	}
	for _, tt := range tests {
		err := tt.fn(tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("validate(%q) = %v, want ok=%v", tt.value, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("validate(%q) = %v, want ErrInvalid", tt.value, err)
		}
	}
}

// TestContractKindsArePalyras pins ContractKinds to Palyra's
// palyra_plugins_sdk::TypedPluginContractKind (crates/palyra-plugins/sdk/
// src/lib.rs), variant for variant in declaration order: a kind Palyra
// lacks makes a manifest Palyra refuses to parse.
func TestContractKindsArePalyras(t *testing.T) {
	palyra := []string{
		"memory_provider", "context_engine", "routing_strategy", "run_lifecycle_hook",
		"compaction_provider", "diagnostics_provider", "policy_signal_provider",
		"channel_binding_provider", "delivery_adapter", "scheduler_task_provider",
		"model_auth_provider", "connector_adapter",
	}
	if got := ContractKinds(); !slices.Equal(got, palyra) {
		t.Fatalf("ContractKinds() = %v\nwant Palyra's %v", got, palyra)
	}
}
