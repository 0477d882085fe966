package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/mcpserver"
)

func (c *cli) mcpCommand() *cobra.Command {
	var (
		httpAddr  string
		tokenFile string
		poll      time.Duration
		logJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve every eligible skill's tools to Model Context Protocol clients (stdio, or streamable HTTP)",
		Long: `Mcp serves the tools of every eligible skill of the state dir to a Model
Context Protocol client: over standard input and output by default (the
client starts palyra mcp itself), or over streamable HTTP with --http.

Each tool is listed as <skill>__<tool> (the skill id's dots written '_';
a hashed name where that would be ambiguous or over 64 characters), with
its skill.toml description and schemas, and every call runs through the
host as palyra skills run does: grants, quotas, fuel, egress and schema
checks, the journal. A failed call is a tool result with isError. Installs,
quarantines, enables, removals and grant changes made by any process reach
the client as notifications/tools/list_changed within --poll.

--http on an address other than loopback needs --token-file: every request
must then carry "Authorization: Bearer TOKEN". The token is read from the
file (or from standard input with --token-file -), never from the command
line. Logs go to standard error. See docs/mcp.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if poll <= 0 {
				return cmdline.Usagef("--poll must be positive (got %s)", poll)
			}
			var token string
			if tokenFile != "" {
				if httpAddr == "" {
					return cmdline.Usagef("--token-file needs --http: over stdio the client starts the server itself")
				}
				var err error
				if token, err = readToken(cmd.InOrStdin(), tokenFile); err != nil {
					return err
				}
			}
			if httpAddr != "" {
				if err := mcpserver.CheckListen(httpAddr, token != ""); err != nil {
					return &cmdline.UsageError{Err: err}
				}
			}
			return c.serveMCP(cmd, httpAddr, token, poll, logJSON)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve streamable HTTP on this host:port (e.g. 127.0.0.1:8765) instead of stdio")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bearer token HTTP clients must send (- reads standard input)")
	cmd.Flags().DurationVar(&poll, "poll", mcpserver.DefaultPoll, "how often to read the journal for changes other processes made")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write the logs on standard error as JSON lines")
	return cmd
}

// readToken reads the bearer token from path, or from r for "-". A
// token file others can read is refused, as the secrets' key file is.
func readToken(r io.Reader, path string) (string, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(r, 4096))
	} else {
		var fi os.FileInfo
		if fi, err = os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("--token-file %s: mode %04o lets other users read the token (chmod 600 %s)", path, fi.Mode().Perm(), path)
		}
		if err == nil {
			data, err = os.ReadFile(path)
		}
	}
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok, err := mcpserver.ParseToken(data)
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %w", path, err)
	}
	return tok, nil
}

func (c *cli) serveMCP(cmd *cobra.Command, httpAddr, token string, poll time.Duration, logJSON bool) error {
	var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	if logJSON {
		handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
	}
	log := slog.New(handler)
	dir, err := c.stateDirPath()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Guest logs reach the client through the host's logger; the host
	// notices other processes' changes to a skill as often as the server
	// re-reads its tool list.
	h, err := host.Open(ctx, dir, host.Options{
		Principal:           "system:mcp",
		Logger:              slog.New(mcpserver.LogHandler(handler)),
		JournalPollInterval: poll,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	s, err := mcpserver.New(ctx, mcpserver.Options{Host: h, Poll: poll, Logger: log, Version: cmdline.ReadVersion("palyra").Version})
	if err != nil {
		return err
	}
	if httpAddr == "" {
		t := &mcp.IOTransport{Reader: io.NopCloser(cmd.InOrStdin()), Writer: nopWriteCloser{cmd.OutOrStdout()}}
		err := s.Run(ctx, t)
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return nil // the client went, or a signal: a normal end
		}
		return err
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.HTTPHandler(token), ReadHeaderTimeout: 10 * time.Second}
	go s.Watch(ctx)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("mcp: serving streamable HTTP", "url", "http://"+ln.Addr().String(), "auth", token != "")
	fmt.Fprintf(cmd.ErrOrStderr(), "listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
