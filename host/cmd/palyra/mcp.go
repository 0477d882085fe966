package main

import (
	"context"
	"crypto/tls"
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

// mcpFlags are palyra mcp's flags.
type mcpFlags struct {
	httpAddr  string
	tokenFile string
	token     string // read from tokenFile
	mtls      bool
	names     []string
	poll      time.Duration
	logJSON   bool
}

func (c *cli) mcpCommand() *cobra.Command {
	var f mcpFlags
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

--http on an address other than loopback needs a way to authenticate
clients. --token-file: every request must carry "Authorization: Bearer
TOKEN"; the token is read from the file (mode 0600, or from standard
input with --token-file -), never from the command line. --mtls: HTTPS,
and every client must present the certificate of a device paired with
this state dir (palyra pairing code, palyra pair), not revoked. Logs go to
standard error. See docs/mcp.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.poll <= 0 {
				return cmdline.Usagef("--poll must be positive (got %s)", f.poll)
			}
			if f.httpAddr == "" {
				for flag, set := range map[string]bool{"--token-file": f.tokenFile != "", "--mtls": f.mtls, "--name": len(f.names) > 0} {
					if set {
						return cmdline.Usagef("%s needs --http: over stdio the client starts the server itself", flag)
					}
				}
			}
			if len(f.names) > 0 && !f.mtls {
				return cmdline.Usagef("--name needs --mtls: it names the server certificate")
			}
			if f.tokenFile != "" {
				var err error
				if f.token, err = readToken(cmd.InOrStdin(), f.tokenFile); err != nil {
					return err
				}
			}
			if f.httpAddr != "" {
				if err := mcpserver.CheckListen(f.httpAddr, f.token != "" || f.mtls); err != nil {
					return &cmdline.UsageError{Err: err}
				}
			}
			return c.serveMCP(cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.httpAddr, "http", "", "serve streamable HTTP on this host:port (e.g. 127.0.0.1:8765) instead of stdio")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token HTTP clients must send (- reads standard input)")
	cmd.Flags().BoolVar(&f.mtls, "mtls", false, "serve HTTPS and require a paired device's client certificate (needs palyra identity init)")
	cmd.Flags().StringArrayVar(&f.names, "name", nil, "with --mtls: a DNS name or IP clients dial, added to the server certificate (repeatable)")
	cmd.Flags().DurationVar(&f.poll, "poll", mcpserver.DefaultPoll, "how often to read the journal for changes other processes made")
	cmd.Flags().BoolVar(&f.logJSON, "log-json", false, "write the logs on standard error as JSON lines")
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

func (c *cli) serveMCP(cmd *cobra.Command, f mcpFlags) error {
	var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	if f.logJSON {
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
		JournalPollInterval: f.poll,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	s, err := mcpserver.New(ctx, mcpserver.Options{Host: h, Poll: f.poll, Logger: log, Version: cmdline.ReadVersion("palyra").Version})
	if err != nil {
		return err
	}
	if f.httpAddr == "" {
		t := &mcp.IOTransport{Reader: io.NopCloser(cmd.InOrStdin()), Writer: nopWriteCloser{cmd.OutOrStdout()}}
		err := s.Run(ctx, t)
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return nil // the client went, or a signal: a normal end
		}
		return err
	}
	opts := mcpserver.HTTPOptions{Token: f.token}
	var tlsConfig *tls.Config
	if f.mtls {
		id, err := h.Identity(ctx)
		if err != nil {
			return err
		}
		names := f.names
		if hostPart, _, _ := net.SplitHostPort(f.httpAddr); hostPart != "" && hostPart != "0.0.0.0" && hostPart != "::" {
			names = append(names, hostPart)
		}
		if tlsConfig, err = mcpserver.TLSConfig(id, names); err != nil {
			return err
		}
		opts.Devices = id.Manager
	}
	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https"
	}
	srv := &http.Server{Handler: s.HTTPHandler(opts), ReadHeaderTimeout: 10 * time.Second}
	go s.Watch(ctx)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("mcp: serving streamable HTTP", "url", scheme+"://"+ln.Addr().String(), "token", f.token != "", "mtls", f.mtls)
	fmt.Fprintf(cmd.ErrOrStderr(), "listening on %s://%s\n", scheme, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
