package manifest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/encoded/*.toml from Encode's output")

// validFixtures are every valid manifest the tests know: the fixture files
// and the golden artifact's skill.toml.
func validFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{"golden-artifact.toml": readGoldenManifest(t), "base.toml": []byte(baseDoc)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = data
	}
	return docs
}

func TestEncodeRoundTrip(t *testing.T) {
	for name, data := range validFixtures(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Encode(m)): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, m) {
				t.Fatalf("Parse(Encode(m)) != m\nm:    %+v\nback: %+v\n%s", m, back, out)
			}
			again, err := Encode(back)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("Encode is not deterministic (err %v):\n%s\n---\n%s", err, out, again)
			}
		})
	}
}

// The encoded form is pinned, so that a change of layout is a reviewed
// change; run `go test -run TestEncodeGolden -update` to accept one.
func TestEncodeGolden(t *testing.T) {
	for _, name := range []string{"full-v2.toml", "palyra-serialized-v1.toml"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "encoded", name)
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Encode(%s) differs from %s:\n%s", name, golden, out)
			}
		})
	}
}

func TestEncodeLayout(t *testing.T) {
	m, err := Parse(readGoldenManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"input_schema = {type = 'object'}\n",
		"risk = {default_sensitive = false, requires_approval = false}\n",
		"files = [\n  {path = 'modules/echo.wasm', sha256 = '93a44bbb",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Encode output lacks %q:\n%s", want, s)
		}
	}
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
}

// A manifest built in code and validated encodes to TOML that Parse accepts
// and reads back to the same manifest.
func TestEncodeBuiltInCode(t *testing.T) {
	m := &Manifest{
		ManifestVersion: CurrentManifestVersion,
		SkillID:         "northwind.weather",
		Name:            "Weather lookup",
		Version:         "0.3.1",
		Publisher:       "northwind",
		Entrypoints: Entrypoints{Tools: []Tool{{
			ID: "northwind.forecast", Name: "forecast", Description: "Forecast for a city",
			InputSchema: map[string]any{
				"type":       "object",
				"properties": map[string]any{"city": map[string]any{"type": "string", "maxLength": int64(80)}},
				"required":   []any{"city"},
			},
			OutputSchema: map[string]any{"type": "object"},
			Risk:         Risk{RequiresApproval: true},
		}}},
		Capabilities: Capabilities{
			HTTPEgressAllowlist: []string{"weather.example.net"},
			Secrets:             []SecretScope{{Scope: "skill:northwind.weather", KeyNames: []string{"weather_api_key"}}},
			Quotas:              Quotas{WallClockTimeoutMS: 1500, FuelBudget: 2_000_000, MaxMemoryBytes: 16 << 20},
		},
		Compat: Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0"},
		Operator: &Operator{
			DisplayName: "Weather",
			Config: &ConfigContract{SchemaVersion: 1, Properties: map[string]ConfigProperty{
				"units": {Type: ConfigString, EnumValues: []string{"metric", "imperial"}, Default: "metric"},
			}},
		},
	}
	if err := Validate(m); err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Encode(m)): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip changed the manifest\nm:    %+v\nback: %+v\n%s", m, back, out)
	}
}
