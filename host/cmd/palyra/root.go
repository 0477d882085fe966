package main

import (
	"context"
	"encoding/json"
	"io"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
)

// cli holds the global flags shared by every subcommand.
type cli struct {
	stateDir string
}

func newRootCommand() *cobra.Command {
	c := &cli{}
	root := &cobra.Command{
		Use:           "palyra",
		Short:         "Operate palyra skills: verify, install, check, run; trust publishers; store secrets",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.stateDir, "state-dir", "", "state directory (default $"+host.EnvStateDir+", else palyra under the user config dir)")
	root.AddCommand(c.skillsCommand(), c.trustCommand(), c.secretsCommand())
	return root
}

// openHost opens the state dir named by --state-dir, $PALYRA_HOME or the default.
func (c *cli) openHost(ctx context.Context) (*host.Host, error) {
	dir := c.stateDir
	if dir == "" {
		var err error
		if dir, err = host.DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	return host.Open(ctx, dir, host.Options{Principal: operatorPrincipal()})
}

// withHost runs fn on the opened state dir and closes it after.
func (c *cli) withHost(cmd *cobra.Command, fn func(h *host.Host) error) error {
	h, err := c.openHost(cmd.Context())
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

// operatorPrincipal names the person at the CLI in the journal.
func operatorPrincipal() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator:" + u.Username
	}
	return "operator:cli"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
