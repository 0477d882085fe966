package host

import (
	"encoding/json"
	"testing"

	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
)

// FuzzParseConfigValue: whatever an operator types, a value accepted for a
// type is stored in a form that is accepted again unchanged, and that a
// guest can decode as JSON of that type (strings excepted: they are raw).
func FuzzParseConfigValue(f *testing.F) {
	for _, s := range []string{"42", "+7", "-0", "1.5", "1e3", "0x10", "NaN", "true", "True", `["a","b"]`, `[1]`, "null", "", " 1", "99999999999999999999"} {
		f.Add(s)
	}
	types := []manifest.ConfigValueType{manifest.ConfigString, manifest.ConfigInteger, manifest.ConfigNumber, manifest.ConfigBoolean, manifest.ConfigStringList}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			p := manifest.ConfigProperty{Type: typ}
			c, err := parseConfigValue(p, s)
			if err != nil {
				continue
			}
			again, err := parseConfigValue(p, c)
			if err != nil || again != c {
				t.Fatalf("%s %q → %q → %q, %v: not stable", typ, s, c, again, err)
			}
			var v any
			switch typ {
			case manifest.ConfigInteger:
				var i json.Number
				if json.Unmarshal([]byte(c), &i) != nil {
					t.Fatalf("integer %q → %q is not JSON", s, c)
				}
			case manifest.ConfigNumber:
				v = new(float64)
			case manifest.ConfigBoolean:
				v = new(bool)
			case manifest.ConfigStringList:
				v = new([]string)
			}
			if v != nil {
				if err := json.Unmarshal([]byte(c), v); err != nil {
					t.Fatalf("%s %q → %q: %v", typ, s, c, err)
				}
			}
		}
	})
}

func TestEffectiveConfigDefaults(t *testing.T) {
	m := &Manifest{Operator: &manifest.Operator{Config: &manifest.ConfigContract{SchemaVersion: 1, Properties: map[string]manifest.ConfigProperty{
		"list":  {Type: manifest.ConfigStringList, Default: []any{"a", "b"}},
		"n":     {Type: manifest.ConfigInteger, Default: int64(3)},
		"ratio": {Type: manifest.ConfigNumber, Default: 0.25},
		"on":    {Type: manifest.ConfigBoolean, Default: true},
		"none":  {Type: manifest.ConfigString},
	}}}}
	_, rc, err := effectiveConfig(journal.Status{SkillID: "x.y", Version: "1.0.0"}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"list": `["a","b"]`, "n": "3", "ratio": "0.25", "on": "true"}
	if len(rc.config) != len(want) {
		t.Fatalf("config %v, want %v", rc.config, want)
	}
	for k, v := range want {
		if rc.config[k] != v {
			t.Errorf("config[%s] = %q, want %q", k, rc.config[k], v)
		}
	}
}
