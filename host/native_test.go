package host_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/host"
)

// echoHTTPArtifact packages Palyra's echo-http example (host/testdata/
// echo-http) with the real native module, the way an author would, with
// edit applied to its skill.toml, and returns the artifact's path.
func echoHTTPArtifact(t *testing.T, edit func(toml string) string) string {
	t.Helper()
	work := t.TempDir()
	manifest, err := os.ReadFile("testdata/echo-http/skill.toml")
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := os.ReadFile("testdata/echo-http/assets/prompt.txt")
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile("../internal/runtime/testdata/native/echo_http.wasm")
	if err != nil {
		t.Fatal(err)
	}
	toml := string(manifest)
	if edit != nil {
		toml = edit(toml)
	}
	for _, d := range []string{"modules", "assets"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(work, "skill.toml"), []byte(toml))
	writeFile(t, filepath.Join(work, "assets", "prompt.txt"), prompt)
	writeFile(t, filepath.Join(work, "modules", "module.wasm"), module)
	res, err := gen.Package(context.Background(), work, gen.PackageOptions{Key: newKey(t), Time: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return res.File
}

// installEchoHTTP installs the artifact into a new host with opts.
func installEchoHTTP(t *testing.T, file string, opts host.InstallOptions) *host.Host {
	t.Helper()
	return installEchoHTTPWith(t, file, opts, host.Options{})
}

func installEchoHTTPWith(t *testing.T, file string, opts host.InstallOptions, hopts host.Options) *host.Host {
	t.Helper()
	h := openHost(t, t.TempDir(), runOpts(hopts))
	opts.AllowTOFU = true
	if _, err := h.Install(context.Background(), file, opts); err != nil {
		t.Fatal(err)
	}
	return h
}

// Palyra's echo-http, with a real module, installs and runs here: both
// tools, by id and by name, run the entrypoint "run", which checks from
// inside the guest that every handle is Palyra's (base + index, -1 past
// the grants) and returns http*1000 + secret*100 + storage*10 + channel.
func TestPalyraEchoHTTP(t *testing.T) {
	ctx := context.Background()
	file := echoHTTPArtifact(t, nil)

	in, err := host.InspectArtifact(ctx, bytes.NewReader(mustRead(t, file)), int64(len(mustRead(t, file))))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Modules) != 1 || in.Modules[0].Path != "modules/module.wasm" || in.Modules[0].ABI != "palyra-native" || in.Modules[0].Entrypoint != "run" {
		t.Errorf("inspect modules = %+v, want modules/module.wasm palyra-native run", in.Modules)
	}

	for _, c := range []struct {
		name   string
		opts   host.InstallOptions
		output string
	}{
		// http api.example.com, secret skill:acme.echo_http/api_token,
		// storage skills/cache (the write root), no channel.
		{"everything requested", host.InstallOptions{GrantRequested: true}, `{"exit_code":1110}`},
		{"nothing", host.InstallOptions{Grants: &host.Grants{}}, `{"exit_code":0}`},
		{"storage only", host.InstallOptions{Grants: &host.Grants{WriteRoots: []string{"skills/cache"}}}, `{"exit_code":10}`},
		{"http and secret", host.InstallOptions{Grants: &host.Grants{
			HTTPHosts: []string{"api.example.com"},
			Secrets:   []host.SecretGrant{{Scope: "skill:acme.echo_http", KeyNames: []string{"api_token"}}},
		}}, `{"exit_code":1100}`},
	} {
		h := installEchoHTTP(t, file, c.opts)
		for _, tool := range []string{"acme.echo", "echo", "acme.http_get", "http_get"} {
			// The input is ignored: Palyra's ABI has none. It must match
			// the tool's input schema all the same; the output, the
			// host's {"exit_code":N}, is not the tool's output and is not
			// checked against its schema (echo's requires "echo").
			input := `{"text":"hi"}`
			if strings.HasSuffix(tool, "http_get") {
				input = `{"url":"https://api.example.com/"}`
			}
			out, err := h.Call(ctx, "acme.echo_http", tool, []byte(input))
			if err != nil || string(out) != c.output {
				t.Errorf("%s: %s = %s, %v; want %s", c.name, tool, out, err, c.output)
			}
		}
		res, err := h.Run(ctx, "acme.echo_http", "acme.http_get", []byte(`{"url":"https://api.example.com/"}`))
		if err != nil || string(res.Output) != c.output || res.Module != "modules/module.wasm" || res.FuelConsumed == 0 || res.Tool != "acme.http_get" {
			t.Errorf("%s: Run = %+v, %v", c.name, res, err)
		}
	}
	h := installEchoHTTP(t, file, host.InstallOptions{})
	if _, err := h.Call(ctx, "acme.echo_http", "nope", nil); !errors.Is(err, host.ErrNoTool) {
		t.Errorf("unknown tool: %v, want ErrNoTool", err)
	}
	// A native tool's input is checked before the entrypoint runs.
	res, err := h.Run(ctx, "acme.echo_http", "http_get", []byte(`{"url":7}`))
	var v *host.SchemaViolation
	if !errors.As(err, &v) || v.Path != "/url" || v.Rule != "type" || res.FuelConsumed != 0 {
		t.Errorf("native tool, input breaking its schema: %+v, %v; want a violation at /url (type), no fuel used", res, err)
	}
}

// Fuel and the deadline bound a native tool as Palyra's fuel and epoch
// deadline do: the entrypoint comes from [operator.plugin]
// default_entrypoint (manifest v2).
func TestPalyraNativeContainment(t *testing.T) {
	ctx := context.Background()
	entry := func(name, quotas string) func(string) string {
		return func(toml string) string {
			toml = strings.Replace(toml, "manifest_version = 1", "manifest_version = 2", 1)
			toml = strings.Replace(toml, "wall_clock_timeout_ms = 2000\nfuel_budget = 5000000", quotas, 1)
			return toml + "\n[operator]\ndisplay_name = \"Echo\"\n\n[operator.plugin]\ndefault_entrypoint = \"" + name + "\"\n"
		}
	}
	// burn needs millions of units; the manifest gives it 100,000.
	h := installEchoHTTP(t, echoHTTPArtifact(t, entry("burn", "wall_clock_timeout_ms = 30000\nfuel_budget = 100000")), host.InstallOptions{})
	if _, err := h.Call(ctx, "acme.echo_http", "echo", echoIn); !errors.Is(err, host.ErrFuelExhausted) {
		t.Errorf("burn on 100000 fuel: %v, want ErrFuelExhausted", err)
	}
	h = installEchoHTTP(t, echoHTTPArtifact(t, entry("burn", "wall_clock_timeout_ms = 30000\nfuel_budget = 50000000")), host.InstallOptions{})
	if out, err := h.Call(ctx, "acme.echo_http", "echo", echoIn); err != nil || string(out) != `{"exit_code":7}` {
		t.Errorf("burn on enough fuel: %s, %v", out, err)
	}
	// spin never returns: the wall-clock quota stops it (the fuel, which
	// would too, is set out of reach by the manifest and the policy).
	h = installEchoHTTPWith(t, echoHTTPArtifact(t, entry("spin", "wall_clock_timeout_ms = 200\nfuel_budget = 1000000000000000")),
		host.InstallOptions{}, host.Options{Policy: &host.Policy{FuelBudget: 1 << 50}})
	start := time.Now()
	if _, err := h.Call(ctx, "acme.echo_http", "echo", echoIn); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("spin stopped after %v", d)
	}
}

// A native module gets no WASI: one importing WASI besides Palyra's
// capabilities fails the audit, and does not install.
func TestPalyraNativeNoWASI(t *testing.T) {
	wasm, err := os.ReadFile("../internal/runtime/testdata/native/wasi_mixed.wasm")
	if err != nil {
		t.Fatal(err)
	}
	h := openHost(t, t.TempDir(), runOpts(host.Options{}))
	spec := skillSpec{Module: wasm, Tools: []string{"run"}}
	_, err = h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true})
	if err == nil || !strings.Contains(err.Error(), "wasi_snapshot_preview1.proc_exit") || !strings.Contains(err.Error(), "no WASI") {
		t.Errorf("install of a native module importing WASI: %v", err)
	}
}

var echoIn = []byte(`{"text":"hi"}`)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
