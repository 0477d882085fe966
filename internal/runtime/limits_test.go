package runtime

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// openFDs counts the process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(entries)
}

// callFS runs the guest's fs export and returns its result lines.
func callFS(t *testing.T, p *Plugin, ops ...string) []string {
	t.Helper()
	out, err := p.Call(context.Background(), "fs", []byte(strings.Join(ops, "\n")))
	if err != nil {
		t.Fatalf("fs %q: %v", ops, err)
	}
	return strings.Split(string(out), "\n")
}

// A guest that opens files and keeps them gets EAGAIN at MaxOpenFiles;
// the process's descriptors stay bounded, the host can still open files,
// the plugin serves other calls, and the files are closed when the
// instance is discarded.
func TestOpenFileLimit(t *testing.T) {
	dir := t.TempDir()
	rec := &logRecorder{}
	p := newPlugin(t, PluginConfig{PoolSize: 1, Logger: slog.New(rec), Mounts: []Mount{{HostPath: dir, GuestPath: "/out"}}})
	callAfter(t, p, "start") // the guest's runtime is up: its descriptors are in the baseline
	base := openFDs(t)

	start := time.Now()
	if got := callFS(t, p, "open_many /out 4000")[0]; !openedAtLimit(got, DefaultMaxOpenFiles) {
		t.Errorf("open_many 4000 = %q, want about %d opened, then EAGAIN", got, DefaultMaxOpenFiles)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("open_many took %v", d)
	}
	if n := openFDs(t); n > base+DefaultMaxOpenFiles+16 {
		t.Errorf("%d descriptors open, %d before the guest's opens", n, base)
	}
	if !rec.has("WARN guest open refused: open-file limit reached") {
		t.Errorf("no record of the refusal:\n%s", rec)
	}
	f, err := os.CreateTemp(dir, "host")
	if err != nil {
		t.Fatalf("the host cannot open a file: %v", err)
	}
	f.Close()
	callAfter(t, p, "open_many")

	// Closing gives the places back; so does discarding the instance.
	if got := callFS(t, p, "close_all", "open_many /out 10"); got[1] != "10 <nil>" {
		t.Errorf("open after close_all: %q", got)
	}
	callFS(t, p, "open_many /out 4000")
	if _, err := p.Call(context.Background(), "panic", nil); err == nil {
		t.Fatal("panic did not trap")
	}
	if n := openFDs(t); n > base+16 {
		t.Errorf("%d descriptors open after the instance was discarded, %d before", n, base)
	}
	if got := callFS(t, p, "open_many /out 300")[0]; !openedAtLimit(got, DefaultMaxOpenFiles) {
		t.Errorf("a new instance opened %q", got)
	}
}

// openedAtLimit reports whether open_many's result says it opened files
// up to limit, then got EAGAIN ("Try again", in Go on wasip1). Go's
// runtime holds one file of its own (the mount's directory).
func openedAtLimit(result string, limit int) bool {
	var n int
	var path string
	if _, err := fmt.Sscanf(result, "%d open %s Try again", &n, &path); err != nil {
		return false
	}
	return n <= limit && n >= limit-2 && strings.HasSuffix(result, ": Try again")
}

// The open-file limit is per instance: each of a plugin's instances has
// its own.
func TestOpenFileLimitPerInstance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := newPlugin(t, PluginConfig{PoolSize: 2, MaxOpenFiles: 10, Mounts: []Mount{{HostPath: dir, GuestPath: "/out"}}})
	var slots []*slot
	for range 2 {
		s, err := p.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s)
	}
	for i, s := range slots {
		out, keep, err := s.inst.call(ctx, "fs", p.mod.exports["fs"], []byte("open_many /out 20"))
		if err != nil || !openedAtLimit(string(out), 10) {
			t.Errorf("instance %d: %q, %v", i, out, err)
		}
		p.release(s, keep)
	}
}

// dirBytes sums the sizes of the regular files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// A guest cannot put more than WriteQuotaBytes in its writable mounts, by
// writing, appending, writing past the end, truncating, or removing files
// it still holds open; what was there before counts; removing frees.
func TestWriteQuota(t *testing.T) {
	const quota = 1 << 20
	const eio = "I/O error" // Go's message for EIO on wasip1
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rw, "old"), make([]byte, 100_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "in"), []byte("read me"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &logRecorder{}
	p := newPlugin(t, PluginConfig{PoolSize: 1, WriteQuotaBytes: quota, Logger: slog.New(rec), Mounts: []Mount{
		{HostPath: rw, GuestPath: "/out"},
		{HostPath: ro, GuestPath: "/in", ReadOnly: true},
	}})
	for _, step := range []struct{ op, want string }{
		{"write /out/a 0 900000", "ok"},  // 1,000,000 with old
		{"write /out/b 0 100000", eio},   // would be 1,100,000
		{"write /out/a 2000000 1", eio},  // past the end: the hole counts
		{"truncate /out/a 2000000", eio}, // growth by truncate (and fd_allocate)
		{"append /out/a 48576", "ok"},    // exactly the quota
		{"append /out/a 1", eio},         // one byte more
		{"write /out/a 0 1048576", eio},  // overwrites count only their growth
		{"write /out/a 0 500000", "ok"},  // within the file: no growth
		{"truncate /out/a 400000", "ok"}, // frees 548,576
		{"write /out/b 0 500000", "ok"},  // 1,000,000
		{"remove /out/old", "ok"},        // 900,000
		{"hold /out/h 150000", eio},      // 1,050,000: the file is made, its bytes are not
		{"remove /out/h", "ok"},          // the empty file
		{"hold /out/h 100000", "ok"},     // 1,000,000, kept open
		{"remove /out/h", "ok"},          // gone from the tree, still on disk
		{"write /out/c 0 100000", eio},   // so its bytes still count
		{"close_all", "ok"},              // now they are freed
		{"write /out/c 0 100000", "ok"},  // 1,000,000
		{"rename /out/c /out/b", "ok"},   // replaces b's 500,000: 500,000
		{"write /out/d 0 548576", "ok"},  // exactly the quota
		{"write /in/x 0 1", "not ok"},    // another root: its own error
	} {
		got := callFS(t, p, step.op)[0]
		if step.want == "not ok" && got != "ok" {
			continue
		}
		if !strings.Contains(got, step.want) {
			t.Errorf("%s = %q, want %q", step.op, got, step.want)
		}
		if n := dirBytes(t, rw); n > quota {
			t.Fatalf("after %s: %d bytes on disk, quota %d", step.op, n, quota)
		}
	}
	if n := dirBytes(t, rw); n != quota {
		t.Errorf("%d bytes on disk, want exactly the quota", n)
	}
	if !rec.has("WARN guest write refused: write quota reached") {
		t.Errorf("no record of the refusal:\n%s", rec)
	}
	// The host is not bound by it, and reads are not.
	if err := os.WriteFile(filepath.Join(rw, "host"), make([]byte, 2*quota), 0o644); err != nil {
		t.Errorf("host write: %v", err)
	}
	if out, err := p.Call(context.Background(), "read_file", []byte("/in/in")); err != nil || string(out) != "read me" {
		t.Errorf("read_file = %q, %v", out, err)
	}
	callAfter(t, p, "the quota")

	// A new plugin counts what is there (the host's file too): full.
	p2 := newPlugin(t, PluginConfig{WriteQuotaBytes: quota, Mounts: []Mount{{HostPath: rw, GuestPath: "/out"}}})
	if got := callFS(t, p2, "write /out/e 0 1")[0]; !strings.Contains(got, eio) {
		t.Errorf("write over a full mount = %q", got)
	}
	// Another plugin's quota is its own.
	p3 := newPlugin(t, PluginConfig{WriteQuotaBytes: quota, Mounts: []Mount{{HostPath: t.TempDir(), GuestPath: "/out"}}})
	if got := callFS(t, p3, "write /out/e 0 1000")[0]; got != "ok" {
		t.Errorf("write in another plugin = %q", got)
	}
}

// Instances writing in parallel share the quota: together they cannot
// exceed it.
func TestWriteQuotaConcurrent(t *testing.T) {
	const quota, size, writers = 1 << 20, 200_000, 8
	dir := t.TempDir()
	p := newPlugin(t, PluginConfig{PoolSize: 4, WriteQuotaBytes: quota, Mounts: []Mount{{HostPath: dir, GuestPath: "/out"}}})
	var wg sync.WaitGroup
	results := make([]string, writers)
	for i := range writers {
		wg.Go(func() {
			out, err := p.Call(context.Background(), "fs", fmt.Appendf(nil, "write /out/w%d 0 %d", i, size))
			results[i] = fmt.Sprint(string(out), err)
		})
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		if r == "ok<nil>" {
			ok++
		}
	}
	if ok != quota/size {
		t.Errorf("%d writes succeeded, want %d: %q", ok, quota/size, results)
	}
	if n := dirBytes(t, dir); n > quota {
		t.Errorf("%d bytes on disk, quota %d", n, quota)
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), make([]byte, 10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "0"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if n, err := diskUsage([]string{dir}, 100); err != nil || n != 200 {
		t.Errorf("diskUsage = %d, %v; want 200 (a hard link counts once)", n, err)
	}
	if _, err := diskUsage([]string{dir}, 10); err == nil || !strings.Contains(err.Error(), "more than 10 entries") {
		t.Errorf("diskUsage past its bound: %v", err)
	}
}

// A guest logging in a tight loop reaches the logger with at most the
// call's budget, the rest dropped with one record saying so; the dropped
// records' blocks are freed; the call ends normally, and the next call
// has a budget of its own.
func TestLogBudget(t *testing.T) {
	for _, tc := range []struct {
		name              string
		records, bytes    int
		input             string
		wantRecs, maxRecs int
	}{
		// 400 MB of logs, more than the memory quota if blocks leaked.
		{"defaults", 0, 0, "100000 4096", 0, DefaultMaxLogRecords},
		{"records", 100, 0, "100000 10", 100, 100},
		{"bytes", 0, 1000, "100000 100", 10, 10},
		{"log and stdout together", 100, 0, "100000 10 1", 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &logRecorder{}
			p := newPlugin(t, PluginConfig{PoolSize: 1, Logger: slog.New(rec), MaxLogRecords: tc.records, MaxLogBytes: int64(tc.bytes)})
			maxBytes := tc.bytes
			if maxBytes == 0 {
				maxBytes = DefaultMaxLogBytes
			}
			for call := range 2 {
				rec.records = nil
				start := time.Now()
				out, err := p.Call(context.Background(), "log_flood", []byte(tc.input))
				if err != nil || string(out) != "done" {
					t.Fatalf("call %d: %q, %v", call, out, err)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("call %d took %v", call, d)
				}
				lines := rec.lines()
				if len(lines) == 0 || lines[len(lines)-1] != "WARN guest logs truncated" {
					t.Fatalf("call %d: the last record is not the truncation notice (%d records)", call, len(lines))
				}
				guest, size := lines[:len(lines)-1], 0
				for _, l := range guest {
					size += len(strings.TrimPrefix(l, "INFO "))
				}
				if len(guest) > tc.maxRecs || size > maxBytes || (tc.wantRecs > 0 && len(guest) != tc.wantRecs) {
					t.Errorf("call %d: %d records, %d bytes reached the logger", call, len(guest), size)
				}
			}
		})
	}
}
