package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// echoSchemas: text is a required string on the way in; on the way out no
// other property is allowed, so the echo module (output = input) breaks
// the output schema when the input carries one.
const (
	echoInSchema  = `{ type = "object", properties = { text = { type = "string" } }, required = ["text"] }`
	echoOutSchema = `{ type = "object", properties = { text = { type = "string" } }, required = ["text"], additionalProperties = false }`
)

// syncBuffer is a log sink safe for the host's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// installSchemaEcho installs the echo module as acme.echo with the echo
// schemas, under a policy with the given tool_schemas mode.
func installSchemaEcho(t *testing.T, mode string) (*host.Host, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	h := openHost(t, t.TempDir(), runOpts(host.Options{
		Policy: &host.Policy{ToolSchemas: mode},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}))
	installSpec(t, h, skillSpec{Name: "echo", Module: testskill.EchoModule("echo"), InputSchema: echoInSchema, OutputSchema: echoOutSchema})
	return h, logs
}

// Issue 12: an input breaking the tool's schema (or not JSON at all) ran
// the guest, which echoed it back. Now the call is refused before the
// guest runs, naming the JSON path and the rule.
func TestToolSchemaRefusesInputBeforeTheGuestRuns(t *testing.T) {
	ctx := context.Background()
	h, _ := installSchemaEcho(t, "")
	for _, c := range []struct{ input, path, rule, text string }{
		{"not json", "", "json", "tool acme.echo: input (root): not JSON"},
		{"", "", "json", "not JSON: empty"},
		{`{}`, "", "required", "input (root): missing property 'text' (required)"},
		{`{"text":42}`, "/text", "type", "input /text: got number, want string (type)"},
	} {
		res, err := h.Run(ctx, "acme.echo", "echo", []byte(c.input))
		var v *host.SchemaViolation
		if !errors.As(err, &v) || !errors.Is(err, host.ErrSchemaViolation) {
			t.Fatalf("%q: got %v, want a schema violation", c.input, err)
		}
		if v.Path != c.path || v.Rule != c.rule || v.Direction != "input" || v.Tool != "acme.echo" ||
			!strings.Contains(err.Error(), c.text) || !strings.HasPrefix(err.Error(), "acme.echo 1.0.0: ") {
			t.Errorf("%q: %+v: %v", c.input, v, err)
		}
		if res == nil || res.Output != nil || res.FuelConsumed != 0 || res.Instance != 0 {
			t.Errorf("%q: the guest ran: %+v", c.input, res)
		}
		if out, err := h.Call(ctx, "acme.echo", "echo", []byte(c.input)); out != nil || !errors.Is(err, host.ErrSchemaViolation) {
			t.Errorf("%q: Call = %q, %v", c.input, out, err)
		}
	}
	// The guest's instance has run no call yet: the next one is its first.
	res, err := h.Run(ctx, "acme.echo", "echo", []byte(`{"text":"hi"}`))
	if err != nil || string(res.Output) != `{"text":"hi"}` {
		t.Fatalf("valid input: %+v, %v", res, err)
	}
	if res.InstanceCalls != 1 {
		t.Errorf("the instance had run %d calls before the first valid one", res.InstanceCalls-1)
	}
}

// The output is checked after the call: refused under enforce (the
// default), logged and returned under warn, neither under off (which
// checks inputs no more).
func TestToolSchemaOutputModes(t *testing.T) {
	ctx := context.Background()
	breaks := []byte(`{"text":"hi","extra":1}`) // a valid input, echoed: an invalid output
	for _, c := range []struct {
		mode    string
		refused bool
		logged  bool
	}{
		{"", true, false},
		{host.SchemaEnforce, true, false},
		{host.SchemaWarn, false, true},
		{host.SchemaOff, false, false},
	} {
		h, logs := installSchemaEcho(t, c.mode)
		out, err := h.Call(ctx, "acme.echo", "echo", breaks)
		var v *host.SchemaViolation
		if c.refused {
			if !errors.As(err, &v) || v.Direction != "output" || v.Rule != "additionalProperties" || out != nil {
				t.Errorf("mode %q: %q, %v; want the output refused (additionalProperties)", c.mode, out, err)
			}
		} else if err != nil || !bytes.Equal(out, breaks) {
			t.Errorf("mode %q: %q, %v; want the output passed through", c.mode, out, err)
		}
		// Inputs under warn and off: the guest runs.
		out, err = h.Call(ctx, "acme.echo", "echo", []byte("not json"))
		if c.refused != (err != nil) || (!c.refused && string(out) != "not json") {
			t.Errorf("mode %q: input not JSON: %q, %v", c.mode, out, err)
		}
		l := logs.String()
		if got := strings.Contains(l, "tool schema violation"); got != c.logged {
			t.Errorf("mode %q: logged %v:\n%s", c.mode, got, l)
		}
		if c.logged && (!strings.Contains(l, "skill=acme.echo") || !strings.Contains(l, "output (root)") || !strings.Contains(l, "(additionalProperties)") ||
			!strings.Contains(l, "input (root): not JSON")) {
			t.Errorf("mode %q: log lacks skill, path or rule:\n%s", c.mode, l)
		}
	}
}

func TestToolSchemaPolicyValue(t *testing.T) {
	_, err := host.Open(context.Background(), t.TempDir(), host.Options{Policy: &host.Policy{ToolSchemas: "strict"}})
	if err == nil || !strings.Contains(err.Error(), `tool_schemas "strict"`) {
		t.Errorf("policy tool_schemas strict: %v", err)
	}
}

// Issue 12: a manifest whose schema is not a JSON Schema installed; the
// audit now refuses it, naming the tool and the schema.
func TestInstallRefusesInvalidToolSchema(t *testing.T) {
	h := openHost(t, t.TempDir(), runOpts(host.Options{}))
	spec := skillSpec{Name: "echo", Module: testskill.EchoModule("echo"),
		InputSchema: `{ type = 42, required = "text", properties = 7 }`}
	_, err := h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true})
	var ae *host.AuditError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "[manifest_tool_schemas]") ||
		!strings.Contains(err.Error(), "tool acme.echo: input_schema") || !strings.Contains(err.Error(), "/type: value must be one of") {
		t.Errorf("install: %v", err)
	}
	if _, err := h.Call(context.Background(), "acme.echo", "echo", []byte(`{}`)); err == nil {
		t.Error("the skill runs")
	}
}
