package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/runtime"
	"github.com/palyra/palyra-go/internal/testartifact"
	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/internal/testskill"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

// Bodies the test server serves.
var (
	textBody   = strings.Repeat("grüße, ", 20) // 180 bytes, with 2-byte characters
	binaryBody = []byte{0x89, 'P', 'N', 'G', 0x00, 0xff, 0xfe}
)

// newServer serves /text, /binary, /empty and /redirect (to /text);
// anything else is a 404.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("User-Agent") != "palyra-http-fetch/0.1" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(textBody))
		case "/binary":
			w.Header().Set("Content-Type", "image/png")
			w.Write(binaryBody)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/text", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type fetchTest struct {
	name  string
	input string
	want  *fetchOutput // nil: the call fails
	err   string       // in the error message
}

// tests are the cases every host must agree on; url is the test server's.
func tests(url string) []fetchTest {
	input := func(path string, maxBytes int) string {
		b, _ := json.Marshal(fetchInput{URL: url + path, MaxBytes: maxBytes})
		return string(b)
	}
	text := "text/plain; charset=utf-8"
	return []fetchTest{
		{"text", input("/text", 0), &fetchOutput{Status: 200, ContentType: text, Body: textBody, Bytes: 180}, ""},
		{"text/exact limit", input("/text", 180), &fetchOutput{Status: 200, ContentType: text, Body: textBody, Bytes: 180}, ""},
		// "grüße, " is g r ü(2) ß(2) e , space: 9 bytes. Cutting at 3 bytes
		// splits the ü, which is dropped; at 4, it is whole.
		{"text/cut inside a character", input("/text", 3), &fetchOutput{Status: 200, ContentType: text, Body: "gr", Bytes: 180, Truncated: true}, ""},
		{"text/cut after a character", input("/text", 4), &fetchOutput{Status: 200, ContentType: text, Body: "grü", Bytes: 180, Truncated: true}, ""},
		{"binary", input("/binary", 0), &fetchOutput{Status: 200, ContentType: "image/png",
			BodyBase64: base64.StdEncoding.EncodeToString(binaryBody), Bytes: len(binaryBody)}, ""},
		{"empty", input("/empty", 0), &fetchOutput{Status: 204}, ""},
		{"not found is a result", input("/missing", 0), &fetchOutput{Status: 404, ContentType: text, Body: "404 page not found\n", Bytes: 19}, ""},
		{"redirect followed", input("/redirect", 0), &fetchOutput{Status: 200, ContentType: text, Body: textBody, Bytes: 180}, ""},

		{"no url", `{}`, nil, "url is required"},
		{"unknown field", `{"url": "` + url + `", "method": "POST"}`, nil, `unknown field "method"`},
		{"not JSON", `GET /`, nil, "invalid input: want a JSON object"},
		{"max_bytes too big", input("/text", 2<<20), nil, "max_bytes 2097152: want 1 to 1048576"},
		{"max_bytes negative", input("/text", -1), nil, "max_bytes -1"},
		{"not http", `{"url": "file:///etc/passwd"}`, nil, "want an absolute http or https URL"},
	}
}

// check compares one call's result with the test's expectation.
func check(t *testing.T, tt fetchTest, out []byte, err error) {
	t.Helper()
	if tt.want == nil {
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Fatalf("err = %v, want one saying %q (output %s)", err, tt.err, out)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var got fetchOutput
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	if got != *tt.want {
		t.Errorf("output\n got %+v\nwant %+v", got, *tt.want)
	}
}

// TestFetchNative runs the tool's Go function against sdktest's host.
func TestFetchNative(t *testing.T) {
	srv := newServer(t)
	for _, tt := range tests(srv.URL) {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.Host{HTTP: srv.Client()}
			rc, out, err := h.Call(fetch, []byte(tt.input))
			if (rc != 0) != (tt.want == nil) {
				t.Errorf("rc = %d", rc)
			}
			check(t, tt, out, err)
		})
	}
}

// TestFetchWasm builds the skill as palyra-gen does and runs it in the
// Palyra runtime with its skill.toml quotas, the test server's client
// standing in for the host's egress policy.
func TestFetchWasm(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.Client())
	for _, tt := range tests(srv.URL) {
		t.Run(tt.name, func(t *testing.T) {
			out, err := p.Call(context.Background(), "fetch", []byte(tt.input))
			check(t, tt, out, err)
		})
	}
}

// newPlugin runs the skill in the Palyra runtime, confined to the quotas
// its skill.toml asks for; client sends its requests (nil: none allowed).
func newPlugin(t *testing.T, client runtime.HTTPClient) *runtime.Plugin {
	t.Helper()
	m := testartifact.Manifest(t, ".")
	ctx := context.Background()
	rt, mod := compiled(t)
	for _, tool := range m.Entrypoints.Tools {
		if !mod.Exports(tool.Name) {
			t.Errorf("skill.toml names tool %q, which the module does not export", tool.Name)
		}
	}
	q := m.Capabilities.Quotas
	p, err := rt.NewPlugin(ctx, mod, runtime.PluginConfig{
		HTTP:           client,
		MaxMemoryBytes: q.MaxMemoryBytes,
		Timeout:        time.Duration(q.WallClockTimeoutMS) * time.Millisecond,
		PoolSize:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

var compiledOnce struct {
	sync.Once
	rt  *runtime.Runtime
	mod *runtime.Module
	err error
}

// compiled returns the skill compiled in a runtime, once per process.
func compiled(t *testing.T) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	wasm := testguest.Build(t, ".")
	compiledOnce.Do(func() {
		ctx := context.Background()
		if compiledOnce.rt, compiledOnce.err = runtime.New(ctx, runtime.Config{}); compiledOnce.err == nil {
			compiledOnce.mod, compiledOnce.err = compiledOnce.rt.Compile(ctx, wasm)
		}
	})
	if compiledOnce.err != nil {
		t.Fatal(compiledOnce.err)
	}
	return compiledOnce.rt, compiledOnce.mod
}

// TestFetchDenied: a request the host does not allow aborts the call with
// the host's error, naming the URL.
func TestFetchDenied(t *testing.T) {
	srv := newServer(t)
	input := []byte(`{"url": "` + srv.URL + `/text"}`)
	want := "HTTP request to '" + srv.URL + "/text' is not allowed"

	var h sdktest.Host
	_, _, err := h.Call(fetch, input)
	var te *sdktest.TrapError
	if !errors.As(err, &te) || te.Message != want {
		t.Errorf("native: %v, want a TrapError: %s", err, want)
	}

	p := newPlugin(t, nil)
	_, err = p.Call(context.Background(), "fetch", input)
	var rte *runtime.TrapError
	if !errors.As(err, &rte) || !strings.Contains(err.Error(), want) {
		t.Errorf("wasm: %v, want a TrapError: %s", err, want)
	}
}

// TestFetchExtism runs the skill in Extism's reference host: it uses the
// portable part of the sdk only, so any Extism host can run it.
func TestFetchExtism(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	p, err := extism.NewPlugin(ctx, extism.Manifest{
		Wasm:         []extism.Wasm{extism.WasmData{Data: testguest.Build(t, "."), Name: "http-fetch"}},
		AllowedHosts: []string{"127.0.0.1"},
	}, extism.PluginConfig{EnableWasi: true, EnableHttpResponseHeaders: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	for _, tt := range tests(srv.URL) {
		if tt.name == "redirect followed" || tt.name == "binary" {
			continue // also fine, but one of each kind is enough here
		}
		t.Run(tt.name, func(t *testing.T) {
			_, out, err := p.Call("fetch", []byte(tt.input))
			check(t, tt, out, err)
		})
	}
}

// TestFetchViaHost installs the skill as a signed artifact in a Palyra
// host, grants it one of the hosts it requests, and calls it: the granted
// host answers, the others are refused with an error naming them.
func TestFetchViaHost(t *testing.T) {
	srv := newServer(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	portNum, _ := strconv.Atoi(port)
	ctx := context.Background()

	// The test server is on loopback, which the operator must allow, on a
	// port of its own. skill.toml's real hosts are replaced by the test's.
	h, err := host.Open(ctx, t.TempDir(), host.Options{Policy: &host.Policy{
		AllowPrivateNetwork: true,
		HTTPPorts:           []int{portNum},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	m := testartifact.Manifest(t, ".")
	spec := testskill.Spec{
		Publisher:    "palyra",
		Name:         "http-fetch",
		Module:       testguest.Build(t, "."),
		Tools:        []string{"fetch"},
		Memory:       m.Capabilities.Quotas.MaxMemoryBytes,
		Capabilities: `http_egress_allowlist = ["127.0.0.1", "denied.example"]`,
	}
	grants := host.Grants{HTTPHosts: []string{"127.0.0.1"}}
	if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, Grants: &grants}); err != nil {
		t.Fatal(err)
	}

	out, err := h.Call(ctx, "palyra.http-fetch", "fetch", []byte(`{"url": "`+srv.URL+`/redirect"}`))
	check(t, fetchTest{want: &fetchOutput{Status: 200, ContentType: "text/plain; charset=utf-8", Body: textBody, Bytes: 180}}, out, err)

	for _, tc := range []struct{ name, url, host string }{
		{"requested, not granted", "http://denied.example:" + port + "/text", "denied.example"},
		{"not requested", "http://example.com/", "example.com"},
	} {
		_, err := h.Call(ctx, "palyra.http-fetch", "fetch", []byte(`{"url": "`+tc.url+`"}`))
		var te *host.TrapError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "host not allowed: "+tc.host) {
			t.Errorf("%s: %v, want a TrapError naming %s", tc.name, err, tc.host)
		}
	}
}

// TestManifest pins what the example shows.
func TestManifest(t *testing.T) {
	m := testartifact.Manifest(t, ".")
	if m.SkillID != "palyra.http-fetch" || m.Publisher != "palyra" || m.ManifestVersion != 2 {
		t.Errorf("manifest %d %q by %q", m.ManifestVersion, m.SkillID, m.Publisher)
	}
	if len(m.Entrypoints.Tools) != 1 || m.Entrypoints.Tools[0].Name != "fetch" {
		t.Fatalf("tools %+v, want one named fetch", m.Entrypoints.Tools)
	}
	c := m.Capabilities
	if len(c.HTTPEgressAllowlist) == 0 || c.WildcardOptIn.HTTPEgress {
		t.Errorf("http_egress_allowlist %v (wildcards %v): want named hosts", c.HTTPEgressAllowlist, c.WildcardOptIn.HTTPEgress)
	}
	if len(c.Filesystem.ReadRoots)+len(c.Filesystem.WriteRoots)+len(c.Secrets) != 0 {
		t.Errorf("asks for more than HTTP: %+v", c)
	}
	// The whole body sits in guest memory; a 1 MiB cut of a body that
	// fits the host's default 4 MiB response limit must fit the quota.
	if c.Quotas.MaxMemoryBytes < 16<<20 {
		t.Errorf("max_memory_bytes %d is too small for the bodies the tool accepts", c.Quotas.MaxMemoryBytes)
	}
}

// TestNoHandWrittenWrapper: the tools are typed functions that sdk/tool
// runs; the skill keeps no copy of the decode/encode/set-error logic.
func TestNoHandWrittenWrapper(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sdk.InputJSON", "sdk.OutputJSON", "sdk.SetError", "sdk.Output("} {
		if strings.Contains(string(src), s) {
			t.Errorf("main.go calls %s: use sdk/tool's Run or Return", s)
		}
	}
	if !strings.Contains(string(src), "tool.Run(") {
		t.Error("main.go does not call tool.Run")
	}
}
