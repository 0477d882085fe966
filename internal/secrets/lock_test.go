package secrets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockChildEnv starts TestHelperLockProcess as a child: its value is
// "hold <dir>" (take the lock, print "locked", hold it until stdin
// closes) or "count <dir> <n>" (n locked increments of identity/counter).
const lockChildEnv = "PALYRA_SECRETS_LOCK_CHILD"

// TestHelperLockProcess is not a test: it is the child the lock tests
// start by re-executing the test binary.
func TestHelperLockProcess(t *testing.T) {
	spec := os.Getenv(lockChildEnv)
	if spec == "" {
		t.Skip("helper process for the lock tests")
	}
	fields := strings.Fields(spec)
	s, err := openDir(fields[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	ctx := context.Background()
	switch fields[0] {
	case "hold":
		unlock, err := s.Lock(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		unlock()
	case "count":
		n, _ := strconv.Atoi(fields[2])
		for range n {
			if err := increment(ctx, s); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
	}
	os.Exit(0)
}

// increment is a read-modify-write cycle under the lock: without it,
// concurrent incrementers lose updates.
func increment(ctx context.Context, s *Store) error {
	unlock, err := s.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	n := 0
	v, err := s.GetIdentity(ctx, "counter")
	switch {
	case err == nil:
		if n, err = strconv.Atoi(string(v)); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	// Widen the window a lost update needs.
	time.Sleep(100 * time.Microsecond)
	return s.SetIdentity(ctx, "counter", []byte(strconv.Itoa(n+1)))
}

func lockChild(t *testing.T, spec string) *exec.Cmd {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+spec)
	cmd.Stderr = os.Stderr
	return cmd
}

// startHolder starts a child that holds the lock of the store in dir and
// returns once it does; closing the returned writer lets it go.
func startHolder(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := lockChild(t, "hold "+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd, stdin
}

// The lock excludes another process, a waiter gets it once the holder
// lets go, and a holder that dies (killed, no unlock) releases it.
func TestLockAcrossProcesses(t *testing.T) {
	for _, how := range []string{"unlock", "kill"} {
		t.Run(how, func(t *testing.T) {
			s := openTemp(t)
			holder, release := startHolder(t, s.Dir())

			short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			if _, err := s.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Lock while another process holds it = %v, want DeadlineExceeded", err)
			}

			got := make(chan error, 1)
			go func() {
				unlock, err := s.Lock(t.Context())
				if err == nil {
					unlock()
				}
				got <- err
			}()
			select {
			case err := <-got:
				t.Fatalf("waiter got the lock while the child held it: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			if how == "kill" {
				if err := holder.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			} else {
				release.Close()
			}
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("waiter after the holder let go: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("waiter still blocked 10 s after the holder let go")
			}
		})
	}
}

// Processes incrementing one value under the lock lose no update.
func TestLockSerializesProcesses(t *testing.T) {
	s := openTemp(t)
	const procs, each = 3, 25
	var cmds []*exec.Cmd
	for range procs {
		cmd := lockChild(t, fmt.Sprintf("count %s %d", s.Dir(), each))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// This process joins in too, with goroutines.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range each {
				if err := increment(t.Context(), s); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	v, err := s.GetIdentity(t.Context(), "counter")
	if want := strconv.Itoa((procs + 2) * each); err != nil || string(v) != want {
		t.Fatalf("counter = %q, %v; want %s", v, err, want)
	}
	if got := mode(t, filepath.Join(s.Dir(), LockFileName)).Perm(); got != 0o600 {
		t.Errorf("lock file mode %v, want 0600", got)
	}
	if refs, err := s.List(t.Context()); err != nil || len(refs) != 0 {
		t.Errorf("List = %v, %v; the lock file and identity values are no secrets", refs, err)
	}
}

// A waiter in the same process is released by its ctx; unlock is
// idempotent; the next Lock succeeds after an unlock.
func TestLockContextCancelsWaiter(t *testing.T) {
	s := openTemp(t)
	unlock, err := s.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan error, 1)
	go func() {
		_, err := s.Lock(ctx)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned while the first was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not unblock the waiter")
	}
	// A waiter on another *Store of the same directory (so on flock, not
	// the in-process channel) is cancelled too.
	other, err := openDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() {
		_, err := other.Lock(ctx2)
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel2()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled flock waiter = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not unblock the flock waiter")
	}
	unlock()
	unlock() // harmless
	short, cancel3 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel3()
	u2, err := other.Lock(short)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	u2()
	if _, err := s.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled ctx = %v", err)
	}
}

// The lock file is held to the rules of a secret file.
func TestLockFileRefusedWhenLoose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
	}{
		{"world-readable", func(t *testing.T, path string) { chmod(t, path, 0o644) }},
		{"symlink", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(path+".real", path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			unlock, err := s.Lock(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			unlock()
			path := filepath.Join(s.Dir(), LockFileName)
			tc.tamper(t, path)
			_, err = s.Lock(t.Context())
			var pe *PermissionError
			if !errors.As(err, &pe) || pe.Path != path || !strings.Contains(err.Error(), path) {
				t.Fatalf("Lock = %v, want a *PermissionError naming %s", err, path)
			}
			// The refusal released the in-process half: with the file
			// made anew, Lock succeeds at once.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			unlock, err = s.Lock(short)
			if err != nil {
				t.Fatalf("Lock after a refusal: %v", err)
			}
			unlock()
			chmod(t, s.Dir(), 0o755)
			if _, err := s.Lock(t.Context()); !errors.As(err, &pe) || pe.Path != s.Dir() {
				t.Fatalf("Lock in a 0755 dir = %v, want a *PermissionError naming the dir", err)
			}
		})
	}
}

// The identity methods and Lock apply the store's permission rules like
// Get: a world-readable identity file is refused naming it; a 0755
// directory refuses every operation, naming the directory.
func TestIdentityOpsRefuseLoosePermissions(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if err := s.CreateIdentity(ctx, "device:identity", []byte("k")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(s.Dir(), fileName(Ref{IdentityScope, "device:identity"}))
	chmod(t, file, 0o644)
	var pe *PermissionError
	if _, err := s.GetIdentity(ctx, "device:identity"); !errors.As(err, &pe) || pe.Path != file || !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("GetIdentity of a 0644 file = %v, want a *PermissionError naming %s", err, file)
	}
	chmod(t, file, 0o600)
	chmod(t, s.Dir(), 0o755)
	for name, op := range map[string]func() error{
		"GetIdentity":    func() error { _, err := s.GetIdentity(ctx, "device:identity"); return err },
		"SetIdentity":    func() error { return s.SetIdentity(ctx, "x", []byte("v")) },
		"CreateIdentity": func() error { return s.CreateIdentity(ctx, "y", []byte("v")) },
		"DeleteIdentity": func() error { return s.DeleteIdentity(ctx, "device:identity") },
		"Lock":           func() error { _, err := s.Lock(ctx); return err },
	} {
		if err := op(); !errors.As(err, &pe) || pe.Path != s.Dir() || pe.Mode.Perm() != 0o755 {
			t.Errorf("%s in a 0755 store dir = %v, want a *PermissionError naming it", name, err)
		}
	}
}
