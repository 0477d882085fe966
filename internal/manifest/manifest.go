package manifest

// The struct tags carry the schema. `toml` names the key (matched exactly,
// case-sensitively, by Parse) and its encoding options; `manifest` adds what
// Palyra's serde attributes say and TOML tags cannot:
//
//	required      the key must be present (serde: no #[serde(default)])
//	nonempty      when present, the string must not be "" (serde: Option<String>,
//	              where Some("") is rejected by Palyra's validation)
//	alias=NAME    NAME is accepted on input as a synonym (serde: alias)

// Manifest is a parsed skill.toml. Field names and TOML keys follow Palyra's
// SkillManifest exactly; see the package doc for the validation rules.
type Manifest struct {
	// ManifestVersion is 1 (legacy) or 2 (current, the default when absent).
	ManifestVersion int          `toml:"manifest_version" json:"manifest_version"`
	SkillID         string       `toml:"skill_id" json:"skill_id" manifest:"required"`
	Name            string       `toml:"name" json:"name" manifest:"required"`
	Version         string       `toml:"version" json:"version" manifest:"required"`
	Publisher       string       `toml:"publisher" json:"publisher" manifest:"required"`
	Entrypoints     Entrypoints  `toml:"entrypoints" json:"entrypoints" manifest:"required"`
	Capabilities    Capabilities `toml:"capabilities" json:"capabilities"`
	Compat          Compat       `toml:"compat" json:"compat" manifest:"required"`
	Integrity       Integrity    `toml:"integrity" json:"integrity"`
	Builder         *Builder     `toml:"builder,omitempty" json:"builder,omitempty"`
	// Operator is manifest v2's operator-facing metadata. Parse leaves it nil
	// when the table is absent or carries nothing (Palyra's is_empty), so a
	// v1 manifest written by Palyra, which always emits an empty [operator],
	// parses to nil.
	Operator *Operator `toml:"operator,omitempty" json:"operator,omitempty"`
}

// Entrypoints lists the tools a skill exposes; at least one is required.
type Entrypoints struct {
	Tools []Tool `toml:"tools" json:"tools" manifest:"required"`
}

// Tool is one callable tool. Name is the exported Wasm function called.
type Tool struct {
	ID          string `toml:"id" json:"id" manifest:"required"`
	Name        string `toml:"name" json:"name" manifest:"required"`
	Description string `toml:"description" json:"description" manifest:"required"`
	// InputSchema and OutputSchema are JSON Schema objects. Values are the
	// JSON-compatible subset of TOML: string, int64, float64 (finite), bool,
	// []any and map[string]any; TOML date-times are rejected.
	InputSchema  map[string]any `toml:"input_schema,inline" json:"input_schema" manifest:"required"`
	OutputSchema map[string]any `toml:"output_schema,inline" json:"output_schema" manifest:"required"`
	Risk         Risk           `toml:"risk,inline" json:"risk"`
}

// Risk flags for one tool; either flag makes the host ask for approval.
type Risk struct {
	DefaultSensitive bool `toml:"default_sensitive" json:"default_sensitive"`
	RequiresApproval bool `toml:"requires_approval" json:"requires_approval"`
}

// Capabilities are what a skill asks the operator for.
type Capabilities struct {
	Filesystem          Filesystem    `toml:"filesystem" json:"filesystem"`
	HTTPEgressAllowlist []string      `toml:"http_egress_allowlist" json:"http_egress_allowlist"`
	Secrets             []SecretScope `toml:"secrets" json:"secrets"`
	DeviceCapabilities  []string      `toml:"device_capabilities" json:"device_capabilities"`
	NodeCapabilities    []string      `toml:"node_capabilities" json:"node_capabilities"`
	Quotas              Quotas        `toml:"quotas" json:"quotas"`
	WildcardOptIn       WildcardOptIn `toml:"wildcard_opt_in" json:"wildcard_opt_in"`
}

// Filesystem roots, relative to the skill's data dir.
type Filesystem struct {
	ReadRoots  []string `toml:"read_roots" json:"read_roots"`
	WriteRoots []string `toml:"write_roots" json:"write_roots"`
}

// SecretScope requests secret keys within one scope
// (global, principal:ID, channel:ID or skill:ID).
type SecretScope struct {
	Scope    string   `toml:"scope" json:"scope" manifest:"required"`
	KeyNames []string `toml:"key_names" json:"key_names"`
}

// WildcardOptIn unlocks '*' values per capability class.
type WildcardOptIn struct {
	Filesystem bool `toml:"filesystem" json:"filesystem"`
	HTTPEgress bool `toml:"http_egress" json:"http_egress"`
	Secrets    bool `toml:"secrets" json:"secrets"`
	Device     bool `toml:"device" json:"device"`
	Node       bool `toml:"node" json:"node"`
}

// Palyra's quota defaults, used for keys absent from [capabilities.quotas].
const (
	DefaultWallClockTimeoutMS = 30_000
	DefaultFuelBudget         = 10_000_000
	DefaultMaxMemoryBytes     = 64 << 20
	// MinMaxMemoryBytes is the smallest accepted max_memory_bytes: one Wasm page.
	MinMaxMemoryBytes = 64 << 10
)

// Quotas bound one call. Absent keys take Palyra's defaults.
type Quotas struct {
	WallClockTimeoutMS uint64 `toml:"wall_clock_timeout_ms" json:"wall_clock_timeout_ms"`
	FuelBudget         uint64 `toml:"fuel_budget" json:"fuel_budget"`
	MaxMemoryBytes     uint64 `toml:"max_memory_bytes" json:"max_memory_bytes"`
}

// DefaultQuotas returns Palyra's default quotas (30 s, 10M fuel, 64 MiB).
func DefaultQuotas() Quotas {
	return Quotas{
		WallClockTimeoutMS: DefaultWallClockTimeoutMS,
		FuelBudget:         DefaultFuelBudget,
		MaxMemoryBytes:     DefaultMaxMemoryBytes,
	}
}

// Compat is the host range a skill declares. On input Parse also accepts
// Palyra's older names min_protocol_major and min_runtime_version; Encode
// always writes the current names.
type Compat struct {
	RequiredProtocolMajor int    `toml:"required_protocol_major" json:"required_protocol_major" manifest:"required,alias=min_protocol_major"`
	MinPalyraVersion      string `toml:"min_palyra_version" json:"min_palyra_version" manifest:"required,alias=min_runtime_version"`
	MaxPalyraVersion      string `toml:"max_palyra_version,omitempty" json:"max_palyra_version,omitempty" manifest:"nonempty"`
}

// Integrity lists the SHA-256 of every artifact entry but skill.toml and
// signature.json; the packager writes it.
type Integrity struct {
	Files []IntegrityFile `toml:"files,multiline,inline" json:"files"`
}

// IntegrityFile is one entry of the integrity list.
type IntegrityFile struct {
	Path   string `toml:"path" json:"path" manifest:"required"`
	SHA256 string `toml:"sha256" json:"sha256" manifest:"required"`
}

// Builder is Palyra's metadata for skills made by its experimental builder.
type Builder struct {
	Experimental bool             `toml:"experimental" json:"experimental" manifest:"required"`
	SourceKind   string           `toml:"source_kind" json:"source_kind" manifest:"required"`
	SourceRef    string           `toml:"source_ref" json:"source_ref" manifest:"required"`
	RolloutFlag  string           `toml:"rollout_flag" json:"rollout_flag" manifest:"required"`
	ReviewStatus string           `toml:"review_status,omitempty" json:"review_status,omitempty"`
	Checklist    BuilderChecklist `toml:"checklist" json:"checklist" manifest:"required"`
}

// BuilderChecklist names review artifacts of builder-generated skills.
type BuilderChecklist struct {
	CapabilityDeclarationPath string `toml:"capability_declaration_path" json:"capability_declaration_path" manifest:"required"`
	ProvenancePath            string `toml:"provenance_path" json:"provenance_path" manifest:"required"`
	TestHarnessPath           string `toml:"test_harness_path" json:"test_harness_path" manifest:"required"`
	ReviewNotes               string `toml:"review_notes,omitempty" json:"review_notes,omitempty"`
}

// Operator is manifest v2's operator-facing metadata. Empty strings mean
// "absent"; Parse rejects a key that is present with an empty value, as
// Palyra does.
type Operator struct {
	DisplayName string          `toml:"display_name,omitempty" json:"display_name,omitempty" manifest:"nonempty"`
	Summary     string          `toml:"summary,omitempty" json:"summary,omitempty" manifest:"nonempty"`
	Description string          `toml:"description,omitempty" json:"description,omitempty" manifest:"nonempty"`
	Categories  []string        `toml:"categories,omitempty" json:"categories,omitempty"`
	Tags        []string        `toml:"tags,omitempty" json:"tags,omitempty"`
	DocsURL     string          `toml:"docs_url,omitempty" json:"docs_url,omitempty" manifest:"nonempty"`
	Plugin      *Plugin         `toml:"plugin,omitempty" json:"plugin,omitempty"`
	Config      *ConfigContract `toml:"config,omitempty" json:"config,omitempty"`
}

// Plugin holds plugin defaults and the typed plugin contracts the skill
// implements. Parse leaves Operator.Plugin nil when the table is empty.
type Plugin struct {
	DefaultToolID     string           `toml:"default_tool_id,omitempty" json:"default_tool_id,omitempty" manifest:"nonempty"`
	DefaultModulePath string           `toml:"default_module_path,omitempty" json:"default_module_path,omitempty" manifest:"nonempty"`
	DefaultEntrypoint string           `toml:"default_entrypoint,omitempty" json:"default_entrypoint,omitempty" manifest:"nonempty"`
	Contracts         []PluginContract `toml:"contracts,omitempty" json:"contracts,omitempty"`
}

// PluginContract declares one typed plugin contract (Palyra's
// palyra_plugins_sdk::TypedPluginContractDeclaration). Version defaults to 1,
// the only version Palyra's SDK ABI publishes.
type PluginContract struct {
	Kind    string `toml:"kind" json:"kind" manifest:"required"`
	Version int    `toml:"version" json:"version"`
}

// ContractKinds are the typed plugin contract kinds Palyra's plugin SDK
// knows (palyra_plugins_sdk::TypedPluginContractKind, serde snake_case),
// in its declaration order. Exactly these: Palyra's manifest parser
// rejects any other kind, so accepting one here would make a skill that
// Palyra cannot read.
func ContractKinds() []string {
	return []string{
		"memory_provider", "context_engine", "routing_strategy", "run_lifecycle_hook",
		"compaction_provider", "diagnostics_provider", "policy_signal_provider",
		"channel_binding_provider", "delivery_adapter", "scheduler_task_provider",
		"model_auth_provider", "connector_adapter",
	}
}

// ConfigContract is the operator configuration a skill accepts.
// SchemaVersion defaults to 1 when [operator.config] omits it.
type ConfigContract struct {
	SchemaVersion int                       `toml:"schema_version" json:"schema_version"`
	Required      []string                  `toml:"required,omitempty" json:"required,omitempty"`
	Properties    map[string]ConfigProperty `toml:"properties,omitempty" json:"properties,omitempty"`
}

// ConfigValueType is the declared type of one operator-config property.
type ConfigValueType string

// The config value types Palyra accepts.
const (
	ConfigString     ConfigValueType = "string"
	ConfigInteger    ConfigValueType = "integer"
	ConfigNumber     ConfigValueType = "number"
	ConfigBoolean    ConfigValueType = "boolean"
	ConfigStringList ConfigValueType = "string_list"
)

// ConfigProperty is one typed operator-config key. Default, when set, is a
// JSON-compatible value (see Tool.InputSchema) of the declared Type.
type ConfigProperty struct {
	Type        ConfigValueType `toml:"type" json:"type" manifest:"required"`
	Title       string          `toml:"title,omitempty" json:"title,omitempty" manifest:"nonempty"`
	Description string          `toml:"description,omitempty" json:"description,omitempty" manifest:"nonempty"`
	Default     any             `toml:"default,omitempty" json:"default,omitempty"`
	Redacted    bool            `toml:"redacted" json:"redacted"`
	EnumValues  []string        `toml:"enum_values,omitempty" json:"enum_values,omitempty"`
}
