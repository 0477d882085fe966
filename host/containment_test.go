package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// installSpec installs spec in h with everything it requests granted.
func installSpec(t *testing.T, h *host.Host, spec skillSpec) {
	t.Helper()
	if _, err := h.Install(context.Background(), spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatalf("install %s: %v", spec.Name, err)
	}
}

// TestHostileSkills: a skill whose start function never returns is
// stopped by its wall-clock quota and by Close, and meanwhile another
// skill's calls are served; fuel is metered by the policy's budget and
// reported by Run.
func TestHostileSkills(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	// Fuel: min(manifest, policy); the start loop gets so much that only
	// its deadline stops it.
	h := openHost(t, t.TempDir(), runOpts(host.Options{Policy: &host.Policy{FuelBudget: 1 << 50}}))
	installSpec(t, h, skillSpec{Name: "startloop", Module: testskill.SpinModule(true), Tools: []string{"ok"}, TimeoutMS: 300, Fuel: 1 << 50, Key: key})
	installSpec(t, h, skillSpec{Name: "spin", Module: testskill.SpinModule(false), Tools: []string{"ok", "spin"}, TimeoutMS: 5000, Fuel: 1_000_000, Key: key})
	installSpec(t, h, skillSpec{Name: "echo", Module: testskill.EchoModule("echo"), Key: key})

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := h.Call(ctx, "acme.startloop", "ok", nil)
		done <- err
	}()
	for stopped := false; !stopped; {
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("start loop: %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 300*time.Millisecond+200*time.Millisecond {
				t.Errorf("start loop stopped after %v with a 300 ms quota", d)
			}
			stopped = true
		default:
			cs := time.Now()
			if out, err := h.Call(ctx, "acme.echo", "echo", []byte("alive")); err != nil || string(out) != "alive" {
				t.Fatalf("echo while another skill spins: %q, %v", out, err)
			}
			if d := time.Since(cs); d > 200*time.Millisecond {
				t.Errorf("echo took %v while another skill spun", d)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	res, err := h.Run(ctx, "acme.spin", "ok", nil)
	if err != nil || res.FuelConsumed != 2 {
		t.Errorf("Run ok: fuel %+v, %v; want 2", res, err)
	}
	start = time.Now()
	if _, err := h.Call(ctx, "acme.spin", "spin", nil); !errors.Is(err, host.ErrFuelExhausted) {
		t.Errorf("spin with 1 M fuel: %v", err)
	}
	t.Logf("1 M fuel spent in %v", time.Since(start))

	// Close with a call in the start function returns at once.
	go func() {
		_, err := h.Call(ctx, "acme.startloop", "ok", nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := <-done; !errors.Is(err, host.ErrClosed) {
		t.Errorf("call stopped by Close: %v", err)
	}
}
