package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/internal/testskill"
)

func TestRunAndSecretsCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	art := filepath.Join(dir, "acme.guest-1.0.0.palyra-skill")
	spec := testskill.Spec{
		Name: "guest", Module: testguest.Build(t, "../../../internal/runtime/testdata/guest"),
		Tools: []string{"echo", "fail", "print", "secret"}, Memory: 64 << 20,
		Capabilities: `
[[capabilities.secrets]]
scope = "skill:acme.guest"
key_names = ["token"]`,
	}
	if err := os.WriteFile(art, spec.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(stdin string, args ...string) (string, error) {
		return run(t, []byte(stdin), append([]string{"--state-dir", state}, args...)...)
	}
	if out, err := cli("", "skills", "install", "--allow-tofu", "--grant-requested", art); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	inFile := filepath.Join(dir, "in.json")
	writeFile(t, inFile, `{"text":"from a file"}`)
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"--input", `{"text":"hi"}`}, `{"text":"hi"}` + "\n"},
		{"", []string{"--input-file", inFile}, `{"text":"from a file"}` + "\n"},
		{`{"text":"stdin"}`, []string{"-"}, `{"text":"stdin"}` + "\n"},
		{"", nil, ""},
	} {
		args := append([]string{"skills", "run", "acme.guest", "echo"}, tc.args...)
		out, err := cli(tc.stdin, args...)
		if err != nil || out != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}

	out, err := cli("", "skills", "run", "--json", "acme.guest", "acme.print", "--input", "hello")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res runJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.OK || res.Tool != "acme.print" || res.Version != "1.0.0" || res.DurationMS <= 0 || len(res.Logs) != 2 || res.Logs[0].Message != "out: hello" ||
		res.Module != "modules/echo.wasm" || res.Instance != 1 || res.InstanceCalls != 1 || res.FuelConsumed == 0 {
		t.Errorf("--json: %+v", res)
	}
	// The same call, the same fuel.
	out2, err := cli("", "skills", "run", "--json", "acme.guest", "acme.print", "--input", "hello")
	var res2 runJSON
	if err != nil || json.Unmarshal([]byte(out2), &res2) != nil || res2.FuelConsumed != res.FuelConsumed {
		t.Errorf("second run: fuel %d, first %d (%v)", res2.FuelConsumed, res.FuelConsumed, err)
	}

	// A failing tool: non-zero exit, the guest's message; with --json, ok false.
	if out, err := cli("", "skills", "run", "acme.guest", "fail", "--input", "bad input"); err == nil || !strings.Contains(err.Error(), "bad input") {
		t.Errorf("fail: %v\n%s", err, out)
	}
	out, err = cli("", "skills", "run", "--json", "acme.guest", "fail", "--input", "bad input")
	if err == nil || json.Unmarshal([]byte(out), &res) != nil || res.OK || !strings.Contains(res.Error, "bad input") {
		t.Errorf("fail --json: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"skills", "run", "acme.guest", "nope"},
		{"skills", "run", "acme.other", "echo"},
		{"skills", "run", "acme.guest", "echo", "--input", "x", "-"},
		{"skills", "run", "acme.guest", "echo", "extra"},
	} {
		if out, err := cli("", args...); err == nil {
			t.Errorf("%v succeeded: %s", args, out)
		}
	}

	// Secrets: stored from stdin, listed by name, read by the granted skill.
	if out, err := cli("s3cret\n", "secrets", "set", "skill:acme.guest/token"); err != nil || !strings.Contains(out, "6 bytes") {
		t.Fatalf("secrets set: %v\n%s", err, out)
	}
	if out, err := cli("", "secrets", "set", "skill:acme.guest/token"); err == nil {
		t.Errorf("empty secret accepted: %s", out)
	}
	if out, err := cli("x", "secrets", "set", "no-slash"); err == nil {
		t.Errorf("bad ref accepted: %s", out)
	}
	out, err = cli("", "secrets", "list")
	if err != nil || !strings.Contains(out, "skill:acme.guest") || strings.Contains(out, "s3cret") {
		t.Errorf("secrets list: %v\n%s", err, out)
	}
	if out, err := cli("", "skills", "run", "acme.guest", "secret", "--input", "skill:acme.guest/token"); err != nil || out != "s3cret\n" {
		t.Errorf("granted secret: %q, %v", out, err)
	}
	if out, err := cli("", "secrets", "delete", "skill:acme.guest/token"); err != nil {
		t.Fatalf("secrets delete: %v\n%s", err, out)
	}
	if out, err := cli("", "skills", "run", "acme.guest", "secret", "--input", "skill:acme.guest/token"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleted secret: %q, %v", out, err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
