package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/testskill"
)

// Issue 12: `palyra skills run palyra.echo echo --input 'not json'`
// printed "not json" and exited 0. An input breaking the tool's schema
// now fails the command, naming the JSON path and the rule.
func TestRunRefusesInputBreakingTheSchema(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	art := filepath.Join(dir, "acme.echo-1.0.0.palyra-skill")
	spec := testskill.Spec{Name: "echo", Module: testskill.EchoModule("echo"),
		InputSchema:  `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`,
		OutputSchema: `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`}
	if err := os.WriteFile(art, spec.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"--state-dir", state}, args...)...)
	}
	if out, err := cli("skills", "install", "--allow-tofu", art); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		input string
		want  []string
	}{
		{"not json", []string{"tool acme.echo: input (root): not JSON", "(json)"}},
		{`{}`, []string{"input (root): missing property 'text' (required)"}},
		{`{"text":42}`, []string{"input /text: got number, want string (type)"}},
	} {
		out, err := cli("skills", "run", "acme.echo", "echo", "--input", c.input)
		if err == nil {
			t.Errorf("--input %q: exit 0, printed %q", c.input, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("--input %q: error %q lacks %q", c.input, err, w)
			}
		}
		if strings.Contains(out, c.input) && c.input != "" {
			t.Errorf("--input %q: the guest's echo was printed: %q", c.input, out)
		}
	}
	if out, err := cli("skills", "run", "acme.echo", "echo", "--input", `{"text":"hi"}`); err != nil || out != `{"text":"hi"}`+"\n" {
		t.Errorf("valid input: %q, %v", out, err)
	}
}
