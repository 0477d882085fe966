package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 2})
	ctx := context.Background()
	for _, size := range []int{0, 1, 7, 8, 9, 1024, 100_000, 1 << 20} {
		in := make([]byte, size)
		for i := range in {
			in[i] = byte(i*7 + size)
		}
		for _, fn := range []string{"echo", "echo_bulk"} {
			out, err := p.Call(ctx, fn, in)
			if err != nil {
				t.Fatalf("%s(%d bytes): %v", fn, size, err)
			}
			if !bytes.Equal(out, in) {
				t.Errorf("%s(%d bytes) returned %d bytes, not the input", fn, size, len(out))
			}
		}
	}
	out, err := p.Call(ctx, "noop", []byte("ignored"))
	if err != nil || len(out) != 0 {
		t.Errorf("noop = %q, %v", out, err)
	}
}

func TestGuestErrors(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1})
	ctx := context.Background()
	for _, tc := range []struct {
		fn, in  string
		code    int32
		message string
	}{
		{"fail", "it broke", 1, "it broke"},
		{"fail_code", "", 7, ""},
		{"fail_bulk", "", 0, "bulk failure"},
	} {
		_, err := p.Call(ctx, tc.fn, []byte(tc.in))
		var ge *GuestError
		if !errors.As(err, &ge) {
			t.Fatalf("%s: err = %v, want *GuestError", tc.fn, err)
		}
		if ge.Code != tc.code || ge.Message != tc.message || ge.Function != tc.fn {
			t.Errorf("%s: %+v", tc.fn, ge)
		}
	}
	// A guest error leaves the instance usable, and the error does not
	// leak into the next call.
	if out, err := p.Call(ctx, "echo", []byte("after")); err != nil || string(out) != "after" {
		t.Errorf("echo after failures = %q, %v", out, err)
	}
}

func TestNoFunction(t *testing.T) {
	p := newPlugin(t, PluginConfig{})
	for _, fn := range []string{"missing", "raw_echo" /* takes parameters */, ""} {
		if _, err := p.Call(context.Background(), fn, nil); !errors.Is(err, ErrNoFunction) {
			t.Errorf("%q: err = %v, want ErrNoFunction", fn, err)
		}
	}
}

func TestConfig(t *testing.T) {
	cfg := map[string]string{"units": "metric", "empty": ""}
	p := newPlugin(t, PluginConfig{Config: cfg})
	cfg["units"] = "changed after NewPlugin" // the plugin keeps its own copy
	for in, want := range map[string]string{"units": "metric", "nope": "<unset>", "empty": "<unset>"} {
		out, err := p.Call(context.Background(), "config", []byte(in))
		if err != nil || string(out) != want {
			t.Errorf("config %q = %q, %v; want %q", in, out, err, want)
		}
	}
}

func TestVars(t *testing.T) {
	ctx := context.Background()
	p := newPlugin(t, PluginConfig{PoolSize: 4, Vars: map[string][]byte{"count": {41, 0, 0, 0, 0, 0, 0, 0}}})
	// Vars are shared by the instances: concurrent calls count together.
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := p.Call(ctx, "count", nil)
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The guest's read-increment-write is not atomic, so concurrent calls
	// may lose increments; but every instance reads and writes one store.
	v, ok := p.Var("count")
	if !ok || v[0] <= 41 || v[0] > 61 {
		t.Fatalf("Var(count) = %v, %v after 20 increments of 41", v, ok)
	}
	out, err := p.Call(ctx, "count", nil)
	if want := strconv.Itoa(int(v[0]) + 1); err != nil || string(out) != want {
		t.Errorf("count = %q, %v; want %s", out, err, want)
	}

	disabled := newPlugin(t, PluginConfig{MaxVarBytes: -1})
	_, err = disabled.Call(ctx, "count", nil)
	var te *TrapError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "vars are disabled") {
		t.Errorf("count with vars disabled: %v", err)
	}
	tiny := newPlugin(t, PluginConfig{MaxVarBytes: 10})
	if _, err := tiny.Call(ctx, "count", nil); err == nil || !strings.Contains(err.Error(), "variable store is full") {
		t.Errorf("count with a 10-byte store: %v", err)
	}
}

func TestLog(t *testing.T) {
	for _, tc := range []struct {
		level     slog.Level
		nilLogger bool
		wantLevel string
		debug     bool
	}{
		{slog.LevelInfo, false, "2", false},
		{slog.LevelDebug, false, "1", true},
		{slog.LevelDebug - 4, false, "0", true},
		{slog.LevelError, false, "4", false},
		{slog.LevelInfo, true, "2147483647", false},
	} {
		rec := &logRecorder{}
		cfg := PluginConfig{LogLevel: tc.level, Logger: slog.New(rec)}
		if tc.nilLogger {
			cfg.Logger = nil
		}
		p := newPlugin(t, cfg)
		out, err := p.Call(context.Background(), "log", []byte("hello log"))
		if err != nil || string(out) != tc.wantLevel {
			t.Errorf("level %v: get_log_level = %q, %v; want %s", tc.level, out, err, tc.wantLevel)
		}
		if tc.nilLogger {
			continue
		}
		if got := rec.has("INFO hello log"); got != (tc.level <= slog.LevelInfo) {
			t.Errorf("level %v: info logged = %v\n%s", tc.level, got, rec)
		}
		if got := rec.has("DEBUG debug: hello log"); got != tc.debug {
			t.Errorf("level %v: debug logged = %v\n%s", tc.level, got, rec)
		}
	}
}

func TestStdoutStderrToLog(t *testing.T) {
	rec := &logRecorder{}
	p := newPlugin(t, PluginConfig{Logger: slog.New(rec)})
	if _, err := p.Call(context.Background(), "print", []byte("printed")); err != nil {
		t.Fatal(err)
	}
	if !rec.has("INFO out: printed") || !rec.has("WARN err: printed") {
		t.Errorf("stdout/stderr records:\n%s", rec)
	}
	// A flood is cut at the call's log budget, lines at maxLogLine.
	rec.records = nil
	long := strings.Repeat(strings.Repeat("x", 2*maxLogLine)+"\n", DefaultMaxLogBytes/maxLogLine)
	if _, err := p.Call(context.Background(), "print", []byte(long)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range rec.lines() {
		total += len(l)
	}
	if total > DefaultMaxLogBytes+1000 || !rec.has("WARN guest logs truncated") {
		t.Errorf("logged %d bytes for a %d-byte flood\n%.500s", total, 2*len(long), rec)
	}
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	secrets := func(_ context.Context, scope, key string) ([]byte, error) {
		if scope == "skill:acme.weather" && key == "api_key" {
			return []byte("s3cret"), nil
		}
		return nil, errors.New("not granted")
	}
	p := newPlugin(t, PluginConfig{Secrets: secrets})
	out, err := p.Call(ctx, "secret", []byte("skill:acme.weather/api_key"))
	if err != nil || string(out) != "s3cret" {
		t.Errorf("granted secret = %q, %v", out, err)
	}
	for _, ref := range []string{"skill:acme.weather/other", "global/api_key", "noslash", "/key", "scope/"} {
		_, err := p.Call(ctx, "secret", []byte(ref))
		var ge *GuestError
		if !errors.As(err, &ge) || !strings.Contains(ge.Message, "palyra_secret_get") {
			t.Errorf("secret %q: %v, want a GuestError from the host's message", ref, err)
		}
	}
	_, err = p.Call(ctx, "secret", []byte("skill:acme.weather/other"))
	if !strings.Contains(err.Error(), "not granted") {
		t.Errorf("the SecretFunc's reason is lost: %v", err)
	}
	out, err = p.Call(ctx, "secret_recover", []byte("global/nope"))
	if err != nil || string(out) != "fallback" {
		t.Errorf("secret_recover = %q, %v", out, err)
	}

	none := newPlugin(t, PluginConfig{})
	if _, err := none.Call(ctx, "secret", []byte("skill:acme.weather/api_key")); err == nil ||
		!strings.Contains(err.Error(), "no secrets are available") {
		t.Errorf("secret with no SecretFunc: %v", err)
	}
}

func TestHTTP(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.Header.Get("X-Token")+" "+string(body))
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "short and stout")
	}))
	defer srv.Close()

	req := `{"url": "` + srv.URL + `/pot", "method": "post", "headers": {"X-Token": "t1"}}`
	p := newPlugin(t, PluginConfig{HTTP: srv.Client()})
	out, err := p.Call(ctx, "http", []byte(req))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "418 {") || !strings.HasSuffix(string(out), "} short and stout") ||
		!strings.Contains(string(out), `"x-seen":"POST t1"`) {
		t.Errorf("http = %s", out)
	}

	denied := newPlugin(t, PluginConfig{})
	_, err = denied.Call(ctx, "http", []byte(req))
	var te *TrapError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "HTTP request to '"+srv.URL+"/pot' is not allowed") {
		t.Errorf("http with no client: %v", err)
	}

	small := newPlugin(t, PluginConfig{HTTP: srv.Client(), MaxHTTPResponseBytes: 5})
	if _, err := small.Call(ctx, "http", []byte(req)); err == nil || !strings.Contains(err.Error(), "larger than 5 bytes") {
		t.Errorf("http over the response limit: %v", err)
	}
}

func TestMounts(t *testing.T) {
	ctx := context.Background()
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("read me"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, PluginConfig{Mounts: []Mount{
		{HostPath: ro, GuestPath: "/in", ReadOnly: true},
		{HostPath: rw, GuestPath: "/out"},
	}})
	if out, err := p.Call(ctx, "read_file", []byte("/in/in.txt")); err != nil || string(out) != "read me" {
		t.Errorf("read_file = %q, %v", out, err)
	}
	if _, err := p.Call(ctx, "write_file", []byte("/in/new.txt\nx")); err == nil {
		t.Error("write to a read-only mount succeeded")
	}
	if _, err := p.Call(ctx, "write_file", []byte("/out/new.txt\nwritten")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "new.txt")); string(b) != "written" {
		t.Errorf("host sees %q", b)
	}
	if _, err := p.Call(ctx, "read_file", []byte("/etc/passwd")); err == nil {
		t.Error("read outside the mounts succeeded")
	}

	// The host's kernel resolves symbolic links, so one the guest made
	// could lead anywhere on the host: out of the mounts, or from a
	// writable mount into a read-only one. The guest cannot make links.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("host only"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", strings.Count(rw, "/")+2)
	for _, link := range []string{
		"symlink\n" + up + secret[1:] + "\n/out/escape",
		"symlink\n" + secret + "\n/out/escape",
		"symlink\n" + up + ro[1:] + "/in.txt\n/out/ro",
		"hard\n/out/new.txt\n/out/hard",
		"hard\n/in/in.txt\n/out/hard",
	} {
		if _, err := p.Call(ctx, "link", []byte(link)); err == nil {
			t.Errorf("link %q succeeded", link)
		}
	}
	entries, _ := os.ReadDir(rw)
	if len(entries) != 1 {
		t.Errorf("the writable mount holds %v, want only new.txt", entries)
	}
	if out, err := p.Call(ctx, "read_file", []byte("/out/escape")); err == nil {
		t.Errorf("read through a link: %q", out)
	}
}

func TestExit(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1})
	ctx := context.Background()
	// proc_exit(0) is success, as in Extism; the closed instance is replaced.
	if _, err := p.Call(ctx, "exit", []byte("0")); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	_, err := p.Call(ctx, "exit", []byte("3"))
	var te *TrapError
	if !errors.As(err, &te) || !te.Exited || te.ExitCode != 3 {
		t.Errorf("exit 3: %v", err)
	}
	if out, err := p.Call(ctx, "echo", []byte("still here")); err != nil || string(out) != "still here" {
		t.Errorf("echo after exits = %q, %v", out, err)
	}
}

func TestRealClock(t *testing.T) {
	p := newPlugin(t, PluginConfig{})
	out, err := p.Call(context.Background(), "now", nil)
	if err != nil {
		t.Fatal(err)
	}
	guest, err := time.Parse(time.RFC3339, string(out))
	if err != nil || time.Since(guest).Abs() > time.Minute {
		t.Errorf("guest clock says %s", out)
	}
}

func TestOutputBoundedByQuota(t *testing.T) {
	p := newPlugin(t, PluginConfig{MaxMemoryBytes: 32 << 20})
	ctx := context.Background()
	out, err := p.Call(ctx, "big", []byte("1000000"))
	if err != nil || len(out) != 1_000_000 {
		t.Fatalf("big 1e6 = %d bytes, %v", len(out), err)
	}
	// The kernel cannot grow past the quota: alloc returns 0.
	_, err = p.Call(ctx, "big", []byte("100000000"))
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Message != "alloc failed" {
		t.Errorf("big 1e8: %v", err)
	}
	// An input larger than the quota is refused before the call.
	if _, err := p.Call(ctx, "echo", make([]byte, 40<<20)); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("40 MiB input: %v", err)
	}
	if out, err := p.Call(ctx, "echo", []byte("ok")); err != nil || string(out) != "ok" {
		t.Errorf("echo after = %q, %v", out, err)
	}
}

// CallInfo numbers instances: sequential calls reuse the warm one, a
// trap discards it and the next call starts instance 2.
func TestCallInfo(t *testing.T) {
	ctx := context.Background()
	p := newPlugin(t, PluginConfig{PoolSize: 2})
	want := []struct {
		fn   string
		info CallInfo
	}{
		{"echo", CallInfo{Instance: 1, Calls: 1}},
		{"echo", CallInfo{Instance: 1, Calls: 2}},
		{"panic", CallInfo{Instance: 1, Calls: 3}},
		{"echo", CallInfo{Instance: 2, Calls: 1}},
		{"echo", CallInfo{Instance: 2, Calls: 2}},
	}
	fuel := make([]uint64, len(want))
	for i, w := range want {
		_, info, err := p.CallInfo(ctx, w.fn, []byte("x"))
		if (err != nil) != (w.fn == "panic") {
			t.Fatalf("call %d (%s): %v", i, w.fn, err)
		}
		fuel[i], info.Fuel = info.Fuel, 0
		if info != w.info {
			t.Errorf("call %d (%s): %+v, want %+v", i, w.fn, info, w.info)
		}
	}
	// The same calls on a new instance cost the same fuel as on the first.
	if fuel[0] == 0 || fuel[0] != fuel[3] || fuel[1] != fuel[4] {
		t.Errorf("fuel of echo on instances 1 and 2: %v", fuel)
	}
	if _, info, err := p.CallInfo(ctx, "nope", nil); !errors.Is(err, ErrNoFunction) || info != (CallInfo{}) {
		t.Errorf("unknown function: %+v, %v", info, err)
	}
}

// blockingHandler is a slog.Handler whose Handle reports that it was
// reached and waits for release to close: a call blocked in a host
// function.
type blockingHandler struct {
	reached chan struct{}
	release chan struct{}
}

func (h blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h blockingHandler) Handle(context.Context, slog.Record) error {
	select {
	case h.reached <- struct{}{}:
	default:
	}
	<-h.release
	return nil
}
func (h blockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h blockingHandler) WithGroup(string) slog.Handler      { return h }

// Retire refuses new calls and those waiting for an instance, lets the
// call in progress finish, and then closes the instances and calls back.
func TestRetire(t *testing.T) {
	ctx := context.Background()
	h := blockingHandler{reached: make(chan struct{}, 1), release: make(chan struct{})}
	p := newPlugin(t, PluginConfig{PoolSize: 1, Logger: slog.New(h)})
	running := make(chan error, 1)
	go func() {
		out, err := p.Call(ctx, "log", []byte("x"))
		if err == nil && len(out) == 0 {
			err = errors.New("no output")
		}
		running <- err
	}()
	<-h.reached
	waiting := make(chan error, 1)
	go func() {
		_, err := p.Call(ctx, "echo", nil) // waits for the one instance
		waiting <- err
	}()
	for p.queued.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	var retired atomic.Bool
	p.Retire(func() { retired.Store(true) })
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Errorf("call waiting when retired: %v, want ErrClosed", err)
	}
	if _, err := p.Call(ctx, "echo", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Retire: %v, want ErrClosed", err)
	}
	if retired.Load() {
		t.Error("retired with a call in progress")
	}
	close(h.release)
	if err := <-running; err != nil {
		t.Errorf("call in progress when retired: %v", err)
	}
	if !retired.Load() {
		t.Error("the last call returned, and the plugin is not retired")
	}
	p.mu.Lock()
	live := len(p.live)
	p.mu.Unlock()
	if live != 0 {
		t.Errorf("%d instances open after Retire", live)
	}
	p.rt.mu.Lock()
	_, listed := p.rt.plugins[p]
	p.rt.mu.Unlock()
	if listed {
		t.Error("the runtime still lists the retired plugin")
	}
}
