//lint:file-ignore SA1019 the tests check MCP logging, deprecated from protocol 2026-07-28 on but served for the versions before it.

package mcpserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/logtest"
	"github.com/palyra/palyra-go/internal/mcpserver"
	"github.com/palyra/palyra-go/internal/testskill"
)

const (
	objectIn  = `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`
	objectOut = `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`
	// bigFuel lets a spinning guest run until its deadline or a cancel.
	bigFuel = 1 << 40
)

// echoSkill echoes its input; its schemas want {"text": string}.
func echoSkill() testskill.Spec {
	return testskill.Spec{Name: "echo", Module: testskill.EchoModule("echo"), InputSchema: objectIn, OutputSchema: objectOut}
}

// spinSkill's "spin" loops until stopped; "ok" returns at once.
func spinSkill(name string, timeoutMS, fuel uint64) testskill.Spec {
	return testskill.Spec{Name: name, Module: testskill.SpinModule(false), Tools: []string{"spin", "ok"}, TimeoutMS: timeoutMS, Fuel: fuel}
}

// badSkill's tools: "fail" returns 1 (a guest error), "trap" hits
// unreachable, "log" logs its input with log_info and outputs nothing.
func badSkill() testskill.Spec {
	i64 := []wasm.ValueType{wasm.ValueTypeI64}
	m := &wasm.Module{
		TypeSection: []*wasm.FunctionType{
			{Results: []wasm.ValueType{wasm.ValueTypeI32}}, // a tool
			{Results: i64}, // input_offset
			{Params: i64},  // log_info
		},
		ImportSection: []*wasm.Import{
			{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "input_offset", DescFunc: 1},
			{Type: wasm.ExternTypeFunc, Module: "extism:host/env", Name: "log_info", DescFunc: 2},
		},
		MemorySection:   &wasm.Memory{Min: 1, Max: 16, IsMaxEncoded: true},
		FunctionSection: []wasm.Index{0, 0, 0},
		CodeSection: []*wasm.Code{
			{Body: []byte{wasm.OpcodeI32Const, 1, wasm.OpcodeEnd}},
			{Body: []byte{wasm.OpcodeUnreachable, wasm.OpcodeEnd}},
			{Body: []byte{wasm.OpcodeCall, 0, wasm.OpcodeCall, 1, wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}},
		},
		ExportSection: []*wasm.Export{
			{Type: wasm.ExternTypeFunc, Name: "fail", Index: 2},
			{Type: wasm.ExternTypeFunc, Name: "trap", Index: 3},
			{Type: wasm.ExternTypeFunc, Name: "log", Index: 4},
			{Type: wasm.ExternTypeMemory, Name: "memory"},
		},
	}
	return testskill.Spec{Name: "bad", Module: binary.EncodeModule(m), Tools: []string{"fail", "trap", "log"}}
}

// fixture is a state dir with skills installed, a Server on it and a
// client connected to it in memory.
type fixture struct {
	state  string
	h      *host.Host
	s      *mcpserver.Server
	cs     *mcp.ClientSession
	log    *logtest.Recorder
	events *events
}

// events are what the client was sent besides responses.
type events struct {
	mu       sync.Mutex
	changed  int
	progress []*mcp.ProgressNotificationParams
	logs     []*mcp.LoggingMessageParams
	signal   chan struct{}
}

func (e *events) note(fn func()) {
	e.mu.Lock()
	fn()
	e.mu.Unlock()
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// waitFor polls cond (under the lock) for up to 10 s.
func (e *events) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		ok := cond()
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-e.signal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s within 10 s", what)
		}
	}
}

type setup struct {
	policy       string
	poll         time.Duration
	journalPoll  time.Duration
	protocol     string // "" the client's latest
	skills       []testskill.Spec
	artifacts    []string // artifact files to install too
	grantRequest bool
}

func newFixture(t *testing.T, su setup) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{state: t.TempDir(), log: &logtest.Recorder{}, events: &events{signal: make(chan struct{}, 1)}}
	if su.policy != "" {
		if err := os.WriteFile(filepath.Join(f.state, "policy.json"), []byte(su.policy), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h, err := host.Open(ctx, f.state, host.Options{Logger: slog.New(mcpserver.LogHandler(f.log)), JournalPollInterval: su.journalPoll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f.h = h
	key := testskill.NewKey(t) // one publisher, one key
	for _, sp := range su.skills {
		sp.Key = key
		if _, err := h.Install(ctx, sp.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: su.grantRequest}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range su.artifacts {
		if _, err := h.Install(ctx, a, host.InstallOptions{AllowTOFU: true, GrantRequested: su.grantRequest}); err != nil {
			t.Fatal(err)
		}
	}
	f.s, err = mcpserver.New(ctx, mcpserver.Options{Host: h, Poll: cmpOr(su.poll, 20*time.Millisecond), Logger: slog.New(f.log)})
	if err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.s.Run(runCtx, st) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	ev := f.events
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { ev.note(func() { ev.changed++ }) },
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			ev.note(func() { ev.progress = append(ev.progress, r.Params) })
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			ev.note(func() { ev.logs = append(ev.logs, r.Params) })
		},
	})
	f.cs, err = c.Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: su.protocol})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cs.Close() })
	return f
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

// otherProcess opens the fixture's state dir again, as another process
// (palyra skills quarantine in another terminal) would.
func (f *fixture) otherProcess(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.Open(context.Background(), f.state, host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func (f *fixture) tools(t *testing.T) map[string]*mcp.Tool {
	t.Helper()
	res, err := f.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		out[tl.Name] = tl
	}
	return out
}

func (f *fixture) call(t *testing.T, name, args string) *mcp.CallToolResult {
	t.Helper()
	params := &mcp.CallToolParams{Name: name}
	if args != "" { // "": no arguments at all
		params.Arguments = json.RawMessage(args)
	}
	res, err := f.cs.CallTool(context.Background(), params)
	if err != nil {
		t.Fatalf("call %s: protocol error %v", name, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestListAndCall(t *testing.T) {
	for _, protocol := range []string{"", "2025-11-25"} {
		t.Run("protocol="+cmp(protocol, "latest"), func(t *testing.T) {
			f := newFixture(t, setup{protocol: protocol, skills: []testskill.Spec{echoSkill(), spinSkill("spin", 0, 0)}})
			tools := f.tools(t)
			var names []string
			for n := range tools {
				names = append(names, n)
			}
			slices.Sort(names)
			if want := []string{"acme_echo__echo", "acme_spin__ok", "acme_spin__spin"}; !slices.Equal(names, want) {
				t.Fatalf("tools = %v, want %v", names, want)
			}
			echo := tools["acme_echo__echo"]
			schema, _ := json.Marshal(echo.InputSchema)
			if !strings.Contains(string(schema), `"required":["text"]`) || echo.Description != "Test tool echo" || echo.OutputSchema == nil {
				t.Errorf("echo tool: schema %s, description %q, output schema %v", schema, echo.Description, echo.OutputSchema)
			}
			if echo.Meta[mcpserver.MetaSkillID] != "acme.echo" || echo.Meta[mcpserver.MetaToolID] != "acme.echo" || echo.Meta[mcpserver.MetaVersion] != "1.0.0" {
				t.Errorf("echo _meta = %v", echo.Meta)
			}
			// The spin skill's schemas are {}: MCP's input is an object,
			// and no output schema is listed for a tool whose output need
			// not be one.
			spin := tools["acme_spin__spin"]
			if schema, _ := json.Marshal(spin.InputSchema); string(schema) != `{"type":"object"}` || spin.OutputSchema != nil {
				t.Errorf("spin tool: input schema %s, output schema %v", schema, spin.OutputSchema)
			}

			res := f.call(t, "acme_echo__echo", `{"text":"hi"}`)
			if res.IsError || text(res) != `{"text":"hi"}` {
				t.Fatalf("echo: isError %v, text %q", res.IsError, text(res))
			}
			got, _ := json.Marshal(res.StructuredContent)
			if string(got) != `{"text":"hi"}` {
				t.Errorf("structuredContent = %s", got)
			}
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestCallFailuresAreToolResults: every way a call fails reaches the
// client as a result with isError and the error's code, not as a
// protocol error.
func TestCallFailuresAreToolResults(t *testing.T) {
	f := newFixture(t, setup{
		policy: fmt.Sprintf(`{"fuel_budget": %d}`, uint64(bigFuel)),
		skills: []testskill.Spec{echoSkill(), badSkill(), spinSkill("slow", 150, bigFuel), spinSkill("hungry", 0, 100_000)},
	})
	for _, tc := range []struct {
		tool, args, code, text string
	}{
		{"acme_echo__echo", `{"text":5}`, "schema_violation", "input /text: got number, want string"},
		{"acme_echo__echo", `{}`, "schema_violation", "missing property 'text'"},
		{"acme_echo__echo", ``, "schema_violation", "missing property 'text'"},
		{"acme_bad__fail", `{}`, "guest_error", "acme.bad"},
		{"acme_bad__trap", `{}`, "trap", "unreachable"},
		{"acme_slow__spin", `{}`, "deadline_exceeded", "acme.slow"},
		{"acme_hungry__spin", `{}`, "fuel_exhausted", "fuel"},
	} {
		res := f.call(t, tc.tool, tc.args)
		if !res.IsError || res.Meta[mcpserver.MetaErrorCode] != tc.code || !strings.HasPrefix(text(res), tc.code+": ") || !strings.Contains(text(res), tc.text) {
			t.Errorf("%s %s: isError %v, code %v, text %q; want code %s and %q", tc.tool, tc.args, res.IsError, res.Meta[mcpserver.MetaErrorCode], text(res), tc.code, tc.text)
		}
		if res.StructuredContent != nil {
			t.Errorf("%s: an error result carries structuredContent %v", tc.tool, res.StructuredContent)
		}
	}
	// A failed call fails only itself.
	if res := f.call(t, "acme_echo__echo", `{"text":"still here"}`); res.IsError {
		t.Fatalf("echo after the failures: %s", text(res))
	}
	// A name no skill has is the protocol's error (the SDK's).
	if _, err := f.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "acme_nope__nope"}); err == nil {
		t.Fatal("call of an unknown tool succeeded")
	}
}

// TestQuarantineByAnotherProcess: a quarantine made through another Host
// on the same state dir (as palyra skills quarantine in another terminal)
// removes the skill's tools and sends list_changed; enabling it brings
// them back.
func TestQuarantineByAnotherProcess(t *testing.T) {
	for _, protocol := range []string{"", "2025-11-25"} {
		t.Run("protocol="+cmp(protocol, "latest"), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, setup{protocol: protocol, skills: []testskill.Spec{echoSkill(), badSkill()}})
			other := f.otherProcess(t)
			if err := other.Quarantine(ctx, "acme.echo", "test", "operator:test"); err != nil {
				t.Fatal(err)
			}
			f.events.waitFor(t, "list_changed after the quarantine", func() bool { return f.events.changed >= 1 })
			tools := f.tools(t)
			if _, ok := tools["acme_echo__echo"]; ok || len(tools) != 3 {
				t.Fatalf("after the quarantine: tools %v", tools)
			}
			if err := other.Enable(ctx, "acme.echo", "operator:test"); err != nil {
				t.Fatal(err)
			}
			f.events.waitFor(t, "list_changed after the enable", func() bool { return f.events.changed >= 2 })
			if _, ok := f.tools(t)["acme_echo__echo"]; !ok {
				t.Fatal("enabled skill's tool not listed again")
			}
		})
	}
}

// TestCallRoutedToQuarantinedSkillRefused: a call to a tool still listed
// (the server has not polled yet) whose skill another process quarantined
// is refused by the host, as an isError result.
func TestCallRoutedToQuarantinedSkillRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, setup{poll: time.Hour, journalPoll: time.Millisecond, skills: []testskill.Spec{echoSkill()}})
	if res := f.call(t, "acme_echo__echo", `{"text":"a"}`); res.IsError {
		t.Fatal(text(res))
	}
	other := f.otherProcess(t)
	if err := other.Quarantine(ctx, "acme.echo", "test", "operator:test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the host's journal poll
	res := f.call(t, "acme_echo__echo", `{"text":"a"}`)
	if !res.IsError || res.Meta[mcpserver.MetaErrorCode] != "not_eligible" {
		t.Fatalf("call to a quarantined skill: isError %v, %q", res.IsError, text(res))
	}
}

// TestCancelStopsGuest: cancelling a call (notifications/cancelled) stops
// the spinning guest long before its 60 s deadline.
func TestCancelStopsGuest(t *testing.T) {
	f := newFixture(t, setup{
		policy: fmt.Sprintf(`{"fuel_budget": %d}`, uint64(bigFuel)),
		skills: []testskill.Spec{spinSkill("spin", 60_000, bigFuel)},
	})
	ctx, cancel := context.WithCancel(context.Background())
	params := &mcp.CallToolParams{Name: "acme_spin__spin", Arguments: json.RawMessage(`{}`)}
	params.SetProgressToken("spin-1")
	errc := make(chan error, 1)
	go func() {
		_, err := f.cs.CallTool(ctx, params)
		errc <- err
	}()
	// The guest is running once the start progress came.
	f.events.waitFor(t, "start progress", func() bool { return len(f.events.progress) >= 1 })
	start := time.Now()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call returned %v", err)
	}
	// The server logs the call's end when host.Call has returned, which
	// it does once the guest has stopped.
	for f.log.Find("mcp: tool call failed", map[string]string{"tool": "acme_spin__spin", "code": "canceled"}) == nil {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("guest still running 15 s after the cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The skill still answers.
	if res := f.call(t, "acme_spin__ok", `{}`); res.IsError {
		t.Fatalf("ok after the cancel: %s", text(res))
	}
}

// TestProgressAndGuestLogs: with a progress token the client hears the
// call start and end; what the guest logs reaches it as log messages at
// the level it set, and not before it set one.
func TestProgressAndGuestLogs(t *testing.T) {
	for _, protocol := range []string{"", "2025-11-25"} {
		t.Run("protocol="+cmp(protocol, "latest"), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, setup{protocol: protocol, skills: []testskill.Spec{badSkill()}})
			callLog := func(msg, level string) {
				params := &mcp.CallToolParams{Name: "acme_bad__log", Arguments: json.RawMessage(fmt.Sprintf(`{"m":%q}`, msg))}
				params.SetProgressToken(msg)
				if level != "" && protocol == "" {
					params.Meta[mcp.MetaKeyLogLevel] = level
				}
				if res, err := f.cs.CallTool(ctx, params); err != nil || res.IsError {
					t.Fatalf("log: %v %v", err, res)
				}
			}
			callLog("before", "")
			if protocol != "" {
				if err := f.cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
					t.Fatal(err)
				}
			}
			callLog("after", "info")
			f.events.waitFor(t, "the guest's log message", func() bool { return len(f.events.logs) >= 1 })
			f.events.waitFor(t, "progress of both calls", func() bool { return len(f.events.progress) >= 4 })
			f.events.mu.Lock()
			defer f.events.mu.Unlock()
			for _, l := range f.events.logs {
				data, _ := json.Marshal(l.Data)
				if l.Logger != "acme_bad__log" || l.Level != "info" || !strings.Contains(string(data), `after`) || strings.Contains(string(data), "before") {
					t.Errorf("log message: logger %q level %q data %s", l.Logger, l.Level, data)
				}
			}
			var seen []string
			for _, p := range f.events.progress {
				seen = append(seen, fmt.Sprintf("%v:%v", p.ProgressToken, p.Progress))
			}
			if want := []string{"before:0", "before:1", "after:0", "after:1"}; !slices.Equal(seen, want) {
				t.Errorf("progress = %v, want %v", seen, want)
			}
		})
	}
}

// TestGrantsChangeTools: the annotations and _meta follow the grants,
// so any grants change reaches the client as list_changed.
func TestGrantsChangeTools(t *testing.T) {
	ctx := context.Background()
	sp := echoSkill()
	sp.Capabilities = `http_egress_allowlist = ["api.example.com"]
secrets = [{ scope = "skill:acme.echo", key_names = ["api_key"] }]`
	f := newFixture(t, setup{skills: []testskill.Spec{sp}, grantRequest: true})
	tool := f.tools(t)["acme_echo__echo"]
	a := tool.Annotations
	if a.ReadOnlyHint || a.OpenWorldHint == nil || !*a.OpenWorldHint || a.DestructiveHint == nil || *a.DestructiveHint {
		t.Fatalf("granted HTTP: annotations %+v", a)
	}
	granted := func(tool *mcp.Tool) string {
		b, _ := json.Marshal(tool.Meta[mcpserver.MetaGranted])
		return string(b)
	}
	if got, want := granted(tool), `{"http_hosts":["api.example.com"],"read_roots":[],"secrets":["skill:acme.echo/api_key"],"write_roots":[]}`; got != want {
		t.Fatalf("granted = %s, want %s", got, want)
	}
	other := f.otherProcess(t)
	// Only the secret goes: the annotations stay, _meta changes.
	if _, err := other.SetGrants(ctx, "acme.echo", host.Grants{HTTPHosts: []string{"api.example.com"}}, "operator:test"); err != nil {
		t.Fatal(err)
	}
	f.events.waitFor(t, "list_changed after the secret's grant went", func() bool { return f.events.changed >= 1 })
	if got, want := granted(f.tools(t)["acme_echo__echo"]), `{"http_hosts":["api.example.com"],"read_roots":[],"secrets":[],"write_roots":[]}`; got != want {
		t.Fatalf("granted = %s, want %s", got, want)
	}
	if _, err := other.SetGrants(ctx, "acme.echo", host.Grants{}, "operator:test"); err != nil {
		t.Fatal(err)
	}
	f.events.waitFor(t, "list_changed after the HTTP grant went", func() bool { return f.events.changed >= 2 })
	a = f.tools(t)["acme_echo__echo"].Annotations
	if !a.ReadOnlyHint || *a.OpenWorldHint {
		t.Fatalf("nothing granted: annotations %+v", a)
	}
}

func TestHTTP(t *testing.T) {
	f := newFixture(t, setup{skills: []testskill.Spec{echoSkill()}})
	const token = "0123456789abcdef-token"
	srv := httptest.NewServer(f.s.HTTPHandler(mcpserver.HTTPOptions{Token: token}))
	defer srv.Close()
	connect := func(tok string) (*mcp.ClientSession, error) {
		hc := &http.Client{Transport: bearer{tok, http.DefaultTransport}}
		c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
		return c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: hc, MaxRetries: -1}, nil)
	}
	cs, err := connect(token)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "acme_echo__echo", Arguments: map[string]any{"text": "over http"}})
	if err != nil || res.IsError || text(res) != `{"text":"over http"}` {
		t.Fatalf("call over HTTP: %v %v", err, res)
	}
	for _, tok := range []string{"", "wrong-token-0123456789"} {
		if cs, err := connect(tok); err == nil {
			cs.Close()
			t.Errorf("token %q: connected", tok)
		}
	}
	// Without the client: 401 and a WWW-Authenticate header.
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %v", resp.StatusCode, resp.Header)
	}
	// With the token, a page of another site is still refused: by its
	// Host header (DNS rebinding onto a loopback server) or its origin.
	for name, set := range map[string]func(*http.Request){
		"control":      func(*http.Request) {},
		"rebound Host": func(r *http.Request) { r.Host = "evil.example:80" },
		"cross-origin": func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if refused := resp.StatusCode == http.StatusForbidden; refused != (name != "control") {
			t.Errorf("%s: %s", name, resp.Status)
		}
	}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// TestNativeSkill: Palyra's echo-http example, whose module is written
// for Palyra's native ABI, packaged as its author would. Its skill id has
// a '_', so its tools get hashed names; its tools output the host's
// {"exit_code":N}, so no output schema is listed; http_get asks for
// approval, so it is destructive.
func TestNativeSkill(t *testing.T) {
	work := t.TempDir()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../../host/testdata/echo-http/skill.toml", filepath.Join(work, "skill.toml"))
	copyFile("../../host/testdata/echo-http/assets/prompt.txt", filepath.Join(work, "assets", "prompt.txt"))
	copyFile("../runtime/testdata/native/echo_http.wasm", filepath.Join(work, "modules", "module.wasm"))
	res, err := gen.Package(context.Background(), work, gen.PackageOptions{Key: testskill.NewKey(t), Time: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, setup{artifacts: []string{res.File}})
	tools := f.tools(t)
	echo, get := tools[mcpserver.ToolName("acme.echo_http", "echo")], tools[mcpserver.ToolName("acme.echo_http", "http_get")]
	if echo == nil || get == nil || len(tools) != 2 {
		t.Fatalf("tools: %v", tools)
	}
	if !strings.HasPrefix(echo.Name, "acme_echo_http_echo_") || echo.OutputSchema != nil || get.OutputSchema != nil {
		t.Errorf("echo: name %s, output schema %v; http_get: output schema %v", echo.Name, echo.OutputSchema, get.OutputSchema)
	}
	if get.Annotations.ReadOnlyHint || !*get.Annotations.DestructiveHint || *echo.Annotations.DestructiveHint {
		t.Errorf("annotations: http_get %+v, echo %+v", get.Annotations, echo.Annotations)
	}
	r := f.call(t, echo.Name, `{"text":"hi"}`)
	if r.IsError || text(r) != `{"exit_code":0}` {
		t.Fatalf("native echo: isError %v, %q", r.IsError, text(r))
	}
	if sc, _ := json.Marshal(r.StructuredContent); string(sc) != `{"exit_code":0}` {
		t.Errorf("structuredContent %s", sc)
	}
}
