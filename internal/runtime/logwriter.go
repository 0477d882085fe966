package runtime

import (
	"bytes"
	"context"
	"log/slog"
)

// Bounds on what a guest can push into the host's logs.
const (
	// maxLogLine is the longest stdout/stderr line or log message kept;
	// longer ones are cut.
	maxLogLine = 4 << 10
	// maxStreamBytes is how much of stdout or stderr one call may log;
	// the rest is dropped, with one record saying so.
	maxStreamBytes = 64 << 10
	// stderrHead is how much of stderr a TrapError carries: the start,
	// where a Go guest's panic or fatal error message is (the goroutine
	// dump follows).
	stderrHead = 1 << 10
)

// streamWriter turns a guest's stdout or stderr into log records, one per
// line, bounded per call. It keeps the start of the stream for TrapError.
// It is written by one goroutine at a time (the guest's, during a call).
type streamWriter struct {
	logger  *slog.Logger // nil: drop
	level   slog.Level
	stream  string
	line    []byte
	written int    // bytes taken during this call
	head    []byte // first stderrHead bytes of this call, when keep
	keep    bool
	// ctx is the call's context, passed to the logger so that a handler
	// can tell calls apart (the host adds its call id from it).
	ctx context.Context
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.keep && len(w.head) < stderrHead {
		w.head = append(w.head, p[:min(len(p), stderrHead-len(w.head))]...)
	}
	if w.logger == nil {
		return n, nil
	}
	if w.written >= maxStreamBytes {
		return n, nil
	}
	if w.written+len(p) > maxStreamBytes {
		p = p[:maxStreamBytes-w.written]
	}
	w.written += len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogLine - len(w.line)
			w.line = append(w.line, p[:min(len(p), max(room, 0))]...)
			break
		}
		w.line = append(w.line, p[:min(i, max(maxLogLine-len(w.line), 0))]...)
		w.emit()
		p = p[i+1:]
	}
	if w.written >= maxStreamBytes {
		w.emit()
		w.logger.Log(w.context(), w.level, "guest output truncated", "stream", w.stream, "limit", maxStreamBytes)
	}
	return n, nil
}

func (w *streamWriter) emit() {
	if w.logger != nil && len(w.line) > 0 {
		w.logger.Log(w.context(), w.level, string(w.line), "stream", w.stream)
	}
	w.line = w.line[:0]
}

// begin starts a call: counters and head are per call.
func (w *streamWriter) begin(ctx context.Context) {
	w.written = 0
	w.head = w.head[:0]
	w.ctx = ctx
}

// end flushes a partial last line.
func (w *streamWriter) end() {
	w.emit()
	w.ctx = nil
}

func (w *streamWriter) context() context.Context {
	if w.ctx == nil {
		return context.Background()
	}
	return w.ctx
}
