package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// cycle is the sequence of changes workers keep applying to one shared
// version. Each step is valid from exactly one state, so when workers race
// on the same row, every step succeeds for one of them at most, and the
// others see ErrInvalidTransition (a stale read) rather than a lost update.
var cycle = []Change{
	{To: StateVerified, Reason: "verify"},
	{To: StateEligible, Reason: "audit"},
	{To: StateQuarantined, Reason: "re-audit failed"},
	{To: StateEligible, Reason: "enable", Reverified: true},
}

type workResult struct {
	Applied int // accepted writes to the shared version, Record included
	Refused int // ErrInvalidTransition
}

// work runs one worker: a full lifecycle for own distinct skills, and
// rounds of the cycle on the shared skill, recording it when missing. Any
// error other than ErrInvalidTransition is returned: in particular, no
// SQLITE_BUSY may reach the caller.
// pause between shared rounds stands in for the work a real caller does
// between decisions; without it one process tends to win SQLite's write
// lock back-to-back, as the busy handler is not fair.
func work(ctx context.Context, j *Journal, name string, own, rounds int, pause time.Duration) (workResult, error) {
	var r workResult
	principal := "system:" + name
	for i := range own {
		skill := fmt.Sprintf("%s.skill%d", name, i)
		in := install(skill, "1.0.0")
		in.Principal = principal
		if _, err := j.Record(ctx, in); err != nil {
			return r, err
		}
		for _, to := range []State{StateVerified, StateEligible} {
			if _, err := j.Transition(ctx, skill, "1.0.0", Change{To: to, Principal: principal}); err != nil {
				return r, err
			}
		}
	}
	for i := range rounds {
		time.Sleep(pause)
		c := cycle[i%len(cycle)]
		c.Principal = principal
		_, err := j.Transition(ctx, "shared.skill", "1.0.0", c)
		switch {
		case errors.Is(err, ErrNotFound):
			in := install("shared.skill", "1.0.0")
			in.Principal = principal
			if _, err := j.Record(ctx, in); err != nil {
				return r, err
			}
			r.Applied++
		case errors.Is(err, ErrInvalidTransition):
			r.Refused++
		case err != nil:
			return r, err
		default:
			r.Applied++
		}
	}
	return r, nil
}

// checkOutcome asserts the journal agrees with what the workers saw.
func checkOutcome(t *testing.T, j *Journal, names []string, own int, results []workResult) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		for i := range own {
			skill := fmt.Sprintf("%s.skill%d", name, i)
			evs := checkChains(t, j, skill)
			if len(evs) != 3 {
				t.Errorf("%s: %d events, want 3", skill, len(evs))
			}
			if st, err := j.Get(ctx, skill, "1.0.0"); err != nil || st.State != StateEligible {
				t.Errorf("%s: %+v, %v", skill, st, err)
			}
		}
	}
	applied := 0
	for _, r := range results {
		applied += r.Applied
	}
	evs := checkChains(t, j, "shared.skill")
	if len(evs) != applied {
		t.Errorf("shared.skill: %d events, workers applied %d writes", len(evs), applied)
	}
	list, err := j.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(names)*own + 1; len(list) != want {
		t.Errorf("List has %d rows, want %d", len(list), want)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	j1, path := openTest(t)
	// A second handle on the same file has its own pool and write slot, so
	// its writers meet j1's in SQLite's locking, as another process would.
	j2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()

	const workers, own, rounds = 8, 2, 16
	var (
		wg      sync.WaitGroup
		names   = make([]string, workers)
		results = make([]workResult, workers)
		errs    = make([]error, workers)
	)
	for w := range workers {
		names[w] = fmt.Sprintf("g%d", w)
		j := j1
		if w%2 == 1 {
			j = j2
		}
		wg.Go(func() {
			results[w], errs[w] = work(ctx, j, names[w], own, rounds, 0)
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	checkOutcome(t, j1, names, own, results)
}

// TestConcurrentQuarantineSameVersion: of many simultaneous attempts to
// quarantine one eligible version, exactly one wins and one event exists.
func TestConcurrentQuarantineSameVersion(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateVerified})
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateEligible})
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range n {
		wg.Go(func() {
			_, err := j.Transition(ctx, testSkill, "1.0.0", Change{To: StateQuarantined, Reason: strconv.Itoa(i), Principal: daemon})
			if err != nil && !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("attempt %d: %v", i, err)
			}
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d quarantines succeeded, want 1", wins)
	}
	if evs := checkChains(t, j, testSkill); len(evs) != 4 {
		t.Errorf("%d events, want 4", len(evs))
	}
}

const childEnv = "PALYRA_JOURNAL_TEST_CHILD"

// TestHelperProcess is not a test: it is the child of TestMultiProcess.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process for TestMultiProcess")
	}
	var args struct {
		Path        string
		Name        string
		Own, Rounds int
		StartAt     int64 // unix ms; all children begin together
		OpenOnly    bool  // just open, record one skill, close
	}
	if err := json.Unmarshal([]byte(spec), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	time.Sleep(time.Until(time.UnixMilli(args.StartAt)))
	ctx := context.Background()
	j, err := Open(ctx, args.Path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	if args.OpenOnly {
		if _, err := j.Record(ctx, install(args.Name, "1.0.0")); err != nil {
			fmt.Fprintln(os.Stderr, "record:", err)
			os.Exit(1)
		}
		if err := j.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	r, err := work(ctx, j, args.Name, args.Own, args.Rounds, 2*time.Millisecond)
	if err != nil {
		fmt.Fprintln(os.Stderr, "work:", err)
		os.Exit(1)
	}
	if err := j.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// TestMultiProcess starts several copies of the test binary that open a
// journal which does not exist yet (racing on creation and migration),
// then record and transition concurrently. Every child must finish
// without an error surfacing (no SQLITE_BUSY) and the final database must
// hold exactly the events the children report, in unbroken chains.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "skills", "journal.sqlite3")
	procs, own, rounds := 4, 4, 24
	if raceEnabled {
		own, rounds = 2, 12
	}
	type child struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	var (
		children []*child
		names    []string
	)
	// Process start-up takes tens of milliseconds; a common start time
	// makes the children really race, on creation and migration too.
	startAt := time.Now().Add(500 * time.Millisecond).UnixMilli()
	for p := range procs {
		name := fmt.Sprintf("p%d", p)
		names = append(names, name)
		spec, _ := json.Marshal(map[string]any{"Path": path, "Name": name, "Own": own, "Rounds": rounds, "StartAt": startAt})
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")}
		c.cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
		c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
		children = append(children, c)
	}
	start := time.Now()
	for _, c := range children {
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	results := make([]workResult, procs)
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\nstderr: %s", i, err, c.stderr.String())
			continue
		}
		if err := json.Unmarshal(c.stdout.Bytes(), &results[i]); err != nil {
			t.Errorf("child %d output %q: %v", i, c.stdout.String(), err)
		}
	}
	t.Logf("%d processes × (%d installs × 3 writes + %d shared rounds) in %v; results %+v",
		procs, own, rounds, time.Since(start).Round(time.Millisecond), results)
	if t.Failed() {
		return
	}
	j, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	checkOutcome(t, j, names, own, results)
	// How interleaved the children really were; logged, not asserted, as a
	// loaded machine may legitimately run them one after another.
	evs, _ := j.Events(context.Background(), "shared.skill")
	switches := 0
	for i := 1; i < len(evs); i++ {
		if evs[i].Principal != evs[i-1].Principal {
			switches++
		}
	}
	t.Logf("shared.skill: %d events, writer changed %d times", len(evs), switches)
	var n int
	if err := j.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations()) {
		t.Errorf("schema_migrations rows = %d, %v: concurrent openers migrated more than once", n, err)
	}
}

// TestOpenRaceProcesses: processes that create the same journal at the
// same moment (DELETE → WAL conversion, migration) all succeed. SQLite
// returns SQLITE_BUSY there without waiting for the busy timeout; before
// retryBusy, about one round in forty failed.
func TestOpenRaceProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rounds, procs := 6, 6
	if raceEnabled {
		rounds, procs = 2, 4
	}
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "journal.sqlite3")
		startAt := time.Now().Add(200 * time.Millisecond).UnixMilli()
		var wg sync.WaitGroup
		for p := range procs {
			spec, _ := json.Marshal(map[string]any{"Path": path, "Name": fmt.Sprintf("p%d", p), "StartAt": startAt, "OpenOnly": true})
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
			wg.Go(func() {
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("round %d child %d: %v: %s", round, p, err, out)
				}
			})
		}
		wg.Wait()
		j, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		list, err := j.List(context.Background())
		j.Close()
		if err != nil || len(list) != procs {
			t.Errorf("round %d: %d rows, %v; want %d", round, len(list), err, procs)
		}
	}
}

// TestTiming reports the cost the brief asks about: 100 status upserts
// (each its own durable transaction) and a List of 100 rows.
func TestTiming(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	start := time.Now()
	for i := range 100 {
		if _, err := j.Record(ctx, install(fmt.Sprintf("timing.skill%03d", i), "1.0.0")); err != nil {
			t.Fatal(err)
		}
	}
	upserts := time.Since(start)
	start = time.Now()
	list, err := j.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := time.Since(start)
	if len(list) != 100 {
		t.Fatalf("List returned %d rows", len(list))
	}
	t.Logf("100 upserts: %v (%v each); List of 100: %v", upserts.Round(time.Microsecond), (upserts / 100).Round(time.Microsecond), listed.Round(time.Microsecond))
}

func BenchmarkRecord(b *testing.B) {
	j, err := Open(context.Background(), filepath.Join(b.TempDir(), "journal.sqlite3"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := j.Record(ctx, install(fmt.Sprintf("bench.skill%d", i), "1.0.0")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList100(b *testing.B) {
	j, err := Open(context.Background(), filepath.Join(b.TempDir(), "journal.sqlite3"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	for i := range 100 {
		if _, err := j.Record(ctx, install(fmt.Sprintf("bench.skill%03d", i), "1.0.0")); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := j.List(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
