package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/benchbase"
	"github.com/palyra/palyra-go/internal/mcpserver"
)

// BenchmarkMCPEcho: a tools/call round trip of a 1 KiB echo
// ({"text": "..."}, schemas checked both ways) from the Go SDK's client
// through palyra's MCP server over OS pipes — newline-delimited JSON, the
// framing of the stdio transport — against the same call on the Host
// directly (host.Call). The two alternate call by call, so both see the
// same load. Metrics: mcp-p50-us, mcp-p99-us, direct-p50-us,
// direct-p99-us and x-mcp-of-direct (the ratio of the medians); ns/op is
// one MCP call plus one direct call.
func BenchmarkMCPEcho(b *testing.B) {
	ctx := context.Background()
	h, err := host.Open(ctx, b.TempDir(), host.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Install(ctx, echoSkill().File(b), host.InstallOptions{AllowTOFU: true}); err != nil {
		b.Fatal(err)
	}
	s, err := mcpserver.New(ctx, mcpserver.Options{Host: h, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	// Two OS pipes, as a client and the server it started would have.
	toServer, fromClient, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	toClient, fromServer, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx, &mcp.IOTransport{Reader: toServer, Writer: fromServer})
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).
		Connect(ctx, &mcp.IOTransport{Reader: toClient, Writer: fromClient}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		cs.Close()
		stop()
		<-done
	}()

	in := []byte(`{"text":"` + strings.Repeat("x", 1024-len(`{"text":""}`)) + `"}`)
	params := &mcp.CallToolParams{Name: "acme_echo__echo", Arguments: json.RawMessage(in)}
	callMCP := func() {
		res, err := cs.CallTool(ctx, params)
		if err != nil || res.IsError {
			b.Fatalf("MCP echo: %v %v", err, res)
		}
	}
	callDirect := func() {
		if out, err := h.Call(ctx, "acme.echo", "echo", in); err != nil || !bytes.Equal(out, in) {
			b.Fatalf("direct echo: %v", err)
		}
	}
	for range 20 { // warm both paths
		callMCP()
		callDirect()
	}
	viaMCP := make([]time.Duration, 0, b.N)
	direct := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		callMCP()
		t1 := time.Now()
		callDirect()
		viaMCP = append(viaMCP, t1.Sub(t0))
		direct = append(direct, time.Since(t1))
	}
	b.StopTimer()
	benchbase.ReportLatencies(b, "mcp", viaMCP, "direct", direct)
}
