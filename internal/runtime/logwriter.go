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
	// stderrHead is how much of stderr a TrapError carries: the start,
	// where a Go guest's panic or fatal error message is (the goroutine
	// dump follows).
	stderrHead = 1 << 10
)

// logBudget bounds what one call logs: its log_* records and its stdout
// and stderr lines together, at most MaxLogRecords records and
// MaxLogBytes bytes of messages. Every record is checked before the
// logger sees it, so the bound holds for any handler; past it the rest of
// the call's records are dropped, with one record saying so. It is used
// by the guest's goroutine only, during a call.
type logBudget struct {
	logger     *slog.Logger // nil: guest logs dropped
	maxRecords int64
	maxBytes   int64

	ctx     context.Context // the call's
	records int64
	bytes   int64
	dropped bool
	noticed uint8 // notice kinds reported during this call
}

// begin starts a call's budget.
func (b *logBudget) begin(ctx context.Context) {
	b.ctx = ctx
	b.records, b.bytes, b.dropped, b.noticed = 0, 0, false, 0
}

// end ends the call.
func (b *logBudget) end() { b.ctx = nil }

func (b *logBudget) context() context.Context {
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// take reports whether a record of a message of n bytes may be logged,
// and counts it if so. The first record refused logs that the rest are
// dropped.
func (b *logBudget) take(n int) bool {
	if b.dropped {
		return false
	}
	if b.records >= b.maxRecords || b.bytes+int64(n) > b.maxBytes {
		b.dropped = true
		b.logger.Log(b.context(), slog.LevelWarn, "guest logs truncated",
			"source", "runtime", "limit_records", b.maxRecords, "limit_bytes", b.maxBytes)
		return false
	}
	b.records++
	b.bytes += int64(n)
	return true
}

// notice logs, once per call for each kind, that the runtime refused the
// guest something. Notices are the runtime's, outside the guest's budget:
// there are as many per call as there are kinds.
func (b *logBudget) notice(kind uint8, msg string, args ...any) {
	if b == nil || b.logger == nil || b.noticed&kind != 0 {
		return
	}
	b.noticed |= kind
	b.logger.Log(b.context(), slog.LevelWarn, msg, append(args, "source", "runtime")...)
}

// streamWriter turns a guest's stdout or stderr into log records, one per
// line, within the call's log budget. It keeps the start of the stream for
// TrapError. It is written by one goroutine at a time (the guest's,
// during a call).
type streamWriter struct {
	// budget is the call's: its logger (nil: drop) and its context, which
	// the logger is passed so that a handler can tell calls apart (the
	// host adds its call id from it).
	budget *logBudget
	level  slog.Level
	stream string
	line   []byte
	head   []byte // first stderrHead bytes of this call, when keep
	keep   bool
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.keep && len(w.head) < stderrHead {
		w.head = append(w.head, p[:min(len(p), stderrHead-len(w.head))]...)
	}
	if w.budget.logger == nil || w.budget.dropped {
		return n, nil
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogLine - len(w.line)
			w.line = append(w.line, p[:min(len(p), max(room, 0))]...)
			break
		}
		w.line = append(w.line, p[:min(i, max(maxLogLine-len(w.line), 0))]...)
		w.emit()
		if w.budget.dropped {
			break
		}
		p = p[i+1:]
	}
	return n, nil
}

func (w *streamWriter) emit() {
	b := w.budget
	if l := b.logger; l != nil && len(w.line) > 0 && l.Enabled(b.context(), w.level) && b.take(len(w.line)) {
		l.Log(b.context(), w.level, string(w.line), "stream", w.stream)
	}
	w.line = w.line[:0]
}

// begin starts a call (after the budget's begin): the head is per call.
func (w *streamWriter) begin() {
	w.head = w.head[:0]
	w.line = w.line[:0]
}

// end flushes a partial last line (before the budget's end).
func (w *streamWriter) end() { w.emit() }
