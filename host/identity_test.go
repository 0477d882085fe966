package host_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/host"
)

// Hosts racing to initialize one fresh state dir end with one device
// identity and one CA, and exactly one of them reports creating it.
func TestInitIdentityRace(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := openHost(t, dir, host.Options{}).Identity(ctx); !errors.Is(err, host.ErrNoIdentity) {
		t.Fatalf("Identity before InitIdentity = %v, want ErrNoIdentity", err)
	}
	const n = 4
	hosts := make([]*host.Host, n)
	for i := range hosts {
		hosts[i] = openHost(t, dir, host.Options{})
	}
	type result struct {
		device, ca string
		created    bool
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			id, created, err := h.InitIdentity(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = result{id.Device.ID(), id.CAFingerprint(), created}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	creators := 0
	for _, r := range results {
		if r.created {
			creators++
		}
		if r.device != results[0].device || r.ca != results[0].ca {
			t.Errorf("racing InitIdentity disagree: %+v", results)
			break
		}
	}
	if creators != 1 {
		t.Errorf("%d hosts report creating the identity, want 1: %+v", creators, results)
	}
	// A later Host loads the same; one Host hands out one Identity.
	h := openHost(t, dir, host.Options{})
	id, err := h.Identity(ctx)
	if err != nil || id.Device.ID() != results[0].device || id.CAFingerprint() != results[0].ca {
		t.Fatalf("Identity after init = %v, %v", id, err)
	}
	again, created, err := h.InitIdentity(ctx)
	if err != nil || created || again != id {
		t.Errorf("InitIdentity on an initialized Host = %p, %v, %v; want the same *Identity, not created", again, created, err)
	}
}
