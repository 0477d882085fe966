//lint:file-ignore SA1019 MCP logging is deprecated from protocol 2026-07-28 on, and still the only way to reach clients of the versions before it, which are most of them.

package mcpserver

import (
	"context"
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// callKey carries, in the context of a call the server makes, the client
// session that asked for it and the tool's MCP name.
type callKey struct{}

type call struct {
	session *mcp.ServerSession
	tool    string
}

func withCall(ctx context.Context, ss *mcp.ServerSession, tool string) context.Context {
	if ss == nil {
		return ctx
	}
	return context.WithValue(ctx, callKey{}, &call{session: ss, tool: tool})
}

// LogHandler returns the slog.Handler to give the host (host.Options.Logger)
// so that what a guest logs during a call reaches the client that made it:
// the host logs guest records in the call's context, where the server
// left the client's session. Each such record becomes an MCP log message
// (notifications/message) with the tool's MCP name as logger, sent only
// at or above the level the client set (logging/setLevel; none before
// it does). Every record also goes to next, as far as next is enabled.
//
// Guest records below the policy's log_level (default info) are never
// made, so that level is the floor of what a client can see.
func LogHandler(next slog.Handler) slog.Handler {
	if next == nil {
		next = slog.DiscardHandler
	}
	return &logHandler{next: next}
}

type logHandler struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if _, ok := ctx.Value(callKey{}).(*call); ok {
		return true // the session decides, by the client's level
	}
	return h.next.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		data := map[string]any{"message": r.Message}
		add := func(a slog.Attr) bool {
			if a.Key != "" {
				data[a.Key] = a.Value.Resolve().Any()
			}
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		_ = c.session.Log(ctx, &mcp.LoggingMessageParams{Level: mcpLevel(r.Level), Logger: c.tool, Data: data})
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), attrs: h.attrs}
}

// mcpLevel maps a slog level (guest levels: trace below debug, debug,
// info, warn, error) to the MCP (syslog) level at or below it.
func mcpLevel(l slog.Level) mcp.LoggingLevel {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	}
	return "error"
}
