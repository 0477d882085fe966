package manifest

// Manifest is a parsed skill.toml. Field names and TOML keys follow Palyra's
// SkillManifest exactly; see the package doc for the validation rules.
type Manifest struct {
	ManifestVersion int          `toml:"manifest_version" json:"manifest_version"`
	SkillID         string       `toml:"skill_id" json:"skill_id"`
	Name            string       `toml:"name" json:"name"`
	Version         string       `toml:"version" json:"version"`
	Publisher       string       `toml:"publisher" json:"publisher"`
	Entrypoints     Entrypoints  `toml:"entrypoints" json:"entrypoints"`
	Capabilities    Capabilities `toml:"capabilities" json:"capabilities"`
	Compat          Compat       `toml:"compat" json:"compat"`
	Integrity       Integrity    `toml:"integrity" json:"integrity"`
	Builder         *Builder     `toml:"builder,omitempty" json:"builder,omitempty"`
	Operator        *Operator    `toml:"operator,omitempty" json:"operator,omitempty"`
}

// Entrypoints lists the tools a skill exposes; at least one is required.
type Entrypoints struct {
	Tools []Tool `toml:"tools" json:"tools"`
}

// Tool is one callable tool. Name is the exported Wasm function called.
type Tool struct {
	ID           string         `toml:"id" json:"id"`
	Name         string         `toml:"name" json:"name"`
	Description  string         `toml:"description" json:"description"`
	InputSchema  map[string]any `toml:"input_schema" json:"input_schema"`
	OutputSchema map[string]any `toml:"output_schema" json:"output_schema"`
	Risk         Risk           `toml:"risk" json:"risk"`
}

// Risk flags for one tool.
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
	Scope    string   `toml:"scope" json:"scope"`
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

// Quotas bound one call. Absent keys take Palyra's defaults.
type Quotas struct {
	WallClockTimeoutMS uint64 `toml:"wall_clock_timeout_ms" json:"wall_clock_timeout_ms"`
	FuelBudget         uint64 `toml:"fuel_budget" json:"fuel_budget"`
	MaxMemoryBytes     uint64 `toml:"max_memory_bytes" json:"max_memory_bytes"`
}

// Compat is the host range a skill declares.
type Compat struct {
	RequiredProtocolMajor int    `toml:"required_protocol_major" json:"required_protocol_major"`
	MinPalyraVersion      string `toml:"min_palyra_version" json:"min_palyra_version"`
	MaxPalyraVersion      string `toml:"max_palyra_version,omitempty" json:"max_palyra_version,omitempty"`
}

// Integrity lists the SHA-256 of every artifact entry but skill.toml and
// signature.json; the packager writes it.
type Integrity struct {
	Files []IntegrityFile `toml:"files" json:"files"`
}

// IntegrityFile is one entry of the integrity list.
type IntegrityFile struct {
	Path   string `toml:"path" json:"path"`
	SHA256 string `toml:"sha256" json:"sha256"`
}

// Builder is Palyra's metadata for skills made by its experimental builder.
type Builder struct {
	Experimental bool             `toml:"experimental" json:"experimental"`
	SourceKind   string           `toml:"source_kind" json:"source_kind"`
	SourceRef    string           `toml:"source_ref" json:"source_ref"`
	RolloutFlag  string           `toml:"rollout_flag" json:"rollout_flag"`
	ReviewStatus string           `toml:"review_status,omitempty" json:"review_status,omitempty"`
	Checklist    BuilderChecklist `toml:"checklist" json:"checklist"`
}

// BuilderChecklist names review artifacts of builder-generated skills.
type BuilderChecklist struct {
	CapabilityDeclarationPath string `toml:"capability_declaration_path" json:"capability_declaration_path"`
	ProvenancePath            string `toml:"provenance_path" json:"provenance_path"`
	TestHarnessPath           string `toml:"test_harness_path" json:"test_harness_path"`
	ReviewNotes               string `toml:"review_notes,omitempty" json:"review_notes,omitempty"`
}

// Operator is manifest v2's operator-facing metadata.
type Operator struct {
	DisplayName string          `toml:"display_name,omitempty" json:"display_name,omitempty"`
	Summary     string          `toml:"summary,omitempty" json:"summary,omitempty"`
	Description string          `toml:"description,omitempty" json:"description,omitempty"`
	Categories  []string        `toml:"categories,omitempty" json:"categories,omitempty"`
	Tags        []string        `toml:"tags,omitempty" json:"tags,omitempty"`
	DocsURL     string          `toml:"docs_url,omitempty" json:"docs_url,omitempty"`
	Plugin      *Plugin         `toml:"plugin,omitempty" json:"plugin,omitempty"`
	Config      *ConfigContract `toml:"config,omitempty" json:"config,omitempty"`
}

// Plugin holds plugin defaults.
type Plugin struct {
	DefaultToolID     string           `toml:"default_tool_id,omitempty" json:"default_tool_id,omitempty"`
	DefaultModulePath string           `toml:"default_module_path,omitempty" json:"default_module_path,omitempty"`
	DefaultEntrypoint string           `toml:"default_entrypoint,omitempty" json:"default_entrypoint,omitempty"`
	Contracts         []map[string]any `toml:"contracts,omitempty" json:"contracts,omitempty"`
}

// ConfigContract is the operator configuration a skill accepts.
type ConfigContract struct {
	SchemaVersion int                       `toml:"schema_version" json:"schema_version"`
	Required      []string                  `toml:"required,omitempty" json:"required,omitempty"`
	Properties    map[string]ConfigProperty `toml:"properties,omitempty" json:"properties,omitempty"`
}

// ConfigProperty is one typed operator-config key.
type ConfigProperty struct {
	Type        string   `toml:"type" json:"type"` // string | integer | number | boolean | string_list
	Title       string   `toml:"title,omitempty" json:"title,omitempty"`
	Description string   `toml:"description,omitempty" json:"description,omitempty"`
	Default     any      `toml:"default,omitempty" json:"default,omitempty"`
	Redacted    bool     `toml:"redacted" json:"redacted"`
	EnumValues  []string `toml:"enum_values,omitempty" json:"enum_values,omitempty"`
}
