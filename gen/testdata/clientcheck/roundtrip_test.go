// This test is copied, with a client generated from
// gen/testdata/typedskill/skill.toml, into a temporary module by gen's
// TestClientRoundTrip. It calls the skill's real Wasm module (built by
// palyra-gen build, path in PALYRA_TEST_WASM) through the typed client,
// with extism/go-sdk as the host.
package clientcheck

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"

	"clientcheck/typedclient"
)

// extismCaller is a Caller that runs the tool in an Extism plugin.
type extismCaller struct {
	plugin *extism.Plugin
	calls  []string
}

func (c *extismCaller) Call(ctx context.Context, skillID, tool string, input []byte) ([]byte, error) {
	if skillID != typedclient.SkillID {
		return nil, fmt.Errorf("skill %s is not installed", skillID)
	}
	c.calls = append(c.calls, tool+" "+string(input))
	rc, out, err := c.plugin.CallWithContext(ctx, tool, input)
	if err != nil {
		return nil, err
	}
	if rc != 0 {
		return nil, fmt.Errorf("tool %s returned %d", tool, rc)
	}
	return out, nil
}

func newCaller(t *testing.T) *extismCaller {
	wasm, err := os.ReadFile(os.Getenv("PALYRA_TEST_WASM"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := extism.NewPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return &extismCaller{plugin: p}
}

func ptr[T any](v T) *T { return &v }

func TestRoundTrip(t *testing.T) {
	caller := newCaller(t)
	c := typedclient.New(caller)
	ctx := context.Background()

	depart := time.Date(2026, 5, 4, 8, 30, 0, 0, time.UTC)
	in := typedclient.PlanTripInput{
		CreatedBy:  "ada",
		Note:       ptr("window seat"),
		From:       typedclient.Place{Name: "Zürich", Lat: 47.37, Lon: 8.54},
		To:         typedclient.Place{Name: "Milano", Lat: 45.46, Lon: 9.19},
		Modes:      []typedclient.Mode{typedclient.ModeTrain, typedclient.ModeWalk},
		Depart:     depart,
		Budget:     ptr(int64(12000)),
		Stops:      []typedclient.Stop{{Place: typedclient.Place{Name: "Lugano"}, Priority: ptr(typedclient.Priority3), Sub: []typedclient.Stop{{Place: typedclient.Place{Name: "Kiosk"}}}}},
		Tags:       map[string]string{"class": "2nd"},
		Attachment: []byte{0, 1, 2, 0xff},
		Window:     []int64{10, 25},
		Ratio:      ptr(0.5),
		Count:      "7",
		Extra:      map[string]any{"k": []any{"v", true}},
		Untagged:   true,
	}
	out, err := c.PlanTrip(ctx, in)
	if err != nil {
		t.Fatalf("PlanTrip: %v (calls %v)", err, caller.calls)
	}
	if out.Summary != "Zürich to Milano by train" {
		t.Errorf("Summary %q", out.Summary)
	}
	if !out.Arrive.Equal(depart.Add(90 * time.Minute)) {
		t.Errorf("Arrive %v", out.Arrive)
	}
	if len(out.Legs) != 1 || out.Legs[0].Mode != typedclient.ModeTrain || out.Legs[0].TookNs != int64(90*time.Minute) {
		t.Errorf("Legs %+v", out.Legs)
	}
	if out.Scores["comfort"] != 1 || out.Scores["price"] != 15 {
		t.Errorf("Scores %v", out.Scores)
	}
	if len(out.Warnings) != 0 {
		t.Errorf("Warnings %v", out.Warnings)
	}
	if !reflect.DeepEqual(out.Echo, in) {
		t.Errorf("the skill's echo of the input differs:\n got %+v\nwant %+v", out.Echo, in)
	}
	if fmt.Sprint(out.Raw) != "map[ok:true]" {
		t.Errorf("Raw %v", out.Raw)
	}

	// A tool that takes no context and returns a string.
	s, err := c.Shout(ctx, typedclient.ShoutInput{Text: "hi"})
	if err != nil || s != "HI!" {
		t.Errorf("Shout = %q, %v", s, err)
	}
	// A tool error reaches the client as an error with the tool's message.
	if _, err := c.Shout(ctx, typedclient.ShoutInput{}); err == nil || !strings.Contains(err.Error(), "nothing to shout") {
		t.Errorf("Shout of nothing: err = %v", err)
	}
}

// The generated wrappers decode strictly: what the Go types do not
// describe is refused, by the real module.
func TestStrictInput(t *testing.T) {
	caller := newCaller(t)
	ctx := context.Background()
	for _, tt := range []struct{ input, want string }{
		{`{"text":"a","extra":1}`, `unknown field "extra"`},
		{`{"text":"a"} {"text":"b"}`, "data after the JSON object"},
		{`{"text":"a"}x`, "data after the JSON object"},
		{`["text"]`, "want a JSON object"},
		{``, "want a JSON object"},
		{`null`, "want a JSON object"},
		{`{"text":1}`, "cannot unmarshal number"},
		{`{}`, `missing required field "text"`},
	} {
		_, err := caller.Call(ctx, typedclient.SkillID, typedclient.ToolShout, []byte(tt.input))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("input %q: err = %v, want %q", tt.input, err, tt.want)
		}
	}
	out, err := caller.Call(ctx, typedclient.SkillID, typedclient.ToolShout, []byte(" {\"text\":\"ok\"}\n"))
	if err != nil || string(out) != `"OK!"` {
		t.Errorf("valid input with blanks: %s, %v", out, err)
	}
}
