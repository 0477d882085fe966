package main

import (
	"encoding/json"
	"io"

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
		Short:         "Operate palyra skills: verify, inspect, trust",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.stateDir, "state-dir", "", "state directory (default $"+host.EnvStateDir+", else palyra under the user config dir)")
	root.AddCommand(c.skillsCommand(), c.trustCommand())
	return root
}

// openHost opens the state dir named by --state-dir, $PALYRA_HOME or the default.
func (c *cli) openHost() (*host.Host, error) {
	dir := c.stateDir
	if dir == "" {
		var err error
		if dir, err = host.DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	return host.Open(dir, host.Options{})
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
