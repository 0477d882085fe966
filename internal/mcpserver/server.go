package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/manifest"
)

// DefaultPoll is how often, by default, the server reads the journal for
// changes made by other processes.
const DefaultPoll = time.Second

// Meta keys of tools and results (MCP _meta, prefix "palyra/").
const (
	MetaSkillID   = "palyra/skill_id"
	MetaVersion   = "palyra/version"
	MetaToolID    = "palyra/tool_id"
	MetaPublisher = "palyra/publisher"
	// MetaGranted is what the operator granted the skill (host.Grants:
	// HTTP hosts, filesystem roots, secret key names — never values), so
	// that a grants change changes the tool and reaches clients as
	// list_changed.
	MetaGranted = "palyra/granted"
	// MetaErrorCode is on an error result: the error's code, as the
	// daemon sends it (host.RemoteCode), like "schema_violation".
	MetaErrorCode = "palyra/error_code"
)

// Options configure a Server.
type Options struct {
	// Host runs every call; required.
	Host *host.Host
	// Poll is how often Watch reads the journal for changes other
	// processes made (0: DefaultPoll).
	Poll time.Duration
	// Logger receives the server's own records (tool list changes, calls
	// that failed); nil discards them. Never standard output: with the
	// stdio transport it carries the protocol.
	Logger *slog.Logger
	// Version is reported to clients as the server's version.
	Version string
}

// Server serves the tools of a host's eligible skills over MCP.
type Server struct {
	h    *host.Host
	srv  *mcp.Server
	log  *slog.Logger
	poll time.Duration

	// syncMu serializes Sync; mu guards tools, which tool handlers read.
	syncMu sync.Mutex
	seq    int64 // host.ChangeSeq at the last Sync; -1 before the first
	mu     sync.RWMutex
	tools  map[string]*entry // by MCP tool name
	// native caches, by skill id, version and payload digest, whether an
	// installed version has a Palyra-native module (under syncMu).
	native map[string]bool
}

// entry is one listed tool and where calls to it go.
type entry struct {
	skillID, version, toolID string
	tool                     *mcp.Tool
}

// New makes a server listing the tools of every eligible skill of
// opts.Host as it is now; Watch keeps the list current.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Host == nil {
		return nil, errors.New("mcpserver: no host")
	}
	s := &Server{h: opts.Host, log: opts.Logger, poll: opts.Poll, seq: -1, tools: map[string]*entry{}, native: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = DefaultPoll
	}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "palyra", Title: "palyra skills", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: "Each tool is a tool of a signed, audited palyra skill, run in a sandbox with only the capabilities its operator granted.",
		// The SDK's records of sessions starting and ending are debug
		// detail for an operator; its warnings and errors are not.
		Logger: slog.New(minLevel{s.log.Handler(), slog.LevelWarn}),
		Capabilities: &mcp.ServerCapabilities{
			Tools: &mcp.ToolCapabilities{ListChanged: true},
			//lint:ignore SA1019 see logs.go: clients before 2026-07-28 need it.
			Logging: &mcp.LoggingCapabilities{},
		},
	})
	if _, err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// MCP returns the SDK server, to run on a transport (Server.Run) or behind
// an HTTP handler.
func (s *Server) MCP() *mcp.Server { return s.srv }

// Run serves one client on t (e.g. &mcp.StdioTransport{}) and keeps the
// tool list current while it does; it returns when the client goes or ctx
// ends.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Watch(ctx)
	return s.srv.Run(ctx, t)
}

// Watch calls Sync every poll interval until ctx ends. A failing Sync is
// logged and tried again at the next tick; the list stays as it was.
func (s *Server) Watch(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("mcp: reading the installed skills failed; the tool list is unchanged", "error", err)
		}
	}
}

// Sync brings the tool list in line with the journal, if it changed since
// the last Sync: the tools of skills no longer eligible go, new ones
// come, and changed ones are replaced. Connected clients get one
// notifications/tools/list_changed for any difference. It reports whether
// the list changed.
func (s *Server) Sync(ctx context.Context) (bool, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	seq, err := s.h.ChangeSeq(ctx)
	if err != nil {
		return false, err
	}
	if seq == s.seq {
		return false, nil
	}
	next, err := s.inventory(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	prev := s.tools
	var gone []string
	for name := range prev {
		if _, ok := next[name]; !ok {
			gone = append(gone, name)
		}
	}
	var added []*entry
	for name, e := range next {
		if p, ok := prev[name]; !ok || !sameEntry(p, e) {
			added = append(added, e)
		}
	}
	s.tools = next
	s.mu.Unlock()
	// The SDK gathers these into one list_changed per 10 ms.
	if len(gone) > 0 {
		slices.Sort(gone)
		s.srv.RemoveTools(gone...)
	}
	for _, e := range added {
		s.srv.AddTool(e.tool, s.handler(e.tool.Name))
	}
	s.seq = seq
	if len(gone)+len(added) > 0 {
		s.log.Info("mcp: tool list changed", "tools", len(next), "removed", len(gone), "added_or_changed", len(added))
		return true, nil
	}
	return false, nil
}

// minLevel passes on the records of next at min or above.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.Handler.WithGroup(name), m.min}
}

func sameEntry(a, b *entry) bool {
	return a.skillID == b.skillID && a.version == b.version && a.toolID == b.toolID && reflect.DeepEqual(a.tool, b.tool)
}

// inventory reads the tools of every eligible skill.
func (s *Server) inventory(ctx context.Context) (map[string]*entry, error) {
	list, err := s.h.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*entry{}
	for _, st := range list {
		if st.State != host.StateEligible {
			continue
		}
		info, err := s.h.Info(ctx, st.SkillID)
		if errors.Is(err, host.ErrNotInstalled) {
			continue // removed meanwhile: the next Sync sees it
		}
		if err != nil {
			return nil, err
		}
		if info.Status.State != host.StateEligible || info.Manifest == nil {
			continue
		}
		g, err := s.h.Grants(ctx, st.SkillID)
		if errors.Is(err, host.ErrNotInstalled) {
			continue
		}
		if err != nil {
			return nil, err
		}
		native, err := s.hasNativeModule(ctx, info)
		if err != nil {
			s.log.Warn("mcp: skill not listed", "skill", st.SkillID, "reason", err)
			continue
		}
		m := info.Manifest
		for _, t := range m.Entrypoints.Tools {
			e, err := toolEntry(m, t, g.Granted, native)
			if err != nil {
				s.log.Warn("mcp: tool not listed", "skill", m.SkillID, "tool", t.ID, "reason", err)
				continue
			}
			if other, dup := out[e.tool.Name]; dup {
				s.log.Error("mcp: two tools map to one name; the second is not listed",
					"name", e.tool.Name, "listed", other.skillID+" "+other.toolID, "left_out", e.skillID+" "+e.toolID)
				continue
			}
			out[e.tool.Name] = e
		}
	}
	return out, nil
}

// hasNativeModule reports whether the installed version has a module for
// Palyra's native ABI, whose tools output the host's {"exit_code":N}
// whatever their output_schema says (docs/abi.md). It inspects the
// installed artifact copy once per version.
func (s *Server) hasNativeModule(ctx context.Context, info *host.SkillInfo) (bool, error) {
	key := info.Status.SkillID + " " + info.Status.Version + " " + info.Status.PayloadSHA256
	if n, ok := s.native[key]; ok {
		return n, nil
	}
	f, err := os.Open(filepath.Join(info.Dir, artifactCopyName))
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	in, err := host.InspectArtifact(ctx, f, fi.Size())
	if err != nil {
		return false, err
	}
	native := slices.ContainsFunc(in.Modules, func(m host.InspectedModule) bool { return m.ABI == abiNative })
	s.native[key] = native
	return native, nil
}

const (
	// artifactCopyName is the signed artifact an installed version keeps
	// in its directory (the README's state directory layout).
	artifactCopyName = "artifact.palyra-skill"
	// abiNative is host.InspectedModule.ABI for Palyra's native ABI.
	abiNative = "palyra-native"
)

// toolEntry describes one manifest tool as an MCP tool. native: the
// skill has a Palyra-native module (its tools' output is the host's
// {"exit_code":N}, not what output_schema describes).
func toolEntry(m *manifest.Manifest, t manifest.Tool, granted host.Grants, native bool) (*entry, error) {
	in, err := inputSchema(t.InputSchema)
	if err != nil {
		return nil, err
	}
	name := ToolName(m.SkillID, t.Name)
	tool := &mcp.Tool{
		Name:        name,
		Title:       m.Name + ": " + t.Name,
		Description: t.Description,
		InputSchema: in,
		Annotations: annotations(m.Name+": "+t.Name, t.Risk, granted),
		Meta: mcp.Meta{
			MetaSkillID:   m.SkillID,
			MetaVersion:   m.Version,
			MetaToolID:    t.ID,
			MetaPublisher: m.Publisher,
			MetaGranted:   grantedMeta(granted),
		},
	}
	// MCP's structuredContent is an object: an output schema is listed
	// only for a tool whose output is one (and is what the schema says).
	if isObjectSchema(t.OutputSchema) && !native {
		tool.OutputSchema = t.OutputSchema
	}
	return &entry{skillID: m.SkillID, version: m.Version, toolID: t.ID, tool: tool}, nil
}

// inputSchema returns the tool's input schema as MCP lists it. MCP's
// arguments are always an object, and its inputSchema must say type
// "object": a schema that names no type gets it (the arguments could not
// be anything else), one whose types include "object" is narrowed to it,
// and a tool whose input cannot be an object is not listed.
func inputSchema(s map[string]any) (map[string]any, error) {
	switch typ := s["type"].(type) {
	case nil:
		if _, has := s["type"]; has {
			return nil, errors.New(`input_schema has "type": null`)
		}
	case string:
		if typ == "object" {
			return s, nil
		}
		return nil, fmt.Errorf("input_schema has type %q; MCP arguments are an object", typ)
	case []any:
		if !slices.Contains(typ, any("object")) {
			return nil, fmt.Errorf("input_schema has types %v; MCP arguments are an object", typ)
		}
	default:
		return nil, fmt.Errorf("input_schema has a type of %T", typ)
	}
	c := make(map[string]any, len(s)+1)
	for k, v := range s {
		c[k] = v
	}
	c["type"] = "object"
	return c, nil
}

func isObjectSchema(s map[string]any) bool {
	typ, _ := s["type"].(string)
	return typ == "object"
}

// grantedMeta is g as plain JSON values, every list present.
func grantedMeta(g host.Grants) map[string]any {
	var secrets []any
	for _, sg := range g.Secrets {
		for _, k := range sg.KeyNames {
			secrets = append(secrets, sg.Scope+"/"+k)
		}
	}
	strs := func(ss []string) []any {
		out := make([]any, 0, len(ss))
		for _, s := range ss {
			out = append(out, s)
		}
		return out
	}
	return map[string]any{
		"http_hosts":  strs(g.HTTPHosts),
		"read_roots":  strs(g.ReadRoots),
		"write_roots": strs(g.WriteRoots),
		"secrets":     append(make([]any, 0, len(secrets)), secrets...),
	}
}

// annotations are the hints a client uses to decide when to ask its
// user. A tool whose manifest risk asks for approval (requires_approval or
// default_sensitive: Palyra asks then) is destructive and not read-only.
// Otherwise it is not destructive, and read-only when the operator
// granted it no write root and no HTTP host (nothing else lets a skill
// change the world outside its call); it is open-world when it may reach
// an HTTP host.
func annotations(title string, r manifest.Risk, g host.Grants) *mcp.ToolAnnotations {
	risky := r.RequiresApproval || r.DefaultSensitive
	openWorld := len(g.HTTPHosts) > 0
	return &mcp.ToolAnnotations{
		Title:           title,
		ReadOnlyHint:    !risky && len(g.WriteRoots) == 0 && !openWorld,
		DestructiveHint: &risky,
		OpenWorldHint:   &openWorld,
	}
}

// handler calls the tool listed as name through host.Call.
func (s *Server) handler(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		s.mu.RLock()
		e := s.tools[name]
		s.mu.RUnlock()
		if e == nil {
			// Gone since the SDK routed the call here.
			return errorResult("not_eligible", fmt.Errorf("tool %s is no longer served: its skill was quarantined, removed or replaced", name)), nil
		}
		args := []byte(req.Params.Arguments)
		if len(bytes.TrimSpace(args)) == 0 || bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
			args = []byte("{}") // MCP's arguments are optional
		}
		tok := req.Params.GetProgressToken()
		progress := func(p float64, msg string) {
			if tok == nil {
				return
			}
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: p, Total: 1, Message: msg}); err != nil {
				s.log.Debug("mcp: progress notification failed", "error", err)
			}
		}
		progress(0, "calling "+e.skillID+" "+e.toolID)
		start := time.Now()
		out, err := s.h.Call(withCall(ctx, req.Session, name), e.skillID, e.toolID, args)
		if err != nil {
			code, _ := host.RemoteCode(err)
			s.log.Info("mcp: tool call failed", "tool", name, "skill", e.skillID, "code", code,
				"duration", time.Since(start).Round(time.Millisecond), "error", err)
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return nil, err // cancelled by the client: no one reads a result
			}
			return errorResult(code, err), nil
		}
		s.log.Debug("mcp: tool call", "tool", name, "skill", e.skillID, "duration", time.Since(start))
		progress(1, "done")
		return result(out), nil
	}
}

// result renders a tool's output: the output itself as text (or, when
// it is not UTF-8, as an embedded binary resource) and, when it is a JSON
// object, as structuredContent.
func result(out []byte) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	if utf8.Valid(out) {
		res.Content = []mcp.Content{&mcp.TextContent{Text: string(out)}}
	} else {
		res.Content = []mcp.Content{&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
			URI: "palyra:output", MIMEType: "application/octet-stream", Blob: out,
		}}}
	}
	if isJSONObject(out) {
		res.StructuredContent = json.RawMessage(out)
	}
	return res
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// errorResult is a failed call as a tool result (isError), not a protocol
// error: the model sees what went wrong. The text starts with the code.
func errorResult(code string, err error) *mcp.CallToolResult {
	if code == "" {
		code = "failed"
	}
	return &mcp.CallToolResult{
		IsError: true,
		Content: []mcp.Content{&mcp.TextContent{Text: code + ": " + err.Error()}},
		Meta:    mcp.Meta{MetaErrorCode: code},
	}
}
