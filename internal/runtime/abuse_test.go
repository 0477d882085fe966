package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// callAfter checks that the plugin still serves a normal call.
func callAfter(t *testing.T, p *Plugin, what string) {
	t.Helper()
	out, err := p.Call(context.Background(), "echo", []byte("alive"))
	if err != nil || string(out) != "alive" {
		t.Errorf("echo after %s = %q, %v", what, out, err)
	}
}

func TestTimeoutStopsGuest(t *testing.T) {
	timeout := 100 * time.Millisecond
	if raceEnabled {
		// The echo after a kill instantiates a fresh instance, which under
		// the race detector, sharing 2 cores with the other race packages,
		// can take longer than 100 ms by itself.
		timeout = time.Second
	}
	p := newPlugin(t, PluginConfig{PoolSize: 1, Timeout: timeout})
	for _, fn := range []string{"spin", "sleep"} {
		start := time.Now()
		_, err := p.Call(context.Background(), fn, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want DeadlineExceeded", fn, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s stopped after %v", fn, d)
		}
		callAfter(t, p, fn+" timed out")
	}
}

// The watchdog that enforces timeouts sleeps when no call is made, and a
// call wakes it; calls that end in time are never killed, even when the
// next one starts on the same instance at once.
func TestTimeoutWatchdog(t *testing.T) {
	timeout, calls := 50*time.Millisecond, 2000
	if raceEnabled {
		timeout, calls = 2*time.Second, 100 // the first call starts Go's runtime
	}
	p := newPlugin(t, PluginConfig{PoolSize: 1, Timeout: timeout})
	for i := range calls {
		if out, err := p.Call(context.Background(), "echo", []byte("x")); err != nil || string(out) != "x" {
			t.Fatalf("call %d: %q, %v", i, out, err)
		}
	}
	if _, info, _ := p.CallInfo(context.Background(), "echo", nil); info.Instance != 1 {
		t.Errorf("calls in time were killed: instance %d", info.Instance)
	}
	// Asleep once no call has begun for a timeout or two.
	deadline := time.Now().Add(5*time.Second + 3*timeout)
	for !p.rt.watch.sleeping.Load() && time.Now().Before(deadline) {
		time.Sleep(timeout / 5)
	}
	if !p.rt.watch.sleeping.Load() {
		t.Error("the watchdog does not sleep")
	}
	start := time.Now()
	if _, err := p.Call(context.Background(), "spin", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin after the watchdog slept: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("spin stopped after %v", d)
	}
	callAfter(t, p, "spin timed out")
}

func TestCancelStopsGuest(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1})
	for _, fn := range []string{"spin", "sleep"} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := p.Call(ctx, fn, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want Canceled", fn, err)
		}
		callAfter(t, p, fn+" canceled")

		// The caller's own deadline is reported as such.
		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err = p.Call(ctx, fn, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with ctx deadline: err = %v", fn, err)
		}
	}
	// A ctx that is already done does not reach the guest.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Call(ctx, "echo", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: %v", err)
	}
}

func TestMemoryQuotaTraps(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1, MaxMemoryBytes: 24 << 20})
	_, err := p.Call(context.Background(), "hog", nil)
	var te *TrapError
	if !errors.As(err, &te) {
		t.Fatalf("hog: err = %v, want *TrapError", err)
	}
	if !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("hog: error does not match ErrMemoryLimit: %v", err)
	}
	if !strings.Contains(te.Stderr, "fatal error: out of memory") {
		t.Errorf("hog: stderr = %q", te.Stderr)
	}
	callAfter(t, p, "hog")
}

func TestInitialMemoryOverQuota(t *testing.T) {
	// The Go guest's initial memory is a few MiB; 1 MiB cannot hold it.
	p := newPlugin(t, PluginConfig{MaxMemoryBytes: 1 << 20})
	_, err := p.Call(context.Background(), "noop", nil)
	if !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("err = %v, want ErrMemoryLimit", err)
	}
}

func TestTraps(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1})
	for _, tc := range []struct {
		fn     string
		exited bool
		want   string
	}{
		{"panic", false, "boom from the guest"}, // Go aborts with unreachable
		{"oob", false, "out of bounds memory access"},
	} {
		_, err := p.Call(context.Background(), tc.fn, nil)
		var te *TrapError
		if !errors.As(err, &te) || te.Exited != tc.exited || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.fn, err)
		}
		callAfter(t, p, tc.fn)
	}
}

// TestConcurrentCalls makes 1,000 concurrent calls, some failing, some
// trapping, some timing out, and checks every result, that no goroutine
// is left behind and that the heap stays bounded.
func TestConcurrentCalls(t *testing.T) {
	calls := 1000
	if testing.Short() || raceEnabled {
		calls = 200
	}
	p := newPlugin(t, PluginConfig{PoolSize: 8, Timeout: 2 * time.Second})
	ctx := context.Background()
	callAfter(t, p, "warm-up")
	goruntime.GC()
	var before goruntime.MemStats
	goruntime.ReadMemStats(&before)
	goroutines := goruntime.NumGoroutine()

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			in := []byte(fmt.Sprintf("call %d", i))
			switch i % 10 {
			case 3:
				if _, err := p.Call(ctx, "fail", in); !errors.As(err, new(*GuestError)) {
					errs <- fmt.Errorf("fail %d: %v", i, err)
				}
			case 7:
				if _, err := p.Call(ctx, "panic", nil); !errors.As(err, new(*TrapError)) {
					errs <- fmt.Errorf("panic %d: %v", i, err)
				}
			case 9:
				cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
				defer cancel()
				if _, err := p.Call(cctx, "spin", nil); !errors.Is(err, context.DeadlineExceeded) {
					errs <- fmt.Errorf("spin %d: %v", i, err)
				}
			default:
				fn := "echo"
				if i%2 == 0 {
					fn = "echo_bulk"
				}
				if out, err := p.Call(ctx, fn, in); err != nil || string(out) != string(in) {
					errs <- fmt.Errorf("%s %d = %q, %v", fn, i, out, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Goroutines wazero starts per call, and timers, wind down shortly.
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > goroutines {
		t.Errorf("goroutines: %d before, %d after", goroutines, n)
	}
	goruntime.GC()
	var after goruntime.MemStats
	goruntime.ReadMemStats(&after)
	// At most PoolSize instances of up to 64 MiB live; allow them all.
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 8*64<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	if n := len(p.live); n > 8 {
		t.Errorf("%d live instances for a pool of 8", n)
	}
}

// A plugin with a shorter timeout than the others' gets it enforced even
// when the watchdog was waiting for the longer one; and the watchdog does
// not tick: while calls with a long timeout are made, it looks at them a
// handful of times, not every few milliseconds.
func TestWatchdogTimeouts(t *testing.T) {
	r := newRuntime(t)
	long := pluginOf(t, r, guestWasm(t), PluginConfig{PoolSize: 1, Timeout: time.Hour})
	scans := r.watch.scans.Load()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		callAfter(t, long, "echo")
	}
	if n := r.watch.scans.Load() - scans; n > 10 {
		t.Errorf("the watchdog looked %d times in 300 ms of calls with a 1 h timeout", n)
	}
	timeout := 100 * time.Millisecond
	short := pluginOf(t, r, guestWasm(t), PluginConfig{PoolSize: 1, Timeout: timeout})
	start := time.Now()
	if _, err := short.Call(context.Background(), "spin", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("spin with a %v timeout stopped after %v", timeout, d)
	}
}

func TestCloseStopsCalls(t *testing.T) {
	p := newPlugin(t, PluginConfig{PoolSize: 1})
	errc := make(chan error, 2)
	go func() {
		_, err := p.Call(context.Background(), "spin", nil)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // let spin start
	go func() {
		_, err := p.Call(context.Background(), "echo", nil) // waits for the one instance
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("call during Close: %v, want ErrClosed", err)
		}
	}
	if _, err := p.Call(context.Background(), "echo", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

func TestRuntimeCloseStopsCalls(t *testing.T) {
	r, err := New(context.Background(), Config{CompilationCacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	p := pluginOf(t, r, guestWasm(t), PluginConfig{})
	errc := make(chan error, 1)
	go func() {
		_, err := p.Call(context.Background(), "spin", nil)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("spin during Runtime.Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Runtime.Close did not stop a spinning guest")
	}
}
