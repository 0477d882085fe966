package main

import (
	"errors"
	"fmt"
	"sync"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/daemon"
	"github.com/palyra/palyra-go/internal/identity"
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
			err = daemon.Join(ctx, h, creds, daemon.JoinOptions{
				Node:   daemon.NodeOptions{Logger: log},
				Remote: host.RemoteOptions{OnRenew: h.SaveRemoteCredentials},
				OnConnected: sync.OnceFunc(func() {
					fmt.Fprintf(cmd.OutOrStdout(), "joined %s as node %s\n", creds.Addr, creds.DeviceID)
				}),
			})
			if errors.Is(err, daemon.ErrNodeRefused) {
				return fmt.Errorf("%w (pair again with palyra pair %s --kind node)", err, join)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&join, "join", "", "the daemon's UDP address (host:port)")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write the logs on standard error as JSON lines")
	return cmd
}
