package host_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
)

// slowLoads is a load hook that holds the loads of one skill until
// release is closed (or the host closes), and counts them.
type slowLoads struct {
	skill   string
	started chan struct{} // one send per held load
	release chan struct{}
	count   atomic.Int32
}

func newSlowLoads(skill string) *slowLoads {
	return &slowLoads{skill: skill, started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (s *slowLoads) hook(ctx context.Context, skillID string) {
	if skillID != s.skill {
		return
	}
	s.count.Add(1)
	s.started <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
	}
}

// installThree opens a host with the hook and installs acme.slow,
// acme.fast and acme.fresh, each exporting "echo".
func installThree(t *testing.T, s *slowLoads) *host.Host {
	t.Helper()
	var opts host.Options
	host.SetLoadHook(&opts, s.hook)
	h := openHost(t, t.TempDir(), opts)
	key := newKey(t)
	for _, name := range []string{"slow", "fast", "fresh"} {
		spec := skillSpec{Name: name, Key: key}
		if _, err := h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// TestSlowLoadDoesNotDelayOtherSkills: while one skill's load is held,
// another skill loads and runs, whether loaded before or first called
// meanwhile.
func TestSlowLoadDoesNotDelayOtherSkills(t *testing.T) {
	s := newSlowLoads("acme.slow")
	h := installThree(t, s)
	ctx := context.Background()
	if _, err := h.Call(ctx, "acme.fast", "echo", nil); err != nil { // loaded before
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := h.Call(ctx, "acme.slow", "echo", nil)
		slow <- err
	}()
	<-s.started
	for range 3 {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := h.Call(cctx, "acme.fast", "echo", nil)
		cancel()
		if err != nil {
			t.Fatalf("another skill's call during a held load: %v", err)
		}
	}
	// A skill first loaded while the slow one is held loads too.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := h.Call(cctx, "acme.fresh", "echo", nil); err != nil {
		t.Fatalf("another skill's load during a held load: %v", err)
	}
	close(s.release)
	if err := <-slow; err != nil {
		t.Fatalf("the slow skill's call: %v", err)
	}
}

// TestLoadWaitEndsWithContext: a caller waiting on a held load returns
// its ctx's error at once; the load goes on, is cached, and the next
// call uses it.
func TestLoadWaitEndsWithContext(t *testing.T) {
	s := newSlowLoads("acme.slow")
	h := installThree(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Call(ctx, "acme.slow", "echo", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned after %v", d)
	}
	<-s.started // the load started, and is still held
	close(s.release)
	if _, err := h.Call(context.Background(), "acme.slow", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if n := s.count.Load(); n != 1 {
		t.Errorf("%d loads, want 1: the abandoned wait's load was not cached", n)
	}
}

// TestConcurrentCallersShareOneLoad: callers of one skill arriving while
// it loads all get the one load.
func TestConcurrentCallersShareOneLoad(t *testing.T) {
	s := newSlowLoads("acme.slow")
	h := installThree(t, s)
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Call(context.Background(), "acme.slow", "echo", nil)
			errs <- err
		}()
	}
	<-s.started
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.count.Load(); n != 1 {
		t.Errorf("%d loads for %d concurrent callers, want 1", n, callers)
	}
}

// TestCloseDuringLoad: Close ends a load in progress (its waiters get
// ErrClosed) and returns; the host makes nothing afterwards.
func TestCloseDuringLoad(t *testing.T) {
	s := newSlowLoads("acme.slow")
	h := installThree(t, s)
	slow := make(chan error, 1)
	go func() {
		_, err := h.Call(context.Background(), "acme.slow", "echo", nil)
		slow <- err
	}()
	<-s.started
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-slow; !errors.Is(err, host.ErrClosed) {
		t.Errorf("the waiting call: %v, want ErrClosed", err)
	}
	if _, err := h.Call(context.Background(), "acme.fast", "echo", nil); !errors.Is(err, host.ErrClosed) {
		t.Errorf("a call after Close: %v, want ErrClosed", err)
	}
}
