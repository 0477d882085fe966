package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testguest"
)

// guestTools are the runtime test guest's exports that are tools.
var guestTools = []string{
	"noop", "echo", "echo_bulk", "fail", "fail_code", "config", "count", "log",
	"secret", "secret_recover", "http", "spin", "sleep", "hog", "panic", "oob",
	"print", "read_file", "write_file", "exit", "big",
}

// guestModule is the runtime's test guest, a real Go Wasm module, built
// once per test binary.
func guestModule(t testing.TB) []byte {
	t.Helper()
	return testguest.Build(t, "../internal/runtime/testdata/guest")
}

// sharedCacheDir is one compilation cache for every host of the test
// binary (made by TestMain): compiling the Go guest costs seconds under
// the race detector.
var sharedCacheDir string

// skipUnderRace skips a single-goroutine test under the race detector,
// where the Go guest's audit and compilation take seconds: make test runs
// it without -race, and the concurrent tests under both.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("sequential calls; covered without -race")
	}
}

// runOpts are opts with the shared compilation cache.
func runOpts(opts host.Options) host.Options {
	opts.CompilationCacheDir = sharedCacheDir
	return opts
}

// installGuest installs the test guest as acme.guest with everything it
// requests granted, and returns the host.
func installGuest(t testing.TB, dir string, opts host.Options, spec skillSpec) *host.Host {
	t.Helper()
	h := openHost(t, dir, runOpts(opts))
	spec.Name = "guest"
	spec.Module = guestModule(t)
	spec.Tools = guestTools
	if spec.Memory == 0 {
		spec.Memory = 64 << 20
	}
	if _, err := h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCall(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	// hog needs the time to fill the quota with 1 MiB allocations (the
	// guest's GC runs between them): some 150 ms for 32 MiB here.
	// Fuel enough that only the timeout stops spin.
	h := installGuest(t, t.TempDir(), host.Options{Policy: &host.Policy{FuelBudget: 1 << 50}}, skillSpec{TimeoutMS: 1000, Memory: 32 << 20, Fuel: 1 << 50})

	in := bytes.Repeat([]byte("palyra "), 200)
	for _, tool := range []string{"echo", "acme.echo", "echo_bulk"} {
		out, err := h.Call(ctx, "acme.guest", tool, in)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: %q, %v", tool, out, err)
		}
	}
	// Vars live as long as the loaded skill: calls share them.
	for want := 1; want <= 3; want++ {
		out, err := h.Call(ctx, "acme.guest", "count", nil)
		if err != nil || string(out) != fmt.Sprint(want) {
			t.Fatalf("count: %q, %v; want %d", out, err, want)
		}
	}

	tests := []struct {
		tool  string
		input string
		check func(error) bool
		want  string // in the message
	}{
		{"nope", "", func(err error) bool { return errors.Is(err, host.ErrNoTool) }, `"nope"`},
		{"fail", "no luck", func(err error) bool { var g *host.GuestError; return errors.As(err, &g) }, "no luck"},
		{"fail_code", "", func(err error) bool { var g *host.GuestError; return errors.As(err, &g) && g.Code == 7 }, ""},
		{"panic", "", func(err error) bool { var tr *host.TrapError; return errors.As(err, &tr) }, "boom from the guest"},
		{"oob", "", func(err error) bool { var tr *host.TrapError; return errors.As(err, &tr) }, ""},
		{"spin", "", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, ""},
		{"sleep", "", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, ""},
		{"hog", "", func(err error) bool { return errors.Is(err, host.ErrMemoryLimit) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			start := time.Now()
			_, err := h.Call(ctx, "acme.guest", tt.tool, []byte(tt.input))
			if err == nil || !tt.check(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (%T)", err, err)
			}
			if !strings.Contains(err.Error(), "acme.guest") {
				t.Errorf("error does not name the skill: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			// Whatever happened, the next call works.
			if out, err := h.Call(ctx, "acme.guest", "echo", []byte("still here")); err != nil || string(out) != "still here" {
				t.Fatalf("next call: %q, %v", out, err)
			}
		})
	}

	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := h.Call(cctx, "acme.guest", "spin", nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestCallState(t *testing.T) {
	ctx := context.Background()
	h := installGuest(t, t.TempDir(), host.Options{}, skillSpec{})
	if _, err := h.Call(ctx, "acme.nothing", "echo", nil); !errors.Is(err, host.ErrNotInstalled) {
		t.Fatalf("not installed: %v", err)
	}
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Quarantine(ctx, "acme.guest", "operator says so", "test"); err != nil {
		t.Fatal(err)
	}
	_, err := h.Call(ctx, "acme.guest", "echo", nil)
	if !errors.Is(err, host.ErrNotEligible) || !strings.Contains(err.Error(), "operator says so") {
		t.Fatalf("quarantined: %v", err)
	}
	if err := h.Enable(ctx, "acme.guest", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if err := h.Remove(ctx, "acme.guest", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); !errors.Is(err, host.ErrNotInstalled) {
		t.Fatalf("removed: %v", err)
	}
	h.Close()
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}

// TestCallSeesOtherProcess: a change made through another Host on the
// same state dir (another process, in real life) reaches calls within the
// poll interval.
func TestCallSeesOtherProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := installGuest(t, dir, host.Options{JournalPollInterval: 20 * time.Millisecond}, skillSpec{})
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil {
		t.Fatal(err)
	}
	other := openHost(t, dir, runOpts(host.Options{}))
	if err := other.Quarantine(ctx, "acme.guest", "from elsewhere", "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.Call(ctx, "acme.guest", "echo", nil)
		if errors.Is(err, host.ErrNotEligible) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still callable after another process quarantined it: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallFiles(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	dir := t.TempDir()
	h := installGuest(t, dir, host.Options{}, skillSpec{Capabilities: `
[capabilities.filesystem]
read_roots = ["in"]
write_roots = ["out"]`})
	data := filepath.Join(dir, "skills", "data", "acme.guest")
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil { // creates the roots
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "in", "hello.txt"), []byte("hello from the operator"))

	out, err := h.Call(ctx, "acme.guest", "read_file", []byte("/in/hello.txt"))
	if err != nil || string(out) != "hello from the operator" {
		t.Fatalf("read granted: %q, %v", out, err)
	}
	if _, err := h.Call(ctx, "acme.guest", "write_file", []byte("/out/note.txt\nwritten")); err != nil {
		t.Fatalf("write granted: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "out", "note.txt")); err != nil || string(b) != "written" {
		t.Fatalf("written file: %q, %v", b, err)
	}
	// Read roots are read-only; nothing else of the host is visible.
	for _, tc := range []struct{ tool, input string }{
		{"write_file", "/in/hello.txt\noverwritten"},
		{"read_file", "/etc/passwd"},
		{"read_file", "/../../../../etc/passwd"},
		{"read_file", "/in/../../acme.guest/in/hello.txt"},
	} {
		if out, err := h.Call(ctx, "acme.guest", tc.tool, []byte(tc.input)); err == nil {
			t.Errorf("%s %q succeeded: %q", tc.tool, tc.input, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(data, "in", "hello.txt")); string(b) != "hello from the operator" {
		t.Errorf("read root was written: %q", b)
	}

	// Revoking the write root takes effect at the next call.
	if _, err := h.SetGrants(ctx, "acme.guest", host.Grants{ReadRoots: []string{"in"}}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "acme.guest", "write_file", []byte("/out/again.txt\nx")); err == nil {
		t.Fatal("write after the grant was revoked succeeded")
	}
}

func TestCallSecrets(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	dir := t.TempDir()
	h := installGuest(t, dir, host.Options{}, skillSpec{Capabilities: `
[[capabilities.secrets]]
scope = "skill:acme.guest"
key_names = ["api_token", "other"]`})
	if err := h.SetSecret(ctx, "skill:acme.guest", "api_token", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	if err := h.SetSecret(ctx, "global", "admin", []byte("root")); err != nil {
		t.Fatal(err)
	}
	out, err := h.Call(ctx, "acme.guest", "secret", []byte("skill:acme.guest/api_token"))
	if err != nil || string(out) != "s3cret" {
		t.Fatalf("granted secret: %q, %v", out, err)
	}
	for _, ref := range []string{"global/admin", "skill:acme.guest/other"} {
		_, err := h.Call(ctx, "acme.guest", "secret", []byte(ref))
		if err == nil || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v", ref, err)
		}
	}
	// Denied by the operator: requested but not granted.
	if _, err := h.SetGrants(ctx, "acme.guest", host.Grants{}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "acme.guest", "secret", []byte("skill:acme.guest/api_token")); err == nil || !strings.Contains(err.Error(), "not granted") {
		t.Fatalf("after revoking: %v", err)
	}
	out, err = h.Call(ctx, "acme.guest", "secret_recover", []byte("skill:acme.guest/api_token"))
	if err != nil || string(out) != "fallback" {
		t.Fatalf("recover: %q, %v", out, err)
	}
}

// loopbackResolver resolves every name to 127.0.0.1, as a hostile DNS
// answer for an allowlisted name would.
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

func TestCallHTTP(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect-out":
			http.Redirect(w, r, "http://evil.example:"+r.URL.Port()+"/", http.StatusFound)
		default:
			fmt.Fprintf(w, "hello %s", r.Host)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	var portNum int
	fmt.Sscan(port, &portNum)

	req := func(target string) []byte {
		return fmt.Appendf(nil, `{"url":%q,"method":"GET"}`, target)
	}
	caps := `http_egress_allowlist = ["127.0.0.1", "localhost", "denied.example"]`

	// With private addresses allowed (the operator's choice), a granted
	// IP literal works; names not granted are refused, also via redirect.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policy.json"), fmt.Appendf(nil, `{"allow_private_network": true, "http_ports": [%d]}`, portNum))
	h := openHost(t, dir, runOpts(host.Options{}))
	spec := skillSpec{Name: "guest", Module: guestModule(t), Tools: guestTools, Memory: 64 << 20, Capabilities: caps}
	g := host.Grants{HTTPHosts: []string{"127.0.0.1", "localhost"}}
	if _, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, Grants: &g}); err != nil {
		t.Fatal(err)
	}
	out, err := h.Call(ctx, "acme.guest", "http", req(srv.URL+"/"))
	if err != nil || !strings.HasPrefix(string(out), "200 ") || !strings.HasSuffix(string(out), "hello "+u.Host) {
		t.Fatalf("granted: %q, %v", out, err)
	}
	for name, target := range map[string]string{
		"not granted":          "http://denied.example:" + port + "/",
		"not requested":        "http://example.com/",
		"redirect not granted": srv.URL + "/redirect-out",
		"port not allowed":     "http://127.0.0.1:1/",
		"scheme":               "ftp://127.0.0.1/",
	} {
		_, err := h.Call(ctx, "acme.guest", "http", req(target))
		var tr *host.TrapError
		if !errors.As(err, &tr) || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Without the policy's consent, a granted name that resolves to a
	// loopback address is refused at dial time.
	dir2 := t.TempDir()
	writeFile(t, filepath.Join(dir2, "policy.json"), fmt.Appendf(nil, `{"http_ports": [%d]}`, portNum))
	var opts host.Options
	host.SetResolver(&opts, loopbackResolver{})
	h2 := openHost(t, dir2, runOpts(opts))
	if _, err := h2.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, Grants: &g}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"http://localhost:" + port + "/", srv.URL + "/"} {
		_, err := h2.Call(ctx, "acme.guest", "http", req(target))
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s without allow_private_network: %v", target, err)
		}
	}
}

// TestCallConcurrent: many goroutines share the pool; nothing leaks.
// 1,000 concurrent calls, one in a hundred a guest panic, four times: every
// call gets its own answer, and neither goroutines nor memory (discarded
// instances hold megabytes of linear memory each) are left behind.
func TestCallConcurrent(t *testing.T) {
	ctx := context.Background()
	h := installGuest(t, t.TempDir(), host.Options{}, skillSpec{TimeoutMS: 2000})
	if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil {
		t.Fatal(err)
	}
	burst := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for i := range 1000 {
			wg.Go(func() {
				in := fmt.Appendf(nil, "call %d", i)
				tool := "echo"
				if i%100 == 0 {
					tool = "panic"
				}
				out, err := h.Call(ctx, "acme.guest", tool, in)
				if tool == "echo" && (err != nil || !bytes.Equal(out, in)) {
					errs <- fmt.Errorf("call %d: %q, %v", i, out, err)
				}
				if tool == "panic" && err == nil {
					errs <- fmt.Errorf("call %d: panic succeeded", i)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	heap := func() uint64 {
		goruntime.GC()
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := goruntime.NumGoroutine()
	burst()
	heap1, heap2 := heap(), uint64(0)
	if !raceEnabled { // the race detector's own memory would blur it
		for range 3 {
			burst()
		}
		heap2 = heap()
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after the calls, %d before", n, before)
	}
	// Each burst discards ten instances (the panics) and makes new ones;
	// kept, thirty would hold well over 100 MiB. What stays may vary by
	// the idle instances of the pool (a few MiB each).
	if heap2 > heap1+32<<20 {
		t.Errorf("heap grew from %d to %d bytes over 3,000 calls", heap1, heap2)
	}
	if heap2 != 0 {
		t.Logf("heap after the first burst %d KiB, after the fourth %d KiB", heap1>>10, heap2>>10)
	}
}

func TestRunCollectsLogs(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policy.json"), []byte(`{"log_level": "debug"}`))
	h := installGuest(t, dir, host.Options{}, skillSpec{})
	res, err := h.Run(ctx, "acme.guest", "print", []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "1.0.0" || res.Tool != "acme.print" || res.Duration <= 0 {
		t.Errorf("result %+v", res)
	}
	want := []host.GuestLog{{Level: "info", Message: "out: hi", Stream: "stdout"}, {Level: "warn", Message: "err: hi", Stream: "stderr"}}
	if fmt.Sprint(res.Logs) != fmt.Sprint(want) {
		t.Errorf("logs %+v, want %+v", res.Logs, want)
	}
	res, err = h.Run(ctx, "acme.guest", "log", []byte("note"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Logs) != 2 || res.Logs[0].Message != "note" || res.Logs[1].Level != "debug" {
		t.Errorf("logs %+v", res.Logs)
	}
}

// Run says which instance ran: the warm one again, a new one after a trap.
func TestRunReportsInstance(t *testing.T) {
	ctx := context.Background()
	h := installGuest(t, t.TempDir(), host.Options{}, skillSpec{})
	for i, want := range []struct {
		tool            string
		instance, calls uint64
	}{
		{"echo", 1, 1},
		{"echo", 1, 2},
		{"panic", 1, 3},
		{"echo", 2, 1},
	} {
		res, err := h.Run(ctx, "acme.guest", want.tool, nil)
		if (err != nil) != (want.tool == "panic") || res == nil {
			t.Fatalf("run %d (%s): %v", i, want.tool, err)
		}
		if res.Module != "modules/echo.wasm" || res.Instance != want.instance || res.InstanceCalls != want.calls {
			t.Errorf("run %d (%s): module %q, instance %d, calls %d; want instance %d, calls %d",
				i, want.tool, res.Module, res.Instance, res.InstanceCalls, want.instance, want.calls)
		}
	}
}

// blockOn is a slog.Handler that, for a record whose message is "block",
// reports it was reached and waits for release: a call held in a host
// function. Other records are dropped.
type blockOn struct {
	reached chan struct{}
	release chan struct{}
}

func (b blockOn) Enabled(context.Context, slog.Level) bool { return true }
func (b blockOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "block" {
		b.reached <- struct{}{}
		<-b.release
	}
	return nil
}
func (b blockOn) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b blockOn) WithGroup(string) slog.Handler      { return b }

// A change that reloads a skill (here a var) lets the call in progress
// finish on the version it started on, while later calls run on the
// reloaded one.
func TestReloadKeepsCallsInProgress(t *testing.T) {
	ctx := context.Background()
	b := blockOn{reached: make(chan struct{}, 1), release: make(chan struct{})}
	h := installGuest(t, t.TempDir(), host.Options{Logger: slog.New(b)}, skillSpec{})
	for range 2 {
		if _, err := h.Call(ctx, "acme.guest", "echo", nil); err != nil {
			t.Fatal(err)
		}
	}
	running := make(chan error, 1)
	go func() {
		res, err := h.Run(ctx, "acme.guest", "log", []byte("block"))
		if err == nil && (res.Instance != 1 || res.InstanceCalls != 3) {
			err = fmt.Errorf("ran on instance %d, call %d; want the warm instance 1, call 3", res.Instance, res.InstanceCalls)
		}
		running <- err
	}()
	<-b.reached
	if _, err := h.SetVar(ctx, "acme.guest", "k", "v", "test"); err != nil {
		t.Fatal(err)
	}
	res, err := h.Run(ctx, "acme.guest", "echo", []byte("x"))
	if err != nil || string(res.Output) != "x" {
		t.Fatalf("call after the reload: %+v, %v", res, err)
	}
	if res.Instance != 1 || res.InstanceCalls != 1 {
		t.Errorf("call after the reload ran on instance %d, call %d: not a fresh load", res.Instance, res.InstanceCalls)
	}
	close(b.release)
	if err := <-running; err != nil {
		t.Errorf("call in progress during the reload: %v", err)
	}
}

// Calls made while the skill is reloaded again and again all succeed: one
// that finds the old version retired before it starts runs on the new.
func TestCallsDuringReloads(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	h := installGuest(t, t.TempDir(), host.Options{}, skillSpec{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := fmt.Appendf(nil, "%d/%d", g, i)
				if out, err := h.Call(ctx, "acme.guest", "echo", in); err != nil || !bytes.Equal(out, in) {
					t.Errorf("call %s during reloads: %q, %v", in, out, err)
					return
				}
				calls.Add(1)
			}
		})
	}
	for i := range 10 {
		// Reload while calls are flowing.
		for n, end := calls.Load(), time.Now().Add(10*time.Second); calls.Load() < n+20 && time.Now().Before(end) && !t.Failed(); {
			time.Sleep(time.Millisecond)
		}
		if _, err := h.SetVar(ctx, "acme.guest", "k", strconv.Itoa(i), "test"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls during 10 reloads", calls.Load())
}
