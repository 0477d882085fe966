package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

func TestConfigAndVarsCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	art := filepath.Join(dir, "acme.cfg-1.0.0.palyra-skill")
	spec := testskill.Spec{Name: "cfg", Module: testskill.ConfigModule(), Tools: []string{"config", "var"}, InputSchema: `{ type = "string" }`, OutputSchema: `{ type = ["string", "null"] }`,
		Operator: `
[operator.config.properties.limit]
type = "integer"
default = 10

[operator.config.properties.mode]
type = "string"
enum_values = ["fast", "safe"]

[operator.config.properties.pass_phrase]
type = "string"
redacted = true
`}
	if err := os.WriteFile(art, spec.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"--state-dir", state}, args...)...)
	}
	if out, err := cli("skills", "install", "--allow-tofu", art); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	out, err := cli("skills", "config", "acme.cfg")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !hasRow(out, "KEY VALUE SOURCE TYPE") || !hasRow(out, "limit 10 default integer") ||
		!hasRow(out, "mode - unset string") || !hasRow(out, "pass_phrase - unset string") {
		t.Errorf("list:\n%s", out)
	}

	if out, err := cli("skills", "config", "acme.cfg", "set", "limit", "--", "-3"); err != nil || out != "acme.cfg 1.0.0: config limit = -3\n" {
		t.Errorf("set of a negative value after --: %q, %v", out, err)
	}
	if out, err := cli("skills", "config", "acme.cfg", "set", "limit", "42"); err != nil || out != "acme.cfg 1.0.0: config limit = 42\n" {
		t.Errorf("set: %q, %v", out, err)
	}
	if out, err := cli("skills", "config", "acme.cfg", "set", "pass_phrase", "open sesame"); err != nil || strings.Contains(out, "sesame") || !strings.Contains(out, "[redacted]") {
		t.Errorf("set of a redacted property: %q, %v", out, err)
	}
	_, err = cli("skills", "config", "acme.cfg", "set", "limit", "lots")
	if err == nil || !strings.Contains(err.Error(), `"limit"`) || !strings.Contains(err.Error(), "integer") {
		t.Errorf("set of a mistyped value: %v", err)
	}
	if _, err := cli("skills", "config", "acme.cfg", "set", "mode", "turbo"); err == nil || !strings.Contains(err.Error(), "fast, safe") {
		t.Errorf("set outside enum_values: %v", err)
	}
	if _, err := cli("skills", "config", "acme.cfg", "frob"); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("unknown action: %v", err)
	}
	if _, err := cli("skills", "config", "acme.cfg", "set", "limit"); err == nil {
		t.Error("set without a value accepted")
	}

	// The guest sees the operator's value.
	if out, err := cli("skills", "run", "acme.cfg", "config", "--input", `"limit"`); err != nil || out != `"42"`+"\n" {
		t.Errorf("run config limit: %q, %v", out, err)
	}

	out, err = cli("skills", "config", "acme.cfg", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep host.ConfigReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if rep.SkillID != "acme.cfg" || !rep.Contract || len(rep.Config) != 3 || strings.Contains(out, "sesame") {
		t.Errorf("list --json: %s", out)
	}
	for _, v := range rep.Config {
		if v.Key == "limit" && (v.Value != "42" || v.Source != host.ConfigFromOperator || v.Default != "10") {
			t.Errorf("limit: %+v", v)
		}
	}

	if out, err := cli("skills", "config", "acme.cfg", "unset", "limit"); err != nil || out != "acme.cfg 1.0.0: config limit unset (default 10)\n" {
		t.Errorf("unset: %q, %v", out, err)
	}
	if _, err := cli("skills", "config", "acme.cfg", "unset", "limit"); err == nil || !strings.Contains(err.Error(), "no operator value") {
		t.Errorf("second unset: %v", err)
	}

	// Vars.
	if out, err := cli("skills", "vars", "acme.cfg", "set", "seed", "7"); err != nil || out != "acme.cfg 1.0.0: var seed = 7\n" {
		t.Errorf("vars set: %q, %v", out, err)
	}
	if out, err := cli("skills", "run", "acme.cfg", "var", "--input", `"seed"`); err != nil || out != `"7"`+"\n" {
		t.Errorf("run var seed: %q, %v", out, err)
	}
	if out, err := cli("skills", "vars", "acme.cfg", "list"); err != nil || !hasRow(out, "seed 7 operator -") {
		t.Errorf("vars list: %q, %v", out, err)
	}

	// Every change is in the skill's history, without the redacted value.
	out, err = cli("skills", "info", "acme.cfg", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "sesame") || !strings.Contains(out, "set pass_phrase") || !strings.Contains(out, "unset limit") || !strings.Contains(out, "set seed") {
		t.Errorf("info history:\n%s", out)
	}
}

// hasRow reports whether out has a line whose fields are row's.
func hasRow(out, row string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == row {
			return true
		}
	}
	return false
}
