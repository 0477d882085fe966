package manifest

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const baseDoc = `manifest_version = 2
skill_id = "acme.echo"
name = "Echo"
version = "1.0.0"
publisher = "acme"

[entrypoints]
[[entrypoints.tools]]
id = "acme.echo"
name = "echo"
description = "Echo payload"
input_schema = { type = "object" }
output_schema = { type = "object" }

[capabilities.quotas]
fuel_budget = 5000000

[compat]
required_protocol_major = 1
min_palyra_version = "0.1.0"
`

// lineOf returns the 1-based line of the first occurrence of marker.
func lineOf(t *testing.T, doc, marker string) int {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("marker %q not in document", marker)
	}
	return strings.Count(doc[:i], "\n") + 1
}

func TestParseBase(t *testing.T) {
	m, err := Parse([]byte(baseDoc))
	if err != nil {
		t.Fatalf("Parse(baseDoc): %v", err)
	}
	want := Quotas{WallClockTimeoutMS: DefaultWallClockTimeoutMS, FuelBudget: 5000000, MaxMemoryBytes: DefaultMaxMemoryBytes}
	if m.Capabilities.Quotas != want {
		t.Errorf("quotas = %+v, want %+v (absent keys take defaults)", m.Capabilities.Quotas, want)
	}
}

func TestParseErrors(t *testing.T) {
	const hex64 = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
	tests := []struct {
		name     string
		old, new string // replace old by new in baseDoc; old "" appends new
		err      error
		key      string
		line     string // marker whose line Error.Line must be; "" means 0
		msg      string
	}{
		// Keys are case-sensitive, everywhere.
		{"wrong-case top-level key", `skill_id = "acme.echo"`, `Skill_ID = "acme.echo"`, ErrUnknownKey, "Skill_ID", "Skill_ID", `did you mean "skill_id"`},
		{"wrong-case nested key", "fuel_budget = 5000000", "Fuel_Budget = 5000000", ErrUnknownKey, "capabilities.quotas.Fuel_Budget", "Fuel_Budget", `did you mean "fuel_budget"`},
		{"wrong-case table", "[compat]", "[Compat]", ErrUnknownKey, "Compat", "[Compat]", `did you mean "compat"`},
		{"wrong-case inline key", `output_schema = { type = "object" }`, `output_schema = { type = "object" }` + "\nrisk = { Default_Sensitive = true }", ErrUnknownKey, "entrypoints.tools[0].risk.Default_Sensitive", "risk =", `did you mean "default_sensitive"`},
		{"wrong-case alias", "required_protocol_major = 1", "Min_Protocol_Major = 1", ErrUnknownKey, "compat.Min_Protocol_Major", "Min_Protocol_Major", `did you mean "min_protocol_major"`},
		// Unknown keys.
		{"unknown key", "fuel_budget = 5000000", "fuel_budget = 5000000\ncpu_shares = 2", ErrUnknownKey, "capabilities.quotas.cpu_shares", "cpu_shares", `unknown key "cpu_shares"`},
		{"unknown table", "", "\n[extras]\nx = 1\n", ErrUnknownKey, "extras", "[extras]", `unknown key "extras"`},
		{"unknown key in second tool", "[capabilities.quotas]", "[[entrypoints.tools]]\nid = \"acme.two\"\nname = \"two\"\ndescription = \"d\"\ninput_schema = {}\noutput_schema = {}\ntimeout = 3\n\n[capabilities.quotas]", ErrUnknownKey, "entrypoints.tools[1].timeout", "timeout", `unknown key "timeout"`},
		{"unknown key in inline array element", "", "\n[integrity]\nfiles = [\n  { path = \"a.json\", sha256 = \"" + hex64 + "\" },\n  { path = \"b.json\", sha256 = \"" + hex64 + "\", size = 3 },\n]\n", ErrUnknownKey, "integrity.files[1].size", `"b.json"`, `unknown key "size"`},
		// Wrong types, with the line.
		{"string for integer", "fuel_budget = 5000000", `fuel_budget = "lots"`, ErrType, "capabilities.quotas.fuel_budget", "fuel_budget", "must be an integer, found string"},
		{"string for manifest_version", "manifest_version = 2", `manifest_version = "2"`, ErrType, "manifest_version", "manifest_version", "must be an integer, found string"},
		{"float for string", `version = "1.0.0"`, "version = 1.0", ErrType, "version", "version = 1.0", "must be a string, found float"},
		{"string for array", "[capabilities.quotas]", "[capabilities]\nhttp_egress_allowlist = \"a.com\"\n\n[capabilities.quotas]", ErrType, "capabilities.http_egress_allowlist", "http_egress_allowlist", "must be an array, found string"},
		{"table for array of tables", "[[entrypoints.tools]]", "[entrypoints.tools]", ErrType, "entrypoints.tools", "[entrypoints.tools]", "must be an array, found table"},
		{"integer for boolean", "", "\n[capabilities.wildcard_opt_in]\nhttp_egress = 1\n", ErrType, "capabilities.wildcard_opt_in.http_egress", "http_egress", "must be a boolean, found integer"},
		{"negative quota", "fuel_budget = 5000000", "fuel_budget = -1", ErrType, "capabilities.quotas.fuel_budget", "fuel_budget", "must not be negative"},
		{"u32 overflow", "required_protocol_major = 1", "required_protocol_major = 4294967296", ErrType, "compat.required_protocol_major", "required_protocol_major", "out of range"},
		{"schema not a table", `input_schema = { type = "object" }`, `input_schema = "object"`, ErrType, "entrypoints.tools[0].input_schema", "input_schema", "must be a JSON object (a TOML table), found string"},
		{"schema with a date", `input_schema = { type = "object" }`, `input_schema = { type = "object", default = 1979-05-27 }`, ErrType, "entrypoints.tools[0].input_schema.default", "input_schema", "TOML date has no JSON equivalent"},
		{"schema with nan", `output_schema = { type = "object" }`, `output_schema = { type = "object", maximum = nan }`, ErrType, "entrypoints.tools[0].output_schema.maximum", "output_schema", "not representable in JSON"},
		{"config default date-time", "", "\n[operator.config.properties.since]\ntype = \"string\"\ndefault = 1979-05-27T07:32:00Z\n", ErrType, "operator.config.properties.since.default", "default =", "date-time has no JSON equivalent"},
		// Missing required keys.
		{"missing skill_id", "skill_id = \"acme.echo\"\n", "", ErrMissingKey, "skill_id", "", "required key is missing"},
		{"missing entrypoints", "[entrypoints]\n[[entrypoints.tools]]\nid = \"acme.echo\"\nname = \"echo\"\ndescription = \"Echo payload\"\ninput_schema = { type = \"object\" }\noutput_schema = { type = \"object\" }\n", "", ErrMissingKey, "entrypoints", "", "required key is missing"},
		{"missing compat", "[compat]\nrequired_protocol_major = 1\nmin_palyra_version = \"0.1.0\"\n", "", ErrMissingKey, "compat", "", "required key is missing"},
		{"missing compat key", "min_palyra_version = \"0.1.0\"\n", "", ErrMissingKey, "compat.min_palyra_version", "[compat]", "required key is missing"},
		{"missing tool description", "description = \"Echo payload\"\n", "", ErrMissingKey, "entrypoints.tools[0].description", "[[entrypoints.tools]]", "required key is missing"},
		{"missing contract kind", "", "\n[[operator.plugin.contracts]]\nversion = 1\n", ErrMissingKey, "operator.plugin.contracts[0].kind", "[[operator.plugin.contracts]]", "required key is missing"},
		{"missing builder checklist", "", "\n[builder]\nexperimental = true\nsource_kind = \"k\"\nsource_ref = \"r\"\nrollout_flag = \"f\"\n", ErrMissingKey, "builder.checklist", "[builder]", "required key is missing"},
		{"missing config property type", "", "\n[operator.config.properties.region]\ntitle = \"Region\"\n", ErrMissingKey, "operator.config.properties.region.type", "[operator.config.properties.region]", "required key is missing"},
		// An alias and its current name together.
		{"alias and name", "min_palyra_version = \"0.1.0\"", "min_palyra_version = \"0.1.0\"\nmin_protocol_major = 1", ErrDuplicateKey, "compat.min_protocol_major", "min_protocol_major", `give only "required_protocol_major"`},
		// Not TOML.
		{"unterminated string", `name = "Echo"`, `name = "Echo`, ErrSyntax, "", `name = "Echo`, ""},
		{"duplicate key", `name = "Echo"`, "name = \"Echo\"\nname = \"Other\"", ErrSyntax, "name", `name = "Other"`, "already defined"},
		// Present-but-empty optional strings (Option<String> in Palyra).
		{"empty display_name", "", "\n[operator]\ndisplay_name = \"\"\n", ErrInvalid, "operator.display_name", "display_name", "must not be empty"},
		{"empty max_palyra_version", `min_palyra_version = "0.1.0"`, "min_palyra_version = \"0.1.0\"\nmax_palyra_version = \"\"", ErrInvalid, "compat.max_palyra_version", "max_palyra_version", "must not be empty"},
		// Validation errors found by Parse carry lines too.
		{"invalid version", `version = "1.0.0"`, `version = "1.0"`, ErrInvalid, "version", `version = "1.0"`, "MAJOR.MINOR.PATCH"},
		{"tool not namespaced", "\nid = \"acme.echo\"", "\nid = \"other.echo\"", ErrInvalid, "entrypoints.tools[0].id", `id = "other.echo"`, "namespaced"},
		{"quota below minimum", "fuel_budget = 5000000", "fuel_budget = 5000000\nmax_memory_bytes = 1024", ErrInvalid, "capabilities.quotas.max_memory_bytes", "max_memory_bytes", "minimum of 65536"},
		{"operator on v1", "manifest_version = 2", "manifest_version = 1", ErrInvalid, "operator", "[operator]", "requires manifest_version = 2"},
		{"integrity hex", "", "\n[integrity]\nfiles = [\n  { path = \"a.json\", sha256 = \"" + hex64 + "\" },\n  { path = \"b.json\", sha256 = \"" + strings.ToUpper(hex64) + "\" },\n]\n", ErrInvalid, "integrity.files[1].sha256", `"b.json"`, "64 lowercase hex"},
		{"quoted property name", "", "\n[operator.config.properties.\"Bad Name\"]\ntype = \"string\"\n", ErrInvalid, `operator.config.properties."Bad Name"`, `"Bad Name"`, "[a-z0-9._-]"},
		{"unknown contract kind", "", "\n[[operator.plugin.contracts]]\nkind = \"teleporter\"\n", ErrInvalid, "operator.plugin.contracts[0].kind", "teleporter", "unknown contract kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := baseDoc
			switch {
			case tt.old == "":
				doc += tt.new
			case !strings.Contains(doc, tt.old):
				t.Fatalf("%q not in baseDoc", tt.old)
			default:
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			if tt.name == "operator on v1" {
				doc += "\n[operator]\ndisplay_name = \"Echo\"\n"
			}
			m, err := Parse([]byte(doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\nas %+v", doc, m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %v (%T) is not an *Error", err, err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q is not %v", err, tt.err)
			}
			if e.Key != tt.key {
				t.Errorf("Key = %q, want %q (error %q)", e.Key, tt.key, err)
			}
			wantLine := 0
			if tt.line != "" {
				wantLine = lineOf(t, doc, tt.line)
			}
			if e.Line != wantLine {
				t.Errorf("Line = %d, want %d (error %q)", e.Line, wantLine, err)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tt.msg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	doc := strings.Replace(baseDoc, "fuel_budget = 5000000", `fuel_budget = "lots"`, 1)
	_, err := Parse([]byte(doc))
	const want = `skill.toml:16: capabilities.quotas.fuel_budget: must be an integer, found string`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if got := (&Error{Message: "m", Err: ErrSyntax}).Error(); got != "skill.toml: m" {
		t.Errorf("keyless, lineless error = %q", got)
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	_, err := Parse([]byte("name = \"\xff\"\n"))
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("Parse(invalid UTF-8) = %v, want ErrSyntax", err)
	}
}

// readGoldenManifest reads skill.toml out of the independent implementation's
// signed artifact.
func readGoldenManifest(t testing.TB) []byte {
	t.Helper()
	zr, err := zip.OpenReader("../../testdata/palyra-v1/golden.palyra-skill")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "skill.toml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Fatal("golden artifact has no skill.toml")
	return nil
}

func TestParseGoldenArtifact(t *testing.T) {
	m, err := Parse(readGoldenManifest(t))
	if err != nil {
		t.Fatalf("Parse(golden skill.toml): %v", err)
	}
	if m.ManifestVersion != 1 || m.SkillID != "golden.echo" || m.Publisher != "golden" || m.Version != "1.0.0" {
		t.Errorf("header = v%d %s %s %s", m.ManifestVersion, m.SkillID, m.Publisher, m.Version)
	}
	if len(m.Entrypoints.Tools) != 1 || m.Entrypoints.Tools[0].Name != "echo" || m.Entrypoints.Tools[0].Risk != (Risk{}) {
		t.Errorf("tools = %+v", m.Entrypoints.Tools)
	}
	if m.Capabilities.Quotas != DefaultQuotas() {
		t.Errorf("quotas = %+v, want defaults", m.Capabilities.Quotas)
	}
	if m.Operator != nil || m.Builder != nil {
		t.Errorf("operator %+v, builder %+v, want nil", m.Operator, m.Builder)
	}
	var paths []string
	for _, f := range m.Integrity.Files {
		paths = append(paths, f.Path)
	}
	if want := []string{"modules/echo.wasm", "provenance.json", "sbom.cdx.json"}; !slices.Equal(paths, want) {
		t.Errorf("integrity paths = %v, want %v", paths, want)
	}
	var codes []string
	for _, w := range Warnings(m) {
		codes = append(codes, w.Code)
	}
	if want := []string{"legacy_manifest_version", "missing_operator_metadata"}; !slices.Equal(codes, want) {
		t.Errorf("warnings = %v, want %v", codes, want)
	}
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, m *Manifest)
	}{
		{"palyra-sample-v2.toml", func(t *testing.T, m *Manifest) {
			if m.ManifestVersion != 2 || m.Operator == nil || m.Operator.Config.SchemaVersion != 1 {
				t.Errorf("got %+v", m)
			}
			if got := m.Capabilities.Filesystem.ReadRoots; !slices.Equal(got, []string{"skills/data"}) {
				t.Errorf("read_roots (a sub-table written before its parent) = %v", got)
			}
			if !m.Entrypoints.Tools[1].Risk.RequiresApproval {
				t.Error("risk of tool 1 lost")
			}
		}},
		{"palyra-serialized-v1.toml", func(t *testing.T, m *Manifest) {
			if m.ManifestVersion != 1 || m.Operator != nil {
				t.Errorf("v1 with Palyra's empty [operator]: version %d, operator %+v", m.ManifestVersion, m.Operator)
			}
			props, _ := m.Entrypoints.Tools[1].InputSchema["properties"].(map[string]any)
			url, _ := props["url"].(map[string]any)
			if url["maxLength"] != int64(2048) {
				t.Errorf("schema from sub-tables = %#v", m.Entrypoints.Tools[1].InputSchema)
			}
			if len(m.Integrity.Files) != 2 || m.Capabilities.Secrets != nil {
				t.Errorf("integrity %v, secrets %#v", m.Integrity.Files, m.Capabilities.Secrets)
			}
		}},
		{"full-v2.toml", func(t *testing.T, m *Manifest) {
			if m.Compat != (Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0", MaxPalyraVersion: "1.99.0"}) {
				t.Errorf("compat via aliases = %+v", m.Compat)
			}
			if got := m.Operator.Plugin.Contracts; !slices.Equal(got, []PluginContract{{"memory_provider", 1}, {"connector_adapter", 1}}) {
				t.Errorf("contracts = %+v (version defaults to 1)", got)
			}
			if m.Operator.Config.SchemaVersion != 1 {
				t.Errorf("config schema_version = %d, want default 1", m.Operator.Config.SchemaVersion)
			}
			if _, ok := m.Operator.Config.Properties["tile.source"]; !ok {
				t.Error(`quoted property "tile.source" lost`)
			}
			if m.Builder == nil || m.Builder.Checklist.ReviewNotes != "Needs signing review" {
				t.Errorf("builder = %+v", m.Builder)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, m)
		})
	}
}

func TestParseDefaults(t *testing.T) {
	doc := strings.Replace(baseDoc, "manifest_version = 2\n", "", 1)
	doc = strings.Replace(doc, "[capabilities.quotas]\nfuel_budget = 5000000\n", "", 1)
	m, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		ManifestVersion: 2,
		SkillID:         "acme.echo",
		Name:            "Echo",
		Version:         "1.0.0",
		Publisher:       "acme",
		Entrypoints: Entrypoints{Tools: []Tool{{
			ID: "acme.echo", Name: "echo", Description: "Echo payload",
			InputSchema:  map[string]any{"type": "object"},
			OutputSchema: map[string]any{"type": "object"},
		}}},
		Capabilities: Capabilities{Quotas: Quotas{WallClockTimeoutMS: 30000, FuelBudget: 10_000_000, MaxMemoryBytes: 64 << 20}},
		Compat:       Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse = %+v\nwant %+v", m, want)
	}
}

// Palyra's compat aliases are read but never written back.
func TestCompatAliases(t *testing.T) {
	doc := strings.NewReplacer("required_protocol_major", "min_protocol_major", "min_palyra_version", "min_runtime_version").Replace(baseDoc)
	m, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m.Compat.RequiredProtocolMajor != 1 || m.Compat.MinPalyraVersion != "0.1.0" {
		t.Errorf("compat = %+v", m.Compat)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "min_protocol_major") || strings.Contains(s, "min_runtime_version") || !strings.Contains(s, "required_protocol_major = 1") {
		t.Errorf("Encode wrote legacy compat names:\n%s", s)
	}
}

// InFile puts the caller's path where "skill.toml" was, once.
func TestInFile(t *testing.T) {
	_, err := Parse([]byte("manifest_version = 2\nauthor = \"x\"\n"))
	got := InFile(err, "/src/skill/skill.toml")
	if want := `/src/skill/skill.toml:2: author: unknown key "author"`; got.Error() != want || !errors.Is(got, ErrUnknownKey) {
		t.Errorf("InFile = %q (is ErrUnknownKey: %v), want %q", got, errors.Is(got, ErrUnknownKey), want)
	}
	if err.Error() != `skill.toml:2: author: unknown key "author"` {
		t.Errorf("the original error changed: %q", err)
	}
	other := InFile(errors.New("boom"), "f.toml")
	if other.Error() != "f.toml: boom" {
		t.Errorf("InFile of another error = %q", other)
	}
}
