package lockfile

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestExclusiveLockWaitsAndHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ctx := context.Background()
	held, err := Acquire(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second Acquire in
	// the same process contends like another process would.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(short, path, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second exclusive lock: %v, want deadline exceeded", err)
	}
	if _, err := Acquire(short, path, false); err == nil {
		t.Fatal("shared lock granted while an exclusive one is held")
	}

	got := make(chan error, 1)
	go func() {
		l, err := Acquire(ctx, path, true)
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("waiter got the lock while it was held: %v", err)
	default:
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter after unlock: %v", err)
	}
}

func TestSharedLocksCoexist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a, err := Acquire(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(ctx, path, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	a.Unlock()
	b.Unlock()
}
