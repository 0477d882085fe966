package logtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// Record is one logged record: its message and its attributes as strings.
type Record struct {
	Msg   string
	Attrs map[string]string
}

// Recorder is a slog.Handler that keeps every record. It is safe for
// concurrent use; the zero value is ready.
type Recorder struct {
	mu      sync.Mutex
	records []Record
}

// Enabled implements slog.Handler: every level is recorded.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs implements slog.Handler; the attributes are not kept.
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup implements slog.Handler; groups are not kept.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	lr := Record{Msg: rec.Message, Attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		lr.Attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, lr)
	r.mu.Unlock()
	return nil
}

// Find returns the records with message msg whose attributes include
// want (a wanted "" matches an absent attribute).
func (r *Recorder) Find(msg string, want map[string]string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if rec.Msg == msg && matches(rec, want) {
			out = append(out, rec)
		}
	}
	return out
}

func matches(rec Record, want map[string]string) bool {
	for k, v := range want {
		if rec.Attrs[k] != v {
			return false
		}
	}
	return true
}

// Wait polls for up to 3 s for a record Find would return and returns the
// first; it fails t, listing what was logged, if none comes.
func (r *Recorder) Wait(t testing.TB, msg string, want map[string]string) Record {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if recs := r.Find(msg, want); len(recs) > 0 {
			return recs[0]
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no log record %q with %v; have %v", msg, want, r.records)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
