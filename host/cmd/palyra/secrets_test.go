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

func TestSecretGrantsCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	key := testskill.NewKey(t)
	write := func(name string, spec testskill.Spec) string {
		spec.Key = key
		path := filepath.Join(dir, name+".palyra-skill")
		if err := os.WriteFile(path, spec.Build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cli := func(stdin string, args ...string) (string, error) {
		return run(t, []byte(stdin), append([]string{"--state-dir", state}, args...)...)
	}

	// Another skill's scope: refused, naming both.
	thief := write("thief", testskill.Spec{Capabilities: `secrets = [{ scope = "skill:victim.app", key_names = ["api_key"] }]`})
	out, err := cli("", "skills", "install", "--allow-tofu", "--grant-requested", thief)
	if err == nil || !strings.Contains(err.Error(), "manifest_secret_owner") || !strings.Contains(err.Error(), "victim.app") || !strings.Contains(err.Error(), "acme.echo") {
		t.Fatalf("install of a skill requesting victim.app's secrets: %v\n%s", err, out)
	}

	art := write("echo", testskill.Spec{Capabilities: `secrets = [
  { scope = "skill:acme.echo", key_names = ["token"] },
  { scope = "global", key_names = ["api_key"] },
  { scope = "principal:admin", key_names = ["pw"] },
]`})
	out, err = cli("", "skills", "install", "--allow-tofu", "--grant-requested", art)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"warning: --grant-requested does not grant shared secret global/api_key; to let acme.echo read it: palyra skills grants acme.echo --grant secret:global/api_key",
		"warning: --grant-requested does not grant shared secret principal:admin/pw",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shared secret skill:acme.echo") {
		t.Errorf("own secret reported withheld:\n%s", out)
	}

	out, err = cli("", "skills", "grants", "acme.echo", "--grant-requested", "--grant", "secret:global/api_key")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "global/api_key") || !strings.Contains(out, "principal:admin/pw") || strings.Contains(out, "shared secret global/api_key") ||
		!strings.Contains(out, "warning: --grant-requested does not grant shared secret principal:admin/pw") {
		t.Errorf("grants --grant-requested --grant:\n%s", out)
	}
	out, err = cli("", "skills", "grants", "--json", "acme.echo")
	var rep host.GrantReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var readable []string
	for _, s := range rep.Secrets {
		if s.Granted {
			readable = append(readable, s.Scope+"/"+s.Key)
		}
	}
	if strings.Join(readable, ",") != "global/api_key,skill:acme.echo/token" || len(rep.Withheld) != 1 || rep.Withheld[0].Grant != "secret:principal:admin/pw" {
		t.Errorf("grants --json: readable %v, withheld %+v", readable, rep.Withheld)
	}

	if out, err := cli("v", "secrets", "set", "global/api_key"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := cli("v", "secrets", "set", "global/unused"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = cli("", "secrets", "list")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := func(i int) string { return strings.Join(strings.Fields(lines[i]), " ") }
	if len(lines) != 4 || fields(0) != "SCOPE KEY STORED READABLE BY" || fields(1) != "global api_key yes acme.echo" ||
		fields(2) != "global unused yes -" || fields(3) != "skill:acme.echo token no acme.echo" {
		t.Errorf("secrets list:\n%s", out)
	}
	out, err = cli("", "secrets", "list", "--json")
	var entries []host.SecretEntry
	if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 3 || len(entries[0].Readers) != 1 || entries[0].Readers[0].SkillID != "acme.echo" {
		t.Errorf("secrets list --json: %v\n%s", err, out)
	}
}
