package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/internal/daemon"
)

func (c *cli) daemonCommand() *cobra.Command {
	var (
		listen     string
		names      []string
		checkEvery time.Duration
		logJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Serve this state dir's skills to paired devices over QUIC mTLS",
		Long: `Daemon serves the state dir's skills to paired devices: skill calls and the
read-only list and info, over QUIC with mutual TLS (ALPN palyra-quic-v1).
Every client presents a certificate from this state dir's internal CA, and
its device must not be revoked (checked on every handshake). Devices pair
on the same address (palyra pairing code here, palyra pair ADDR there).

It needs the identity (palyra identity init). It re-audits the installed
skills every --check-every (as palyra skills check does), closes the
connections of a device within a second of its revocation (palyra devices
revoke, from any process), logs every refused connection with its reason
on standard error, and routes calls to joined nodes that hold the same
signed version. SIGTERM or SIGINT stops it gracefully: calls in flight
finish or reach their deadline, then it exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop, h, log, err := c.openService(cmd, "system:daemon", logJSON)
			if err != nil {
				return err
			}
			defer stop()
			defer h.Close()
			if checkEvery == 0 {
				checkEvery = -1 // the flag's 0 means off
			}
			d, err := daemon.New(ctx, daemon.Options{Host: h, Listen: listen, ServerNames: names, Logger: log, CheckEvery: checkEvery})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s (CA fingerprint %s)\n", d.Addr(), d.CAFingerprint())
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", daemon.DefaultListen, "UDP address to listen on")
	cmd.Flags().StringArrayVar(&names, "name", nil, "a DNS name or IP clients dial, added to the daemon's certificate (repeatable)")
	cmd.Flags().DurationVar(&checkEvery, "check-every", daemon.DefaultCheckEvery, "re-audit the installed skills this often (0: never)")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write the logs on standard error as JSON lines")
	return cmd
}
