package host_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// configContract is an [operator.config] declaring one property of each
// type, a redacted one and a required one without default.
const configContract = `
[operator.config]
required = ["region"]

[operator.config.properties.units]
type = "string"
default = "metric"
enum_values = ["metric", "imperial"]

[operator.config.properties.limit]
type = "integer"
default = 10

[operator.config.properties.ratio]
type = "number"
default = 0.5

[operator.config.properties.verbose]
type = "boolean"
default = false

[operator.config.properties.hosts]
type = "string_list"
default = ["a.example", "b.example"]

[operator.config.properties.region]
type = "string"

[operator.config.properties.signing_material]
type = "string"
redacted = true
`

func configSpec(key []byte, version, operator string) skillSpec {
	return skillSpec{Name: "cfg", Version: version, Module: testskill.ConfigModule(), Tools: []string{"config", "var"},
		Key: key, Operator: operator, InputSchema: `{ type = "string" }`, OutputSchema: `{ type = ["string", "null"] }`}
}

// callConfig returns what the guest's config_get (tool "config") or
// var_get (tool "var") returns for key.
func callConfig(t *testing.T, h *host.Host, tool, key string) string {
	t.Helper()
	in, _ := json.Marshal(key)
	out, err := h.Call(ctx, "acme.cfg", tool, in)
	if err != nil {
		t.Fatalf("%s(%q): %v", tool, key, err)
	}
	var v *string // the guest outputs a JSON string, or null for none
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s(%q) output %q: %v", tool, key, out, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

func TestOperatorConfigReachesGuest(t *testing.T) {
	key := newKey(t)
	var logs bytes.Buffer
	h := openHost(t, t.TempDir(), runOpts(host.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	installSpec(t, h, configSpec(key, "1.0.0", configContract))

	// Before anything is set, the required region has no value: the skill
	// does not run, and the error says what to do.
	if _, err := h.Call(ctx, "acme.cfg", "config", []byte(`"units"`)); !errors.Is(err, host.ErrConfigInvalid) ||
		!strings.Contains(err.Error(), `"region"`) || !strings.Contains(err.Error(), "skills config acme.cfg set region") {
		t.Fatalf("call with a required key unset: %v", err)
	}
	if _, err := h.SetConfig(ctx, "acme.cfg", "region", "eu-west", "operator:alice"); err != nil {
		t.Fatal(err)
	}
	// Defaults, as config_get returns them (string_list as JSON).
	for k, want := range map[string]string{"units": "metric", "limit": "10", "ratio": "0.5", "verbose": "false",
		"hosts": `["a.example","b.example"]`, "region": "eu-west", "signing_material": ""} {
		if got := callConfig(t, h, "config", k); got != want {
			t.Errorf("config_get(%s) = %q, want default %q", k, got, want)
		}
	}

	// Operator values win over defaults, canonicalized, and reach the
	// running host at once.
	for _, kv := range [][2]string{{"units", "imperial"}, {"limit", "+42"}, {"ratio", "1e3"}, {"verbose", "true"},
		{"hosts", ` ["x.example"] `}, {"signing_material", "s3cr3t-value"}} {
		if _, err := h.SetConfig(ctx, "acme.cfg", kv[0], kv[1], ""); err != nil {
			t.Fatalf("SetConfig(%s=%s): %v", kv[0], kv[1], err)
		}
	}
	for k, want := range map[string]string{"units": "imperial", "limit": "42", "ratio": "1e3", "verbose": "true",
		"hosts": `["x.example"]`, "signing_material": "s3cr3t-value"} {
		if got := callConfig(t, h, "config", k); got != want {
			t.Errorf("config_get(%s) = %q, want operator value %q", k, got, want)
		}
	}

	rep, err := h.Config(ctx, "acme.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Contract || len(rep.Problems) != 0 || len(rep.Config) != 7 {
		t.Fatalf("report: %+v", rep)
	}
	for _, v := range rep.Config {
		switch v.Key {
		case "units":
			if v.Source != host.ConfigFromOperator || v.Value != "imperial" || v.Default != "metric" || v.Type != "string" || v.SetBy != "host" {
				t.Errorf("units: %+v", v)
			}
		case "region":
			if !v.Required || v.SetBy != "operator:alice" {
				t.Errorf("region: %+v", v)
			}
		case "signing_material":
			if !v.Redacted || v.Value != "" || v.Source != host.ConfigFromOperator {
				t.Errorf("redacted value shown: %+v", v)
			}
		}
	}

	// Unset falls back to the default.
	if _, err := h.UnsetConfig(ctx, "acme.cfg", "units", ""); err != nil {
		t.Fatal(err)
	}
	if got := callConfig(t, h, "config", "units"); got != "metric" {
		t.Errorf("after unset config_get(units) = %q, want the default", got)
	}
	if _, err := h.UnsetConfig(ctx, "acme.cfg", "units", ""); !errors.Is(err, host.ErrConfigNotSet) {
		t.Errorf("second unset: %v, want ErrConfigNotSet", err)
	}

	// The redacted value is in no event and no log.
	info, err := h.Info(ctx, "acme.cfg")
	if err != nil {
		t.Fatal(err)
	}
	var cfgEvents int
	for _, e := range info.Events {
		if e.Kind == "config" {
			cfgEvents++
		}
		if strings.Contains(e.Reason, "s3cr3t") {
			t.Errorf("event shows the redacted value: %+v", e)
		}
	}
	if cfgEvents != 8 { // region, six sets, one unset
		t.Errorf("%d config events, want 8", cfgEvents)
	}
	if strings.Contains(logs.String(), "s3cr3t") || !strings.Contains(logs.String(), "key=signing_material") {
		t.Errorf("log shows the redacted value or not the key:\n%s", logs.String())
	}
}

func TestSetConfigRefusesBadValues(t *testing.T) {
	key := newKey(t)
	h := openHost(t, t.TempDir(), runOpts(host.Options{}))
	installSpec(t, h, configSpec(key, "1.0.0", configContract))
	tests := []struct {
		key, value string
		want       error
		mention    []string
	}{
		{"nope", "1", host.ErrConfigUndeclared, []string{`"nope"`, "limit (integer)", "units (string)"}},
		{"limit", "ten", host.ErrConfigType, []string{`"limit"`, `"ten"`, "integer"}},
		{"limit", "1.5", host.ErrConfigType, []string{"integer"}},
		{"limit", "99999999999999999999", host.ErrConfigType, []string{"integer"}},
		{"ratio", "0x10", host.ErrConfigType, []string{"number"}},
		{"ratio", "NaN", host.ErrConfigType, []string{"number"}},
		{"ratio", "1e999", host.ErrConfigType, []string{"number"}},
		{"verbose", "yes", host.ErrConfigType, []string{"boolean", "true or false"}},
		{"verbose", "1", host.ErrConfigType, []string{"boolean"}},
		{"hosts", "a,b", host.ErrConfigType, []string{"string_list", "JSON array"}},
		{"hosts", "[1]", host.ErrConfigType, []string{"string_list"}},
		{"hosts", "null", host.ErrConfigType, []string{"string_list"}},
		{"units", "kelvin", host.ErrConfigType, []string{"metric, imperial"}},
	}
	for _, tt := range tests {
		_, err := h.SetConfig(ctx, "acme.cfg", tt.key, tt.value, "")
		if !errors.Is(err, tt.want) {
			t.Errorf("SetConfig(%s=%s) = %v, want %v", tt.key, tt.value, err, tt.want)
			continue
		}
		for _, m := range tt.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("SetConfig(%s=%s) error %q does not mention %q", tt.key, tt.value, err, m)
			}
		}
	}
	if _, err := h.SetConfig(ctx, "nobody.here", "k", "v", ""); !errors.Is(err, host.ErrNotInstalled) {
		t.Errorf("SetConfig of an unknown skill: %v", err)
	}
	rep, _ := h.Config(ctx, "acme.cfg")
	for _, v := range rep.Config {
		if v.Source == host.ConfigFromOperator {
			t.Errorf("a refused value was stored: %+v", v)
		}
	}
}

// TestConfigWithoutContract: a manifest without [operator.config] takes
// any key, with a warning; vars are the guest's initial vars.
func TestConfigWithoutContractAndVars(t *testing.T) {
	key := newKey(t)
	h := openHost(t, t.TempDir(), runOpts(host.Options{}))
	installSpec(t, h, configSpec(key, "1.0.0", ""))
	rep, err := h.SetConfig(ctx, "acme.cfg", "API_URL", "https://api.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contract || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "unchecked") {
		t.Errorf("free-form set: %+v", rep)
	}
	if got := callConfig(t, h, "config", "API_URL"); got != "https://api.example" {
		t.Errorf("config_get(API_URL) = %q", got)
	}
	rep, err = h.SetConfig(ctx, "acme.cfg", "auth_token", "abc", "")
	if err != nil || len(rep.Warnings) != 2 || !strings.Contains(rep.Warnings[0], "palyra secrets") {
		t.Fatalf("secret-looking key: %v %+v", err, rep)
	}
	for _, v := range rep.Config {
		if v.Key == "auth_token" && (!v.Redacted || v.Value != "") {
			t.Errorf("secret-looking value shown: %+v", v)
		}
	}
	if _, err := h.SetConfig(ctx, "acme.cfg", "bad key", "v", ""); err == nil {
		t.Error("a key with a space was accepted")
	}

	if got := callConfig(t, h, "var", "count"); got != "" {
		t.Errorf("var_get(count) before any var = %q", got)
	}
	if _, err := h.SetVar(ctx, "acme.cfg", "count", "41", ""); err != nil {
		t.Fatal(err)
	}
	if got := callConfig(t, h, "var", "count"); got != "41" {
		t.Errorf("var_get(count) = %q, want the initial 41", got)
	}
	if got := callConfig(t, h, "config", "count"); got != "" {
		t.Errorf("a var leaked into config: %q", got)
	}
	if _, err := h.SetVar(ctx, "acme.cfg", "big", strings.Repeat("x", 300<<10), ""); err == nil {
		t.Error("initial vars past the bound accepted")
	}
	if _, err := h.UnsetVar(ctx, "acme.cfg", "count", ""); err != nil {
		t.Fatal(err)
	}
	if got := callConfig(t, h, "var", "count"); got != "" {
		t.Errorf("var_get(count) after unset = %q", got)
	}
}

// TestConfigAcrossUpgradeAndRemove: values carry over an upgrade; one the
// new version no longer accepts stops the skill with a clear error until
// the operator fixes it; Remove drops them.
func TestConfigAcrossUpgradeAndRemove(t *testing.T) {
	key := newKey(t)
	h := openHost(t, t.TempDir(), runOpts(host.Options{}))
	installSpec(t, h, configSpec(key, "1.0.0", configContract))
	for _, kv := range [][2]string{{"region", "eu"}, {"limit", "7"}} {
		if _, err := h.SetConfig(ctx, "acme.cfg", kv[0], kv[1], ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := callConfig(t, h, "config", "limit"); got != "7" {
		t.Fatalf("limit = %q", got)
	}
	// 2.0.0 keeps region, makes limit a boolean.
	v2 := strings.Replace(configContract, "type = \"integer\"\ndefault = 10", "type = \"boolean\"", 1)
	in, err := h.Install(ctx, configSpec(key, "2.0.0", v2).File(t), host.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := in.Warnings[len(in.Warnings)-1]; !strings.Contains(w, `"limit"`) || !strings.Contains(w, "boolean") {
		t.Errorf("upgrade warnings %q, want one naming limit", in.Warnings)
	}
	_, err = h.Call(ctx, "acme.cfg", "config", []byte(`"region"`))
	if !errors.Is(err, host.ErrConfigInvalid) || !strings.Contains(err.Error(), `"limit"`) || !strings.Contains(err.Error(), "boolean") {
		t.Fatalf("call after an upgrade retyped limit: %v", err)
	}
	rep, _ := h.Config(ctx, "acme.cfg")
	if rep.Version != "2.0.0" || len(rep.Problems) != 1 {
		t.Errorf("report after upgrade: %+v", rep)
	}
	if _, err := h.SetConfig(ctx, "acme.cfg", "limit", "true", ""); err != nil {
		t.Fatal(err)
	}
	if got := callConfig(t, h, "config", "region"); got != "eu" {
		t.Errorf("region after upgrade = %q, want the operator's eu", got)
	}

	if err := h.Remove(ctx, "acme.cfg", ""); err != nil {
		t.Fatal(err)
	}
	installSpec(t, h, configSpec(key, "2.0.0", v2))
	rep, err = h.Config(ctx, "acme.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Config {
		if v.Source == host.ConfigFromOperator {
			t.Errorf("value survived remove: %+v", v)
		}
	}
}

// TestConfigPropagatesToOtherHost: a second Host on the same state dir (as
// another process would) sees a change within its journal poll interval.
func TestConfigPropagatesToOtherHost(t *testing.T) {
	key := newKey(t)
	dir := t.TempDir()
	a := openHost(t, dir, runOpts(host.Options{}))
	installSpec(t, a, configSpec(key, "1.0.0", ""))
	b := openHost(t, dir, runOpts(host.Options{JournalPollInterval: 50 * time.Millisecond}))
	if got := callConfig(t, b, "config", "mode"); got != "" {
		t.Fatalf("mode before set = %q", got)
	}
	if _, err := a.SetConfig(ctx, "acme.cfg", "mode", "fast", ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for callConfig(t, b, "config", "mode") != "fast" {
		if time.Now().After(deadline) {
			t.Fatal("the other host never saw the change")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
