package gen

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuthorWorkflow is a skill author's day, end to end, with nothing
// but the module cache: palyra-gen new skill → edit a tool's input type →
// go generate (which runs `go tool palyra-gen generate` through the new
// go.mod's tool directive) → go test → palyra-gen build → palyra-gen
// package → palyra skills install → palyra skills run with typed JSON
// (the operator's binary, in a state dir of its own) → palyra-gen client
// --artifact.
func TestAuthorWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("scaffolds, builds and runs a skill (~10 s warm)")
	}
	ctx := context.Background()
	work := t.TempDir()
	dir := filepath.Join(work, "hello")
	env := offlineEnv()
	step := func(name string, start time.Time) {
		t.Logf("%-28s %v", name, time.Since(start).Round(time.Millisecond))
	}

	start := time.Now()
	out, err := runCLI(t, "new", "skill", "hello", "--dir", dir, "--publisher", "acme")
	if err != nil {
		t.Fatalf("new skill: %v\n%s", err, out)
	}
	if !strings.Contains(out, "created acme.hello in "+dir+" from the basic template") {
		t.Errorf("new skill output:\n%s", out)
	}
	step("palyra-gen new skill", start)

	// The author adds a field; the generated schema is stale until go generate.
	edit(t, filepath.Join(dir, "main.go"), "\tName string `json:\"name\"`\n",
		"\tName string `json:\"name\"`\n\t// Title goes before the name.\n\tTitle string `json:\"title,omitempty\"`\n")
	edit(t, filepath.Join(dir, "main.go"), "\tswitch in.Style {", "\tif in.Title != \"\" {\n\t\tname = in.Title + \" \" + name\n\t}\n\tswitch in.Style {")
	start = time.Now()
	cmd := exec.Command("go", "tool", "palyra-gen", "generate", "--check")
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "palyra-gen: skill.toml: generated files are stale") {
		t.Errorf("generate --check after the edit: err %v\n%s", err, out)
	}
	step("go tool palyra-gen --check", start)
	start = time.Now()
	goIn(t, dir, env, "generate", "./...")
	step("go generate", start)
	doc, _ := os.ReadFile(filepath.Join(dir, "skill.toml"))
	if !strings.Contains(string(doc), `title = { description = "Title goes before the name.", type = "string" }`) {
		t.Errorf("go generate did not update skill.toml:\n%s", doc)
	}
	cmd = exec.Command("go", "tool", "palyra-gen", "generate", "--check")
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "up to date: ") {
		t.Errorf("generate --check after go generate: %v\n%s", err, out)
	}

	start = time.Now()
	if out := goIn(t, dir, env, "test", "./..."); !strings.Contains(out, "ok  \thello") {
		t.Errorf("go test:\n%s", out)
	}
	step("go test (native)", start)

	start = time.Now()
	if out, err := runCLI(t, "build", dir); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	step("palyra-gen build", start)
	keys := filepath.Join(work, "keys")
	if out, err := runCLI(t, "keygen", "--out", keys); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	file := filepath.Join(work, "hello.palyra-skill")
	start = time.Now()
	if out, err := runCLI(t, "package", dir, "--key", filepath.Join(keys, "publisher.key"), "--out", file); err != nil {
		t.Fatalf("package: %v\n%s", err, out)
	}
	step("palyra-gen package", start)

	// The operator's side: palyra skills install, then palyra skills run
	// with typed input, as the real binary in a state dir of its own.
	start = time.Now()
	palyra := filepath.Join(work, "bin", "palyra")
	build := exec.Command("go", "build", "-o", palyra, "./host/cmd/palyra")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build palyra: %v\n%s", err, out)
	}
	step("go build palyra", start)
	state := filepath.Join(work, "state")
	operator := func(args ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(palyra, append([]string{"--state-dir", state}, args...)...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	start = time.Now()
	out, stderr, err := operator("skills", "install", "--allow-tofu", file)
	if err != nil || !strings.HasPrefix(out, "installed acme.hello 0.1.0 (eligible)") || !strings.Contains(out, "tofu_newly_pinned") {
		t.Fatalf("palyra skills install: %v\n%s%s", err, out, stderr)
	}
	step("palyra skills install", start)

	type greetIn struct {
		Name  string `json:"name,omitempty"`
		Title string `json:"title,omitempty"`
		Style string `json:"style,omitempty"`
	}
	for _, tt := range []struct {
		in      any
		want    string
		wantErr string
	}{
		{in: greetIn{Name: "Ada"}, want: `{"message":"Hello, Ada!"}`},
		{in: greetIn{Name: "Ada", Title: "Dr.", Style: "formal"}, want: `{"message":"Good day, Dr. Ada."}`},
		{in: greetIn{Name: " "}, wantErr: "name is empty"},
		// The host checks the input against the tool's generated schema
		// before the guest runs, naming the JSON path and the rule.
		{in: greetIn{Name: "Ada", Style: "rude"}, wantErr: `tool acme.greet: input /style: value must be one of 'friendly', 'formal' (enum)`},
		{in: greetIn{Title: "Dr."}, wantErr: `tool acme.greet: input (root): missing property 'name' (required)`},
		{in: map[string]string{"name": "Ada", "nickname": "A"}, wantErr: `input (root): additional properties 'nickname' not allowed (additionalProperties)`},
	} {
		input, _ := json.Marshal(tt.in)
		start = time.Now()
		out, stderr, err := operator("skills", "run", "acme.hello", "greet", "--input", string(input))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("greet %s: err %v, stderr %q; want it to fail with %q", input, err, stderr, tt.wantErr)
			}
			continue
		}
		if err != nil || out != tt.want+"\n" {
			t.Errorf("greet %s = %q (err %v, stderr %q), want %s", input, out, err, stderr, tt.want)
		}
		step("palyra skills run greet", start)
	}

	// A typed client from the artifact compiles.
	clientDir := filepath.Join(work, "client")
	out, err = runCLI(t, "client", "--artifact", file, "--package", "helloclient", "--out", filepath.Join(clientDir, "helloclient"))
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	src, _ := os.ReadFile(filepath.Join(clientDir, "helloclient", ClientFile))
	if !containsCode(src, "func (c *Client) Greet(ctx context.Context, in GreetInput) (GreetOutput, error)") ||
		!containsCode(src, "Title *string `json:\"title,omitempty\"`") {
		t.Errorf("client:\n%s", src)
	}
	writeFiles(t, clientDir, map[string]string{"go.mod": "module c\n\ngo 1.26\n"})
	goIn(t, clientDir, env, "vet", "./...")

	// The artifact's integrity is checked before its manifest is used.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte{}, data...)
	tampered[len(tampered)/2] ^= 0xff
	bad := filepath.Join(work, "tampered.palyra-skill")
	if err := os.WriteFile(bad, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateClient(ctx, ClientOptions{Artifact: bad, Package: "p", Out: filepath.Join(work, "bad")}); err == nil {
		t.Error("client from a tampered artifact succeeded")
	}
}
