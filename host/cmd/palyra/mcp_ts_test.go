package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/testskill"
)

// tsClientDir is the npm project of the TypeScript MCP SDK's client
// (client.mjs, with its lockfile); make test installs it with npm ci.
const tsClientDir = "testdata/mcp-ts-client"

// tsClientResult is what client.mjs prints: the server it met, the
// tools it listed and the result (or the thrown error) of each call.
type tsClientResult struct {
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
	Tools []struct {
		Name         string          `json:"name"`
		Description  string          `json:"description"`
		InputSchema  json.RawMessage `json:"inputSchema"`
		OutputSchema json.RawMessage `json:"outputSchema"`
	} `json:"tools"`
	Calls []struct {
		Name   string `json:"name"`
		Error  string `json:"error"`
		Result struct {
			IsError           bool            `json:"isError"`
			StructuredContent json.RawMessage `json:"structuredContent"`
			Content           []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	} `json:"calls"`
}

// An MCP client nobody here wrote — the TypeScript SDK's — lists the
// installed skills' tools with their schemas through palyra mcp over
// stdio, and calls them: a good call comes back with structuredContent
// the SDK checked against the tool's outputSchema, and input the skill's
// schema refuses comes back as a tool result with isError.
func TestMCPTypeScriptClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the TypeScript MCP client (.ci/run installs it): %v", err)
	}
	clientDir, err := filepath.Abs(tsClientDir)
	if err != nil {
		t.Fatal(err)
	}
	ensureTSClient(t, clientDir)

	sd := installEcho(t)
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	typed := filepath.Join(dir, "globex.typed-1.0.0.palyra-skill")
	art := testskill.Spec{
		Key: key, Publisher: "globex", Name: "typed", Module: testskill.EchoModule("greet"), Tools: []string{"greet"},
		InputSchema:  `{type = "object", properties = {text = {type = "string"}}, required = ["text"], additionalProperties = false}`,
		OutputSchema: `{type = "object", properties = {text = {type = "string"}}, required = ["text"]}`,
	}.Build(t)
	if err := os.WriteFile(typed, art, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := execCLI(t, "", append(sd, "skills", "install", "--allow-tofu", typed)...); code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}

	// The server is this test binary run as palyra (TestMain), with the
	// environment the client is told to pass on.
	env := map[string]string{envExecCLI: "1"}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != envExecCLI {
			env[k] = v
		}
	}
	spec, _ := json.Marshal(map[string]any{
		"command": os.Args[0],
		"args":    append(append([]string{}, sd...), "mcp"),
		"env":     env,
		"calls": []map[string]any{
			{"name": "globex_typed__greet", "arguments": map[string]any{"text": "hello from TypeScript"}},
			{"name": "globex_typed__greet", "arguments": map[string]any{"text": 5}},
			{"name": "acme_echo__echo", "arguments": map[string]any{"n": 1}},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(clientDir, "client.mjs"), string(spec))
	cmd.Dir = clientDir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var res tsClientResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client.mjs printed %q: %v", out, err)
	}

	if res.Server.Name == "" {
		t.Errorf("the server did not name itself in initialize: %s", out)
	}
	tools := map[string]int{}
	for i, tool := range res.Tools {
		tools[tool.Name] = i
	}
	if len(res.Tools) != 2 {
		t.Fatalf("listed %d tools, want acme_echo__echo and globex_typed__greet: %s", len(res.Tools), out)
	}
	i, ok := tools["globex_typed__greet"]
	if !ok {
		t.Fatalf("globex_typed__greet not listed: %s", out)
	}
	greet := res.Tools[i]
	if greet.Description != "Test tool greet" {
		t.Errorf("description %q, want the manifest's", greet.Description)
	}
	var in, outSchema struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(greet.InputSchema, &in); err != nil || in.Type != "object" || in.Properties["text"] == nil || len(in.Required) != 1 {
		t.Errorf("inputSchema %s, want the manifest's input_schema (%v)", greet.InputSchema, err)
	}
	if err := json.Unmarshal(greet.OutputSchema, &outSchema); err != nil || outSchema.Type != "object" || outSchema.Properties["text"] == nil {
		t.Errorf("outputSchema %s, want the manifest's output_schema (%v)", greet.OutputSchema, err)
	}
	if _, ok := tools["acme_echo__echo"]; !ok {
		t.Errorf("acme_echo__echo not listed: %s", out)
	}

	if len(res.Calls) != 3 {
		t.Fatalf("%d call results, want 3: %s", len(res.Calls), out)
	}
	good := res.Calls[0]
	if good.Error != "" || good.Result.IsError {
		t.Fatalf("good call failed: %s", out)
	}
	var sc struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(good.Result.StructuredContent, &sc); err != nil || sc.Text != "hello from TypeScript" {
		t.Errorf("structuredContent %s, want the echoed input", good.Result.StructuredContent)
	}
	if len(good.Result.Content) == 0 || good.Result.Content[0].Type != "text" || !strings.Contains(good.Result.Content[0].Text, "hello from TypeScript") {
		t.Errorf("content %+v, want a text rendering of the result", good.Result.Content)
	}
	bad := res.Calls[1]
	if bad.Error != "" || !bad.Result.IsError || len(bad.Result.Content) == 0 || !strings.Contains(bad.Result.Content[0].Text, "schema_violation") || !strings.Contains(bad.Result.Content[0].Text, "/text") {
		t.Errorf("input the schema refuses: want an isError result naming the field, got %s", out)
	}
	// Without an outputSchema a JSON object result is structuredContent too.
	if echo := res.Calls[2]; echo.Error != "" || echo.Result.IsError || !strings.Contains(string(echo.Result.StructuredContent), `"n":1`) {
		t.Errorf("echo call: %s", out)
	}
}

// ensureTSClient installs the client's packages from its lockfile when
// make test has not (go test run on its own).
func ensureTSClient(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}
