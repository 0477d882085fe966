package manifest

import (
	"encoding/json"
	"testing"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Manifest)
		want   []string // codes, in order
	}{
		{"complete v2", func(m *Manifest) {}, nil},
		{"legacy version without operator", func(m *Manifest) { m.ManifestVersion = 1; m.Operator = nil },
			[]string{"legacy_manifest_version", "missing_operator_metadata"}},
		{"empty operator counts as missing", func(m *Manifest) { m.Operator = &Operator{Plugin: &Plugin{}} },
			[]string{"missing_operator_metadata"}},
		{"no display name", func(m *Manifest) { m.Operator.DisplayName = "" },
			[]string{"missing_operator_display_name"}},
		{"config without properties", func(m *Manifest) { m.Operator.Config = &ConfigContract{SchemaVersion: 1} },
			[]string{"empty_operator_config_contract"}},
		{"secret-looking properties not redacted", func(m *Manifest) {
			p := m.Operator.Config.Properties
			p["client_key"] = ConfigProperty{Type: ConfigString}
			p["DB_Password"] = ConfigProperty{Type: ConfigString}
			p["webhook_secret"] = ConfigProperty{Type: ConfigString, Redacted: true}
			tok := p["api_token"]
			tok.Redacted = false
			p["api_token"] = tok
		}, []string{"operator_config_redaction_recommended", "operator_config_redaction_recommended", "operator_config_redaction_recommended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample(t)
			tt.mutate(m)
			ws := Warnings(m)
			var codes []string
			for _, w := range ws {
				codes = append(codes, w.Code)
				if w.Severity != SeverityWarning || w.Message == "" {
					t.Errorf("warning %+v: want severity warning and a message", w)
				}
			}
			if len(codes) != len(tt.want) {
				t.Fatalf("codes = %v, want %v", codes, tt.want)
			}
			for i := range codes {
				if codes[i] != tt.want[i] {
					t.Fatalf("codes = %v, want %v", codes, tt.want)
				}
			}
		})
	}
}

// Properties are reported in name order (Palyra keeps them in a BTreeMap),
// and a Warning marshals to Palyra's SkillManifestWarning JSON.
func TestWarningOrderAndJSON(t *testing.T) {
	m := sample(t)
	m.Operator.Config.Properties = map[string]ConfigProperty{
		"z_token":  {Type: ConfigString},
		"a_secret": {Type: ConfigString},
	}
	ws := Warnings(m)
	if len(ws) != 2 || ws[0].Message != "operator.config property 'a_secret' looks secret-like but is not marked redacted" {
		t.Fatalf("warnings = %+v", ws)
	}
	got, err := json.Marshal(ws[1])
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"code":"operator_config_redaction_recommended","severity":"warning","message":"operator.config property 'z_token' looks secret-like but is not marked redacted"}`
	if string(got) != want {
		t.Errorf("JSON = %s\nwant   %s", got, want)
	}
}
