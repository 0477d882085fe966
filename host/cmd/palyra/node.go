package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/daemon"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// Reconnect backoff of palyra node: doubled after each failed attempt,
// back to the minimum once a connection has lasted.
const (
	nodeBackoffMin = 500 * time.Millisecond
	nodeBackoffMax = 30 * time.Second
)

func (c *cli) nodeCommand() *cobra.Command {
	var (
		join    string
		logJSON bool
	)
	cmd := &cobra.Command{
		Use:   "node --join ADDR",
		Short: "Run this state dir's skills for a daemon, as a joined node",
		Long: `Node joins the daemon at ADDR as a node: it connects with the credentials
palyra pair ADDR --kind node stored in this state dir, offers the daemon its
eligible skills (id, version and payload digest), offers again whenever
they change (checked every second), and runs the calls the daemon routes to
it through this state dir's host, with its grants and quotas. The daemon
routes a call here only when this node holds exactly the signed version the
daemon itself has; a call pinned to another version is refused.

When the connection drops, node reconnects with backoff (0.5 s doubling to
30 s). SIGTERM or SIGINT stops it: calls in flight finish or reach their
deadline, then it exits 0. Logs go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if join == "" {
				return cmdline.Usagef("--join ADDR is required")
			}
			ctx, stop, h, log, err := c.openService(cmd, "system:node", logJSON)
			if err != nil {
				return err
			}
			defer stop()
			defer h.Close()
			creds, err := h.RemoteCredentials(ctx, join)
			if err != nil {
				return err
			}
			if creds.Kind != identity.KindNode {
				return fmt.Errorf("this state dir paired with %s as %s, not node: pair again with palyra pair %s --kind node", join, creds.Kind, join)
			}
			return runNode(ctx, h, creds, log, cmd)
		},
	}
	cmd.Flags().StringVar(&join, "join", "", "the daemon's UDP address (host:port)")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write the logs on standard error as JSON lines")
	return cmd
}

// runNode dials the daemon and runs the node on each connection until ctx
// ends, reconnecting with backoff. The connection comes from a
// host.Remote, so the node's certificate renews before it expires (and
// is stored back) like any paired client's.
func runNode(ctx context.Context, h *host.Host, creds *host.RemoteCredentials, log *slog.Logger, cmd *cobra.Command) error {
	var r *host.Remote
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	backoff := nodeBackoffMin
	announced := false
	for {
		start := time.Now()
		var conn *transport.Conn
		var err error
		if r == nil {
			r, err = host.Dial(ctx, creds, host.RemoteOptions{AcceptStreams: true, OnRenew: h.SaveRemoteCredentials, Logger: log})
			if err != nil {
				r = nil
			}
		}
		if r != nil {
			conn, err = r.Conn(ctx)
		}
		if err == nil {
			if !announced {
				fmt.Fprintf(cmd.OutOrStdout(), "joined %s as node %s\n", creds.Addr, creds.DeviceID)
				announced = true
			}
			log.Info("node: connected", "daemon", creds.Addr, "device", creds.DeviceID)
			err = daemon.RunNode(ctx, conn, h, daemon.NodeOptions{Logger: log})
			_ = conn.Close() // the next r.Conn dials afresh
		}
		if ctx.Err() != nil {
			return nil
		}
		var re *transport.RemoteError
		if errors.Is(err, transport.ErrRefused) || errors.Is(err, transport.ErrDeviceClosed) ||
			(errors.As(err, &re) && re.Code == daemon.CodeForbidden) {
			// Revoked, unknown, or not a node: retrying cannot help.
			return fmt.Errorf("the daemon at %s refused this node: %w", creds.Addr, err)
		}
		if time.Since(start) > nodeBackoffMax {
			backoff = nodeBackoffMin
		}
		log.Warn("node: disconnected, reconnecting", "daemon", creds.Addr, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, nodeBackoffMax)
	}
}
