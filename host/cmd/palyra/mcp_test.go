package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/testskill"
)

// envExecCLI makes the test binary run as palyra itself: the tests start
// it as a second process (palyra mcp, palyra skills quarantine) with the
// same command tree main runs, without a separate go build.
const envExecCLI = "PALYRA_TEST_EXEC_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(envExecCLI) == "1" {
		os.Exit(cmdline.Execute(context.Background(), newRootCommand(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// palyraCommand is palyra ARGS as a child process.
func palyraCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envExecCLI+"=1")
	return cmd
}

// mcpState installs acme.echo (input and output {"text": string}) and
// acme.spin ("spin" loops until stopped, with a 60 s deadline and fuel
// enough for it; "ok" returns) into a fresh state dir.
func mcpState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.json"), []byte(`{"fuel_budget": 1000000000000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(ctx, dir, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	key := testskill.NewKey(t)
	schema := `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`
	for _, sp := range []testskill.Spec{
		{Key: key, Module: testskill.EchoModule("echo"), InputSchema: schema, OutputSchema: schema},
		{Key: key, Name: "spin", Module: testskill.SpinModule(false), Tools: []string{"spin", "ok"}, TimeoutMS: 60_000, Fuel: 1 << 40},
	} {
		if _, err := h.Install(ctx, sp.File(t), host.InstallOptions{AllowTOFU: true}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitStderr waits up to 15 s for the child's standard error to hold all
// of parts on one line.
func waitStderr(t *testing.T, stderr *lockedBuffer, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for line := range strings.Lines(stderr.String()) {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q on standard error within 15 s:\n%s", parts, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientEvents collects what a client was sent besides responses.
type clientEvents struct {
	changed  chan struct{}
	progress chan *mcp.ProgressNotificationParams
}

func newClient() (*mcp.Client, *clientEvents) {
	ev := &clientEvents{changed: make(chan struct{}, 16), progress: make(chan *mcp.ProgressNotificationParams, 16)}
	c := mcp.NewClient(&mcp.Implementation{Name: "palyra-test", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { ev.changed <- struct{}{} },
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			ev.progress <- r.Params
		},
	})
	return c, ev
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// listAndCall lists the tools, calls echo, and sees a schema violation
// come back as a tool result with isError.
func listAndCall(t *testing.T, cs *mcp.ClientSession) {
	t.Helper()
	ctx := context.Background()
	if got, want := strings.Join(toolNames(t, cs), " "), "acme_echo__echo acme_spin__ok acme_spin__spin"; got != want {
		t.Fatalf("tools: %s, want %s", got, want)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "acme_echo__echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil || res.IsError || resultText(res) != `{"text":"hi"}` {
		t.Fatalf("echo: %v %+v", err, res)
	}
	if sc, _ := json.Marshal(res.StructuredContent); string(sc) != `{"text":"hi"}` {
		t.Fatalf("echo: structuredContent %s", sc)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "acme_echo__echo", Arguments: map[string]any{"text": 5}})
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "schema_violation: ") || !strings.Contains(resultText(res), "/text: got number, want string") {
		t.Fatalf("schema violation: %v %+v", err, res)
	}
}

// TestMCPStdio runs palyra mcp as a child process over stdio with the Go
// SDK's client: list, call, schema violation, a quarantine made by
// another palyra process, and a cancelled spinning call.
func TestMCPStdio(t *testing.T) {
	dir := mcpState(t)
	ctx := context.Background()
	var stderr lockedBuffer
	cmd := palyraCommand("--state-dir", dir, "mcp", "--poll", "100ms")
	cmd.Stderr = &stderr
	c, ev := newClient()
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	listAndCall(t, cs)

	// Cancel a spinning guest: the server logs the call's end once
	// host.Call has returned, which it does once the guest stopped —
	// long before its 60 s deadline.
	callCtx, cancel := context.WithCancel(ctx)
	params := &mcp.CallToolParams{Name: "acme_spin__spin", Arguments: map[string]any{}}
	params.SetProgressToken("spin")
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(callCtx, params)
		errc <- err
	}()
	select {
	case p := <-ev.progress:
		if p.ProgressToken != "spin" || p.Progress != 0 {
			t.Fatalf("progress %+v", p)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no start progress within 15 s\n%s", stderr.String())
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	waitStderr(t, &stderr, "mcp: tool call failed", "tool=acme_spin__spin", "code=canceled")
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "acme_spin__ok", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Fatalf("ok after the cancel: %v %+v", err, res)
	}

	// Quarantine from another process: list_changed within the poll
	// interval, and the skill's tools are gone.
	q := palyraCommand("--state-dir", dir, "skills", "quarantine", "acme.echo", "--reason", "from another terminal")
	if out, err := q.CombinedOutput(); err != nil {
		t.Fatalf("palyra skills quarantine: %v\n%s", err, out)
	}
	select {
	case <-ev.changed:
	case <-time.After(15 * time.Second):
		t.Fatalf("no list_changed within 15 s of the quarantine\n%s", stderr.String())
	}
	if got := strings.Join(toolNames(t, cs), " "); got != "acme_spin__ok acme_spin__spin" {
		t.Fatalf("tools after the quarantine: %s", got)
	}
}

// startMCPHTTP starts palyra mcp with args (--http among them) as a
// child process, waits for the address it prints, and stops it with
// SIGINT when the test ends (it must exit 0 within 15 s).
func startMCPHTTP(t *testing.T, args ...string) (endpoint string, stderr *lockedBuffer) {
	t.Helper()
	cmd := palyraCommand(args...)
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("palyra mcp --http after SIGINT: %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("palyra mcp --http did not stop within 15 s of SIGINT")
		}
	})
	stderr = &lockedBuffer{}
	lines := bufio.NewScanner(stderrPipe)
	url := make(chan string, 1)
	go func() {
		for lines.Scan() {
			fmt.Fprintln(stderr, lines.Text())
			if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				url <- u
			}
		}
	}()
	select {
	case endpoint = <-url:
	case <-time.After(15 * time.Second):
		t.Fatalf("no listening line within 15 s\n%s", stderr.String())
	}
	return endpoint, stderr
}

// TestMCPHTTP runs palyra mcp --http with a token file as a child
// process: the Go SDK's client lists and calls with the token, and a
// request without it is refused.
func TestMCPHTTP(t *testing.T) {
	dir := mcpState(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "s3cret-token-0123456789"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint, stderr := startMCPHTTP(t, "--state-dir", dir, "mcp", "--http", "127.0.0.1:0", "--token-file", tokenFile)
	resp, err := http.Post(endpoint, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("request without the token: %s", resp.Status)
	}
	c, _ := newClient()
	hc := &http.Client{Transport: bearerTransport{token}}
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	listAndCall(t, cs)
}

// TestMCPHTTPMutualTLS runs palyra mcp --http --mtls as a child process:
// a device paired with the state dir connects with its client
// certificate; a client without one cannot; once the device is revoked
// (palyra devices revoke) its requests are refused, on the connection it
// already had too.
func TestMCPHTTPMutualTLS(t *testing.T) {
	ctx := context.Background()
	dir := mcpState(t)
	sd := []string{"--state-dir", dir}
	cliOK(t, sd, "identity", "init")
	var pc pairingCodeJSON
	if err := json.Unmarshal([]byte(cliOK(t, sd, "pairing", "code", "--json", "--kind", "desktop")), &pc); err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(ctx, dir, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	id, err := h.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dev, paired, err := pairOverPipe(ctx, id.Manager, pc.Code, identity.KindDesktop)
	if err != nil {
		t.Fatal(err)
	}

	endpoint, stderr := startMCPHTTP(t, "--state-dir", dir, "mcp", "--http", "127.0.0.1:0", "--mtls")
	if !strings.HasPrefix(endpoint, "https://") {
		t.Fatalf("endpoint %s", endpoint)
	}
	roots := x509.NewCertPool()
	roots.AddCert(paired.CACert)
	clientTLS := func(withCert bool) *http.Client {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
		if withCert {
			cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{paired.ClientCertDER}, PrivateKey: paired.Key, Leaf: paired.ClientCert}}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	connect := func(hc *http.Client) (*mcp.ClientSession, error) {
		c, _ := newClient()
		return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
	}
	if cs, err := connect(clientTLS(false)); err == nil {
		cs.Close()
		t.Fatal("connected without a client certificate")
	}
	cs, err := connect(clientTLS(true))
	if err != nil {
		t.Fatalf("connect with the device's certificate: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	listAndCall(t, cs)

	cliOK(t, sd, "devices", "revoke", dev.ID(), "--reason", "lost laptop")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := cs.ListTools(ctx, nil); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked device still lists tools 15 s after the revocation\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitStderr(t, stderr, "mcp: request refused", "revoked")
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPCommandLine: the refusals happen before anything is served, with
// exit status 2, and the token never comes from the command line.
func TestMCPCommandLine(t *testing.T) {
	sd := []string{"--state-dir", filepath.Join(t.TempDir(), "state")}
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("short"), 0o600)
	readable := filepath.Join(t.TempDir(), "readable")
	os.WriteFile(readable, []byte("0123456789abcdef0123"), 0o644)
	os.Chmod(readable, 0o644) // whatever the umask
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"mcp", "--http", "0.0.0.0:0"}, "", cmdline.ExitUsage, "needs client authentication"},
		{[]string{"mcp", "--http", "[::]:0"}, "", cmdline.ExitUsage, "needs client authentication"},
		{[]string{"mcp", "--token-file", token}, "", cmdline.ExitUsage, "--token-file needs --http"},
		{[]string{"mcp", "--mtls"}, "", cmdline.ExitUsage, "--mtls needs --http"},
		{[]string{"mcp", "--http", "127.0.0.1:0", "--name", "a.example"}, "", cmdline.ExitUsage, "--name needs --mtls"},
		{[]string{"mcp", "--poll", "0s"}, "", cmdline.ExitUsage, "--poll must be positive"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--token-file", token}, "", cmdline.ExitFailure, "at least 16 are needed"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--token-file", "-"}, "", cmdline.ExitFailure, "the token is empty"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--token-file", readable}, "", cmdline.ExitFailure, "chmod 600"},
		{[]string{"mcp", "--http", "0.0.0.0:0", "--token-file", filepath.Join(t.TempDir(), "none")}, "", cmdline.ExitFailure, "no such file"},
		{[]string{"mcp", "--token", "x"}, "", cmdline.ExitUsage, "unknown flag"},
		{[]string{"mcp", "--http", "127.0.0.1:0", "--mtls"}, "", cmdline.ExitFailure, "palyra identity init"},
	} {
		_, errOut, code := execCLI(t, tc.stdin, append(sd, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("palyra %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want)
		}
	}
}
